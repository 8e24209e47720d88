"""Checks for lesson 02, convolution."""
import numpy as np

from minialex import functional as F
from minialex.functional.naive import conv2d_backward_naive, conv2d_naive
from minialex.functional.sizes import conv_output_size
from minialex.layers import Conv2d

from . import ExerciseFailed
from .watch import run_watched
from .windows import coverage, expect_gradient, expect_sums_where_windows_overlap

# (x shape, kh, kw, stride, padding): windows that overlap (stride < kernel), that leave gaps
# (stride > kernel), padding to cut off, non-square images and kernels
WINDOW_CASES = [((2, 3, 5, 6), 3, 3, 1, 0), ((1, 2, 7, 7), 3, 3, 2, 1), ((2, 1, 8, 7), 2, 2, 3, 0),
                ((1, 2, 6, 9), 4, 3, 2, 2), ((2, 2, 7, 5), 2, 4, 1, 1)]


def check_conv_output_size(my_conv_output_size):
    """my_conv_output_size(size, kernel, stride, padding) -> the output height (or width)."""
    cases = [(227, 11, 4, 0), (27, 5, 1, 2), (13, 3, 1, 1), (32, 5, 1, 2), (28, 5, 2, 0), (10, 3, 3, 1), (7, 7, 1, 0)]
    for size, kernel, stride, padding in cases:
        got = my_conv_output_size(size, kernel, stride, padding)
        want = conv_output_size(size, kernel, stride, padding)
        if got != want:
            raise ExerciseFailed(f"size={size}, kernel={kernel}, stride={stride}, padding={padding}: "
                                 f"expected {want}, got {got}")


def _case_name(shape, kh, kw, stride, padding):
    return f"x {shape}, kernel {kh}x{kw}, stride {stride}, padding {padding}"


def check_im2col(my_im2col):
    """my_im2col(x, kh, kw, stride=1, padding=0): x (N, C, H, W) -> cols (N, C*kh*kw, OH*OW),
    row c*kh*kw + i*kw + j, column y*OW + z holding the zero-padded x at (y*stride + i, z*stride + j)."""
    rng = np.random.default_rng(3)
    for shape, kh, kw in [((1, 1, 4, 4), 2, 2), ((2, 3, 5, 6), 3, 2), ((1, 2, 3, 3), 3, 3)]:
        x = rng.standard_normal(shape)
        got = run_watched(my_im2col, (x.copy(), kh, kw), "im2col")
        _compare_columns(got, F.im2col(x, kh, kw), _case_name(shape, kh, kw, 1, 0))
    for shape, kh, kw, stride, padding in WINDOW_CASES:
        x = rng.standard_normal(shape)
        try:
            got = run_watched(my_im2col, (x.copy(), kh, kw, stride, padding), "im2col")
        except TypeError as err:
            raise ExerciseFailed(f"im2col(x, kh, kw, stride, padding) should also take a stride and a "
                                 f"padding ({err})") from None
        _compare_columns(got, F.im2col(x, kh, kw, stride, padding),
                         _case_name(shape, kh, kw, stride, padding))


def _compare_columns(got, want, case):
    if not isinstance(got, np.ndarray) or got.shape != want.shape:
        raise ExerciseFailed(f"{case}: expected shape {want.shape}, got {getattr(got, 'shape', type(got).__name__)}")
    if not np.allclose(got, want):
        if np.allclose(np.sort(got, axis=1), np.sort(want, axis=1)):
            raise ExerciseFailed(f"{case}: each column holds the right values in the wrong order: "
                                 "rows go channel first, then kernel row i, then kernel column j")
        raise ExerciseFailed(f"{case}: columns differ from the expected patches")


def check_conv2d(my_conv2d):
    """my_conv2d(x, W, b, stride=1, padding=0, groups=1) -> (N, F, OH, OW), via im2col and one matrix
    product per group; W (F, C/groups, kh, kw)."""
    rng = np.random.default_rng(4)
    # (x shape, W shape, stride, padding, groups); the last, large case must not loop over pixels
    cases = [((2, 3, 6, 6), (4, 3, 3, 3), 1, 0, 1), ((1, 1, 5, 7), (2, 1, 2, 4), 1, 0, 1),
             ((2, 4, 9, 8), (6, 2, 4, 3), 2, 1, 2), ((1, 2, 7, 6), (3, 2, 3, 5), 3, 2, 1),
             ((2, 3, 17, 17), (4, 3, 3, 3), 1, 1, 1)]
    for shape, w_shape, stride, padding, groups in cases:
        case = f"x {shape}, W {w_shape}, stride {stride}, padding {padding}, groups {groups}"
        x, W, b = rng.standard_normal(shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
        layer = Conv2d(shape[1], w_shape[0], w_shape[2:], stride, padding, groups, dtype=np.float64)
        layer.params.update(W=W.copy(), b=b.copy())
        want = layer.forward(x)
        positions = want.shape[2] * want.shape[3] if shape[2] > 10 else None
        try:
            got = run_watched(my_conv2d, (x.copy(), W.copy(), b.copy(), stride, padding, groups), "conv2d", positions)
        except TypeError as err:
            raise ExerciseFailed(f"conv2d(x, W, b, stride, padding, groups) should take a stride, a padding and "
                                 f"groups ({err})") from None
        if not isinstance(got, np.ndarray) or got.shape != want.shape:
            raise ExerciseFailed(f"{case}: expected shape {want.shape}, got {getattr(got, 'shape', type(got).__name__)}")
        if np.allclose(got, want - b.reshape(1, -1, 1, 1)):
            raise ExerciseFailed(f"{case}: the bias is missing")
        if not np.allclose(got, want):
            raise ExerciseFailed(f"{case}: max difference from Conv2d: {np.abs(got - want).max():.3g}")
        if not np.allclose(want, conv2d_naive(x, W, b, stride, padding, groups)):  # the library agrees with the loops
            raise AssertionError("Conv2d and conv2d_naive disagree: a library bug")
    x32 = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    got = my_conv2d(x32, rng.standard_normal((2, 2, 3, 3)).astype(np.float32), np.zeros(2, np.float32))
    if getattr(got, "dtype", None) != np.float32:
        raise ExerciseFailed(f"float32 in should give float32 out (the dtype the network trains in), got "
                             f"{getattr(got, 'dtype', type(got).__name__)}")


def check_col2im(my_col2im):
    """my_col2im(cols, x_shape, kh, kw, stride=1, padding=0) -> (N, C, H, W): every entry of
    cols added into the input pixel it was copied from by im2col, what fell on the padding dropped.
    It is the gradient of im2col: dL/dx for dL/dcols = cols."""
    rng = np.random.default_rng(12)
    for shape, kh, kw, stride, padding in WINDOW_CASES + [((2, 3, 17, 17), 3, 3, 1, 1)]:
        x = rng.standard_normal(shape)
        dcols = rng.standard_normal(F.im2col(x, kh, kw, stride, padding).shape)
        case = _case_name(shape, kh, kw, stride, padding)
        positions = dcols.shape[2] if shape[2] > 10 else None
        got = run_watched(my_col2im, (dcols.copy(), shape, kh, kw, stride, padding), "col2im", positions)
        _expect_unpadded(got, shape, padding, case)
        numeric_hint = _overlap_hint(shape, kh, kw, stride, padding, f"{case}: the result")
        expect_gradient(got, lambda: F.im2col(x, kh, kw, stride, padding), x, dcols,
                        f"{case}: the result", hint=numeric_hint)


def _expect_unpadded(got, shape, padding, what):
    n, c, h, w = shape
    if padding and getattr(got, "shape", None) == (n, c, h + 2 * padding, w + 2 * padding):
        raise ExerciseFailed(f"{what}: that is the padded input's shape; cut the padding off "
                             f"(what reached it belongs to no input): return shape {shape}")


def _overlap_hint(shape, kh, kw, stride, padding, what):
    cover = coverage(shape, kh, kw, stride, padding)
    return lambda got, numeric: expect_sums_where_windows_overlap(got, numeric, cover, what)


def check_conv2d_backward(my_conv2d_backward):
    """my_conv2d_backward(dout, x, W, stride=1, padding=0, groups=1) -> (dx, dW, db): the gradients
    of out = conv(x, W) + b given dL/dout, via the columns (dW) and col2im (dx)."""
    rng = np.random.default_rng(13)
    cases = [((2, 4, 7, 7), (6, 2, 3, 3), 2, 1, 2), ((3, 3, 6, 8), (2, 3, 3, 3), 1, 0, 1),
             ((2, 2, 7, 6), (4, 1, 4, 3), 2, 1, 2), ((1, 3, 6, 9), (2, 3, 3, 5), 1, 2, 1),
             ((2, 2, 9, 9), (4, 1, 4, 4), 3, 2, 2), ((2, 3, 8, 8), (4, 3, 5, 5), 1, 2, 1),
             ((2, 3, 17, 17), (4, 3, 3, 3), 1, 1, 1)]
    for shape, w_shape, stride, padding, groups in cases:
        f, _, kh, kw = w_shape
        case = f"x {shape}, W {w_shape}, stride {stride}, padding {padding}, groups {groups}"
        x, W, b = rng.standard_normal(shape), rng.standard_normal(w_shape), rng.standard_normal(f)
        layer = Conv2d(shape[1], f, (kh, kw), stride, padding, groups, dtype=np.float64)
        layer.params.update(W=W, b=b)
        dout = rng.standard_normal(layer.output_shape(shape))
        positions = dout.shape[2] * dout.shape[3] if shape[2] > 10 else None
        result = run_watched(my_conv2d_backward, (dout.copy(), x.copy(), W.copy(), stride, padding, groups),
                             "conv2d_backward", positions)
        if not isinstance(result, tuple) or len(result) != 3:
            raise ExerciseFailed("return a tuple (dx, dW, db)")
        dx, dW, db = result
        _, dW_first, db_first = conv2d_backward_naive(dout[:1], x[:1], W, stride, padding, groups)
        for got, first, name in [(db, db_first, "db"), (dW, dW_first, "dW")]:
            if shape[0] > 1 and isinstance(got, np.ndarray) and got.shape == first.shape and np.allclose(got, first):
                raise ExerciseFailed(f"{case}: {name} holds the first image's share only; the loss adds up "
                                     "over the batch, so add every image's contribution")
        output = lambda: layer.forward(x)
        expect_gradient(db, output, layer.params["b"], dout, f"{case}: db")
        if getattr(dW, "shape", None) == (f, shape[1], kh, kw) and groups > 1:
            raise ExerciseFailed(f"{case}: with groups={groups} each kernel sees only its group's "
                                 f"{shape[1] // groups} channels, so dW has W's shape {w_shape}")
        expect_gradient(dW, output, layer.params["W"], dout, f"{case}: dW")
        _expect_unpadded(dx, shape, padding, f"{case}: dx")
        expect_gradient(dx, output, x, dout, f"{case}: dx",
                        hint=_overlap_hint(shape, kh, kw, stride, padding, f"{case}: dx"))
