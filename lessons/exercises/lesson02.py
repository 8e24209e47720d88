"""Checks for lesson 02, convolution."""
import numpy as np

from minialex.layers import Conv2d
from minialex.layers.naive import conv2d_naive
from minialex.layers.sizes import conv_output_size

from . import ExerciseFailed


def check_conv_output_size(my_conv_output_size):
    """my_conv_output_size(size, kernel, stride, padding) -> the output height (or width)."""
    cases = [(227, 11, 4, 0), (27, 5, 1, 2), (13, 3, 1, 1), (32, 5, 1, 2), (28, 5, 2, 0), (10, 3, 3, 1), (7, 7, 1, 0)]
    for size, kernel, stride, padding in cases:
        got = my_conv_output_size(size, kernel, stride, padding)
        want = conv_output_size(size, kernel, stride, padding)
        if got != want:
            raise ExerciseFailed(f"size={size}, kernel={kernel}, stride={stride}, padding={padding}: "
                                 f"expected {want}, got {got}")


def _im2col_cij(x, kh, kw):
    """The expected columns, straight from the definition (a sliding-window view)."""
    n, c, h, w = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))  # (N, C, OH, OW, kh, kw)
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)


def check_im2col(my_im2col):
    """my_im2col(x, kh, kw): stride 1, no padding; x (N, C, H, W) -> cols (N, C*kh*kw, OH*OW),
    row c*kh*kw + i*kw + j, column y*OW + z holding x[n, c, y + i, z + j]."""
    rng = np.random.default_rng(3)
    for shape, kh, kw in [((1, 1, 4, 4), 2, 2), ((2, 3, 5, 6), 3, 2), ((1, 2, 3, 3), 3, 3)]:
        x = rng.standard_normal(shape)
        got = my_im2col(x.copy(), kh, kw)
        want = _im2col_cij(x, kh, kw)
        if not isinstance(got, np.ndarray) or got.shape != want.shape:
            raise ExerciseFailed(f"x {shape}, kernel {kh}x{kw}: expected shape {want.shape}, "
                                 f"got {getattr(got, 'shape', type(got).__name__)}")
        if not np.allclose(got, want):
            if np.allclose(np.sort(got, axis=1), np.sort(want, axis=1)):
                raise ExerciseFailed("each column holds the right values in the wrong order: "
                                     "rows go channel first, then kernel row i, then kernel column j")
            raise ExerciseFailed(f"x {shape}, kernel {kh}x{kw}: columns differ from the expected patches")


def check_conv2d_im2col(my_conv2d):
    """my_conv2d(x, W, b) -> (N, F, OH, OW): stride 1, no padding, via im2col and one matrix product."""
    rng = np.random.default_rng(4)
    for shape, (f, kh, kw) in [((2, 3, 6, 6), (4, 3, 3)), ((1, 1, 5, 7), (2, 2, 4))]:
        x = rng.standard_normal(shape)
        W = rng.standard_normal((f, shape[1], kh, kw))
        b = rng.standard_normal(f)
        layer = Conv2d(shape[1], f, (kh, kw), dtype=np.float64)
        layer.params.update(W=W.copy(), b=b.copy())
        want = layer.forward(x)
        got = my_conv2d(x.copy(), W.copy(), b.copy())
        if not isinstance(got, np.ndarray) or got.shape != want.shape:
            raise ExerciseFailed(f"x {shape}, W {W.shape}: expected shape {want.shape}, "
                                 f"got {getattr(got, 'shape', type(got).__name__)}")
        if np.allclose(got, want - b.reshape(1, -1, 1, 1)):
            raise ExerciseFailed("the bias is missing")
        if not np.allclose(got, want):
            raise ExerciseFailed(f"max difference from Conv2d: {np.abs(got - want).max():.3g}")
        if not np.allclose(want, conv2d_naive(x, W, b)):  # the library agrees with the loop definition
            raise AssertionError("Conv2d and conv2d_naive disagree: a library bug")
