"""2-D convolution with stride, padding and groups (the maths: minialex/functional/conv.py)."""
import numpy as np

from .. import dispatch
from ..functional.sizes import conv_output_size
from .layer import Layer, init_param


class Conv2d(Layer):
    """Convolution (cross-correlation, as every framework computes it).

    Shapes:
        x    (N, C, H, W)             C = in_channels
        W    (F, C/groups, kh, kw)    F = out_channels
        b    (F,)
        out  (N, F, OH, OW)           OH = (H + 2*padding - kh) // stride + 1

    Groups are the paper's two-GPU split (section 3.2): with ``groups=2`` the
    first F/2 kernels see only the first C/2 input channels and the rest only
    the rest. ``functional.conv2d_forward`` is the computation (im2col and one
    matrix product); ``dispatch.choose`` picks a faster one with the same numbers.

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

    def extra_repr(self):
        kh, kw = self.kernel_size
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={kh if kh == kw else (kh, kw)}"
        s += f", stride={self.stride}" if self.stride != 1 else ""
        s += f", padding={self.padding}" if self.padding else ""
        s += f", groups={self.groups}" if self.groups != 1 else ""
        return s + (", bias=False" if "b" not in self.params else "")

    def output_shape(self, input_shape):
        """(N, F, OH, OW) for (N, C, H, W); the channels are not checked (forward does that)."""
        n, _, h, w = input_shape
        kh, kw = self.kernel_size
        if h + 2 * self.padding < kh or w + 2 * self.padding < kw:
            raise ValueError(f"{kh}x{kw} window is larger than its {h}x{w} input")
        return (n, self.out_channels, conv_output_size(h, kh, self.stride, self.padding),
                conv_output_size(w, kw, self.stride, self.padding))

    def flops(self, input_shape, output_shape):
        kh, kw = self.kernel_size
        return 2 * int(np.prod(output_shape[1:])) * (self.in_channels // self.groups) * kh * kw

    def split(self, rank, size):
        """Kernels [rank F/size, (rank+1) F/size): on the whole input for groups=1 (reads_all),
        on this process's own group of it for groups=size (all that they see anyway)."""
        if self.groups not in (1, size):
            raise ValueError(f"{self!r}: a convolution of 1 or {size} groups splits over {size} processes")
        f = self.out_channels // size
        part = Conv2d(self.in_channels // self.groups, f, self.kernel_size, self.stride, self.padding,
                      bias="b" in self.params, dtype=self.params["W"].dtype)
        part.needs_input_grad = self.needs_input_grad
        part.params = {key: value[rank * f:(rank + 1) * f].copy() for key, value in self.params.items()}
        return part, self.groups == 1, {key: 0 for key in self.params}

    def forward(self, x):
        self._check_input(x, 4, "(N, C, H, W)")
        _, c, h, w = x.shape
        (kh, kw), p = self.kernel_size, self.padding
        if c != self.in_channels:
            raise ValueError(f"{self!r}: input has {c} channels, expected {self.in_channels} (shape {tuple(x.shape)})")
        if h + 2 * p < kh or w + 2 * p < kw:
            raise ValueError(f"{self!r}: kernel {kh}x{kw} is larger than the padded input "
                             f"{h + 2 * p}x{w + 2 * p} (input shape {tuple(x.shape)})")
        W, b = self.params["W"], self.params.get("b")
        implementation = dispatch.choose("conv2d", x, W, self.stride, p)
        return self._run(implementation, x, W, b, self.stride, p, self.groups)

    def backward(self, dout):
        """dout (N, F, OH, OW) -> dx (N, C, H, W), or None if ``needs_input_grad`` is False."""
        self.grads.clear()
        dx, self.grads["W"], db = self._run_backward(dout, self.needs_input_grad)
        if "b" in self.params:
            self.grads["b"] = db
        return dx
