"""2-D convolution with stride, padding and groups, as im2col + one matrix product."""
import numpy as np

from ..backend import get_array_module
from .im2col import batch_chunks, col2im, im2col
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
    the rest. im2col gives each group's rows a block of their own, so the
    whole convolution is one batched matrix product:

        W as (groups, F/g, K/g)  @  cols (N, groups, K/g, P)  ->  (N, groups, F/g, P)

    with K = C*kh*kw and P = OH*OW; that result is already NCHW. The rows of
    ``cols`` are ordered (i, j, c) (see im2col.py), so the kernels are laid out
    the same way, (F, kh, kw, C/g), for the product.

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
        self._cols = None  # im2col's buffer, reused from chunk to chunk and step to step

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
        xp = get_array_module(x)
        self._x = x  # backward rebuilds the columns from x: cheaper than keeping them (conv2: 224 MB)
        out = xp.empty((n, f, oh, ow), dtype=x.dtype)
        out_g = out.reshape(n, g, f // g, oh * ow)
        kernels = self._kernel_matrix()
        for s, cols in self._columns(x, oh, ow):
            xp.matmul(kernels, cols, out=out_g[s])
        if "b" in self.params:
            out += self.params["b"].reshape(1, f, 1, 1)
        return out

    def _columns(self, x, oh, ow):
        """Yield (batch slice, im2col of those samples), a few samples at a time,
        all into one reused buffer: the batch's columns are never all in memory."""
        n, c = x.shape[:2]
        kh, kw = self.kernel_size
        xp = get_array_module(x)
        rows = kh * kw * c // self.groups
        for s in batch_chunks(xp, n, rows * self.groups * oh * ow * x.itemsize):
            if self._cols is None or self._cols.shape[0] < s.stop - s.start or self._cols.shape[1:] != (
                    self.groups, rows, oh * ow) or self._cols.dtype != x.dtype:
                self._cols = xp.empty((s.stop - s.start, self.groups, rows, oh * ow), dtype=x.dtype)
            yield s, im2col(x[s], kh, kw, self.stride, self.padding, oh, ow, self.groups,
                            out=self._cols[:s.stop - s.start])

    def _kernel_matrix(self):
        """W (F, C/g, kh, kw) as (g, F/g, kh*kw*C/g), rows in im2col's (i, j, c) order."""
        g = self.groups
        W = self.params["W"]
        return get_array_module(W).ascontiguousarray(W.transpose(0, 2, 3, 1)).reshape(g, W.shape[0] // g, -1)

    def backward(self, dout):
        """dout (N, F, OH, OW) -> dx (N, C, H, W), or None if ``needs_input_grad`` is False."""
        xp = get_array_module(dout)
        n, f, oh, ow = dout.shape
        g, kh, kw = self.groups, *self.kernel_size
        dout_g = dout.reshape(n, g, f // g, oh * ow)
        kernels = self._kernel_matrix()
        dW = xp.zeros(kernels.shape, dtype=dout.dtype)  # (g, F/g, kh*kw*C/g)
        dx = xp.empty(self._x.shape, dtype=dout.dtype) if self.needs_input_grad else None
        for s, cols in self._columns(self._x, oh, ow):
            # dL/dW sums every output pixel's contribution, over the batch too.
            dW += xp.matmul(dout_g[s], cols.transpose(0, 1, 3, 2)).sum(axis=0)
            if dx is not None:
                # The columns are used up: their buffer takes dL/dcols.
                dcols = xp.matmul(kernels.transpose(0, 2, 1), dout_g[s], out=cols)
                dx[s] = col2im(dcols, dx[s].shape, kh, kw, self.stride, self.padding, oh, ow, g)
        self.grads["W"] = dW.reshape(f, kh, kw, -1).transpose(0, 3, 1, 2).copy()
        if "b" in self.params:
            self.grads["b"] = dout.sum(axis=(0, 2, 3))
        return dx
