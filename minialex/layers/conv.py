"""2-D convolution with stride, padding and groups, as im2col + one matrix product."""
import numpy as np

from ..backend import get_array_module
from .im2col import col2im, im2col
from .layer import Layer, init_param
from .sizes import conv_output_size


class Conv2d(Layer):
    """Convolution (cross-correlation, as every framework computes it).

    Shapes:
        x    (N, C, H, W)             C = in_channels
        W    (F, C/groups, kh, kw)    F = out_channels
        b    (F,)
        out  (N, F, OH, OW)           OH = (H + 2*padding - kh) // stride + 1

    Groups are the paper's two-GPU split (section 3.2): with ``groups=2`` the
    first F/2 kernels see only the first C/2 input channels and the rest only
    the rest. im2col orders the rows of ``cols`` by channel, so each group's
    rows are one contiguous block and the whole convolution is one batched
    matrix product:

        W as (groups, F/g, K/g)  @  cols as (N, groups, K/g, P)  ->  (N, groups, F/g, P)

    with K = C*kh*kw and P = OH*OW; that result is already NCHW.

    ``needs_input_grad = False`` skips dL/dx, which nobody needs for the first
    layer of a network (it saves a col2im, a large share of the step).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1,
                 bias=True, weight_std=0.01, bias_init=0.0, rng=None, dtype=np.float32):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        self.needs_input_grad = True
        self.params["W"] = init_param(rng, (out_channels, in_channels // groups, kh, kw), weight_std, dtype)
        if bias:
            self.params["b"] = np.full(out_channels, bias_init, dtype=dtype)
        self._cols = None

    def extra_repr(self):
        kh, kw = self.kernel_size
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={kh if kh == kw else (kh, kw)}"
        s += f", stride={self.stride}" if self.stride != 1 else ""
        s += f", padding={self.padding}" if self.padding else ""
        s += f", groups={self.groups}" if self.groups != 1 else ""
        return s + (", bias=False" if "b" not in self.params else "")

    def output_shape(self, input_shape):
        n, _, h, w = input_shape
        kh, kw = self.kernel_size
        return (n, self.out_channels, conv_output_size(h, kh, self.stride, self.padding),
                conv_output_size(w, kw, self.stride, self.padding))

    def forward(self, x):
        self._check_input(x, 4, "(N, C, H, W)")
        n, c, h, w = x.shape
        kh, kw = self.kernel_size
        if c != self.in_channels:
            raise ValueError(f"{self!r}: input has {c} channels, expected {self.in_channels} (shape {tuple(x.shape)})")
        if h + 2 * self.padding < kh or w + 2 * self.padding < kw:
            raise ValueError(f"{self!r}: kernel {kh}x{kw} is larger than the padded input "
                             f"{h + 2 * self.padding}x{w + 2 * self.padding} (input shape {tuple(x.shape)})")
        _, f, oh, ow = self.output_shape(x.shape)
        g = self.groups
        self._cols = im2col(x, kh, kw, self.stride, self.padding, oh, ow, out=self._cols)
        self._x_shape = x.shape
        xp = get_array_module(x)
        out = xp.matmul(self.params["W"].reshape(g, f // g, -1), self._cols.reshape(n, g, -1, oh * ow))
        out = out.reshape(n, f, oh, ow)
        if "b" in self.params:
            out += self.params["b"].reshape(1, f, 1, 1)
        return out

    def backward(self, dout):
        """dout (N, F, OH, OW) -> dx (N, C, H, W), or None if ``needs_input_grad`` is False."""
        xp = get_array_module(dout)
        n, f, oh, ow = dout.shape
        g, kh, kw = self.groups, *self.kernel_size
        W = self.params["W"]
        dout_g = dout.reshape(n, g, f // g, oh * ow)
        cols_g = self._cols.reshape(n, g, -1, oh * ow)
        # dL/dW sums every output pixel's contribution, over the batch too.
        self.grads["W"] = xp.matmul(dout_g, cols_g.transpose(0, 1, 3, 2)).sum(axis=0).reshape(W.shape)
        if "b" in self.params:
            self.grads["b"] = dout.sum(axis=(0, 2, 3))
        if not self.needs_input_grad:
            return None
        dcols = xp.matmul(W.reshape(g, f // g, -1).transpose(0, 2, 1), dout_g)
        return col2im(dcols.reshape(n, -1, oh * ow), self._x_shape, kh, kw, self.stride, self.padding, oh, ow)
