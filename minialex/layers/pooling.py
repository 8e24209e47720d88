"""Max and average pooling, with the paper's overlapping windows (section 3.4;
the maths: minialex/functional/pooling.py)."""
import numpy as np

from .. import dispatch
from ..functional.pooling import pool_output_shape
from .layer import Layer


class _Pool2d(Layer):
    """Shapes: x (N, C, H, W) -> out (N, C, OH, OW). ``ceil_mode`` keeps a last
    partial window, as cuda-convnet (the authors' code) does."""

    operation = None  # the name dispatch.choose knows it by

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        if padding > kernel_size // 2:
            raise ValueError(f"{self!r}: padding={padding} must be at most kernel_size // 2, "
                             "or some windows would hold padding only")

    def extra_repr(self):
        s = f"kernel_size={self.kernel_size}, stride={self.stride}"
        s += f", padding={self.padding}" if self.padding else ""
        return s + (", ceil_mode=True" if self.ceil_mode else "")

    def output_shape(self, input_shape):
        h, w = input_shape[2:]
        k = self.kernel_size
        if h + 2 * self.padding < k or w + 2 * self.padding < k:
            raise ValueError(f"{k}x{k} window is larger than its {h}x{w} input")
        return pool_output_shape(input_shape, self.kernel_size, self.stride, self.padding, self.ceil_mode)

    def flops(self, input_shape, output_shape):
        """A k*k window per output."""
        return int(np.prod(output_shape[1:])) * self.kernel_size ** 2

    def forward(self, x):
        self._check_input(x, 4, "(N, C, H, W)")
        h, w = x.shape[2:]
        k, p = self.kernel_size, self.padding
        if h + 2 * p < k or w + 2 * p < k:
            raise ValueError(f"{self!r}: window {k}x{k} is larger than the padded input "
                             f"{h + 2 * p}x{w + 2 * p} (input shape {tuple(x.shape)})")
        return self._run(dispatch.choose(self.operation, x), x, k, self.stride, p, self.ceil_mode)

    def backward(self, dout):
        """dout (N, C, OH, OW) -> dx (N, C, H, W)."""
        return self._run_backward(dout)


class MaxPool2d(_Pool2d):
    """The maximum of each kernel_size x kernel_size window. Backward: each
    window's gradient goes to the input that held its maximum (the first, on
    ties); overlapping windows add."""

    operation = "maxpool2d"


class AvgPool2d(_Pool2d):
    """The mean of each window. Zero padding counts in the divisor; the
    overhang that ``ceil_mode`` adds does not (PyTorch's count_include_pad=True)."""

    operation = "avgpool2d"
