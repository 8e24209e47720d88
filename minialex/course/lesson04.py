"""Checks for lesson 04, pooling and local response normalisation."""
import numpy as np

from minialex.functional.lrn import channel_window_sum
from minialex.functional.naive import lrn_backward_naive
from minialex.layers import AvgPool2d, LocalResponseNorm, MaxPool2d

from . import ExerciseFailed
from .watch import run_watched
from .windows import expect_array, expect_gradient, expect_sums_where_windows_overlap

# (x shape, size, stride, ceil_mode): the paper's 3x3 stride-2 windows overlap on every shared row and
# column; an even size leaves the last row and column in no window, unless ceil mode keeps a last window
# that overhangs (the Figure 1 network's 32 -> 16); 2x2 stride 2 (the --pool plain ablation) does not
# overlap; non-square images
POOL_CASES = [((1, 1, 5, 5), 3, 2, False), ((2, 3, 7, 9), 3, 2, False), ((1, 2, 8, 8), 3, 2, False),
              ((2, 4, 13, 13), 3, 2, False), ((2, 2, 8, 6), 3, 2, True), ((1, 3, 9, 10), 3, 2, True),
              ((2, 2, 6, 7), 2, 2, False), ((1, 2, 7, 5), 2, 2, True)]


def _layer(kind, size, stride, ceil_mode):
    return kind(size, stride, ceil_mode=ceil_mode)


def _case_name(shape, size, stride, ceil_mode):
    return f"x {shape}, {size}x{size} windows, stride {stride}{', ceil mode' if ceil_mode else ''}"


def _call(fn, args, size, stride, ceil_mode, what):
    """fn(*args, size, stride, ceil_mode), watched (a call into minialex refused)."""
    try:
        return run_watched(fn, (*args, size, stride, ceil_mode), what)
    except TypeError as err:
        raise ExerciseFailed(f"{what} should take size, stride and ceil_mode after its arrays ({err})") from None


def check_maxpool(my_max_pool):
    """my_max_pool(x, size=3, stride=2, ceil_mode=False) -> (N, C, OH, OW): the maximum of each window
    (no padding; ceil mode: a last window that overhangs is kept)."""
    rng = np.random.default_rng(7)
    for shape, size, stride, ceil_mode in POOL_CASES:
        case = _case_name(shape, size, stride, ceil_mode)
        x = rng.standard_normal(shape)
        want = _layer(MaxPool2d, size, stride, ceil_mode).forward(x)
        got = _call(my_max_pool, (x.copy(),), size, stride, ceil_mode, "max_pool")
        if not isinstance(got, np.ndarray) or got.shape != want.shape:
            raise ExerciseFailed(f"{case}: expected shape {want.shape}, got {getattr(got, 'shape', type(got).__name__)}")
        if not np.allclose(got, want):
            zero_padded = np.pad(x, ((0, 0), (0, 0), (0, size), (0, size)))
            if ceil_mode and np.allclose(got, MaxPool2d(size, stride).forward(zero_padded)[:, :, :want.shape[2],
                                                                                         :want.shape[3]]):
                raise ExerciseFailed(f"{case}: the overhang of the last windows counts as 0, which the maximum can "
                                     "pick; it is outside the image: pad with -inf (or take the maximum of the "
                                     "pixels inside only)")
            raise ExerciseFailed(f"{case}: max difference from MaxPool2d: {np.abs(got - want).max():.3g}")


def check_lrn_forward(my_lrn):
    """my_lrn(a, size, alpha, beta, k) -> the paper's local response normalisation across channels
    (section 3.3), alpha multiplying the plain sum of squares (not divided by size)."""
    rng = np.random.default_rng(8)
    for shape, (size, alpha, beta, k) in [((2, 7, 3, 3), (5, 1e-4, 0.75, 2.0)),
                                          ((1, 6, 4, 2), (5, 0.1, 0.75, 2.0)),
                                          ((2, 4, 2, 2), (3, 0.5, 0.5, 1.0))]:
        a = rng.standard_normal(shape) * 10
        want = LocalResponseNorm(size, alpha, beta, k).forward(a)
        got = my_lrn(a.copy(), size, alpha, beta, k)
        if not isinstance(got, np.ndarray) or got.shape != want.shape:
            raise ExerciseFailed(f"a {shape}: expected shape {want.shape}, "
                                 f"got {getattr(got, 'shape', type(got).__name__)}")
        if not np.allclose(got, want, rtol=1e-6, atol=1e-9):
            if np.allclose(got, LocalResponseNorm(size, alpha / size, beta, k).forward(a), rtol=1e-6, atol=1e-9):
                raise ExerciseFailed("that divides alpha by size (PyTorch's and Caffe's convention); "
                                     "the paper multiplies the plain sum by alpha")
            raise ExerciseFailed(f"a {shape}, size={size}, alpha={alpha}, beta={beta}, k={k}: "
                                 f"max difference from LocalResponseNorm: {np.abs(got - want).max():.3g}")


def _pool_gradient_cases(seed):
    """(case, x, dout, size, stride, ceil_mode) for each pool case."""
    rng = np.random.default_rng(seed)
    for shape, size, stride, ceil_mode in POOL_CASES:
        x = rng.standard_normal(shape)
        out_shape = _layer(MaxPool2d, size, stride, ceil_mode).output_shape(shape)
        yield _case_name(shape, size, stride, ceil_mode), x, rng.standard_normal(out_shape), size, stride, ceil_mode


def _window_counts(shape, size, stride, ceil_mode):
    """In how many windows each input pixel lies (where overlapping windows must add up)."""
    layer = MaxPool2d(size, stride, ceil_mode=ceil_mode)
    n, c, oh, ow = layer.output_shape(shape)
    counts = np.zeros(shape, dtype=int)
    for y in range(oh):
        for z in range(ow):
            counts[:, :, y * stride:y * stride + size, z * stride:z * stride + size] += 1
    return counts


def check_maxpool_backward(my_max_pool_backward):
    """my_max_pool_backward(dout, x, size=3, stride=2, ceil_mode=False) -> dL/dx: each window's gradient goes
    to the input that held its maximum; overlapping windows add up."""
    for case, x, dout, size, stride, ceil_mode in _pool_gradient_cases(14):
        got = _call(my_max_pool_backward, (dout.copy(), x.copy()), size, stride, ceil_mode, "max_pool_backward")
        cover = _window_counts(x.shape, size, stride, ceil_mode)
        expect_gradient(got, lambda: _layer(MaxPool2d, size, stride, ceil_mode).forward(x), x, dout,
                        f"{case}: dL/dx",
                        hint=lambda g, numeric: expect_sums_where_windows_overlap(g, numeric, cover, "dL/dx"))
    # after a ReLU whole windows are 0: a tie. The window still passes its gradient on once.
    x = np.maximum(np.random.default_rng(15).standard_normal((2, 3, 9, 9)) - 1.0, 0.0)
    dout = np.ones(MaxPool2d(3, 2).output_shape(x.shape))
    got = my_max_pool_backward(dout.copy(), x.copy(), 3, 2, False)
    expect_array(got, x.shape, "dL/dx")
    if not np.isclose(got.sum(), dout.sum()):
        raise ExerciseFailed(f"on a ReLU output (many windows all 0: ties) {int(dout.sum())} windows with "
                             f"gradient 1 passed on {got.sum():g} in all: a window whose maximum is shared "
                             "must send its gradient to ONE of the tied inputs (minialex: the first)")


def check_avgpool(my_avg_pool):
    """my_avg_pool(x, size=3, stride=2, ceil_mode=False) -> the average of each window's input pixels
    (ceil mode: the overhang is not in the divisor)."""
    for case, x, _, size, stride, ceil_mode in _pool_gradient_cases(16):
        want = _layer(AvgPool2d, size, stride, ceil_mode).forward(x)
        got = _call(my_avg_pool, (x.copy(),), size, stride, ceil_mode, "avg_pool")
        expect_array(got, want.shape, f"{case}: the average pool")
        if np.allclose(got, want * size * size) and not ceil_mode:
            raise ExerciseFailed(f"that is each window's sum: divide by the {size * size} values of a window")
        if not np.allclose(got, want):
            hint = ""
            if ceil_mode:
                hint = " (in ceil mode a last window that overhangs averages only the pixels it holds)"
            raise ExerciseFailed(f"{case}: max difference from AvgPool2d: {np.abs(got - want).max():.3g}{hint}")


def check_avgpool_backward(my_avg_pool_backward):
    """my_avg_pool_backward(dout, x_shape, size=3, stride=2, ceil_mode=False) -> dL/dx: each window spreads its
    gradient evenly over its inputs; overlapping windows add up."""
    for case, x, dout, size, stride, ceil_mode in _pool_gradient_cases(17):
        got = _call(my_avg_pool_backward, (dout.copy(), x.shape), size, stride, ceil_mode, "avg_pool_backward")
        cover = _window_counts(x.shape, size, stride, ceil_mode)

        def hint(g, numeric):
            if np.allclose(g, numeric * size * size):
                raise ExerciseFailed(f"{size * size} times too large: the forward pass divided each window's sum "
                                     f"by {size * size}, so each input gets 1/{size * size} of the window's gradient")
            expect_sums_where_windows_overlap(g, numeric, cover, "dL/dx")
        expect_gradient(got, lambda: _layer(AvgPool2d, size, stride, ceil_mode).forward(x), x, dout,
                        f"{case}: dL/dx", hint=hint)


def check_lrn_backward(my_lrn_backward):
    """my_lrn_backward(dout, a, size, alpha, beta, k) -> dL/da for the paper's LRN (alpha not
    divided by size): both the direct term and the term through the neighbours' denominators."""
    rng = np.random.default_rng(18)
    for shape, (size, alpha, beta, k), scale in [((2, 7, 3, 3), (5, 0.1, 0.75, 2.0), 1.0),
                                                 ((1, 6, 4, 2), (5, 1e-4, 0.75, 2.0), 60.0),
                                                 ((2, 4, 2, 2), (3, 0.5, 0.5, 1.0), 1.0)]:
        a = rng.standard_normal(shape) * scale
        dout = rng.standard_normal(shape)
        case = f"a {shape} (values about {scale:g}), size={size}, alpha={alpha}, beta={beta}, k={k}"
        got = run_watched(my_lrn_backward, (dout.copy(), a.copy(), size, alpha, beta, k), "lrn_backward")
        d = k + alpha * channel_window_sum(a ** 2, size)

        def hint(g, numeric):
            if np.allclose(g, dout * d ** -beta):
                raise ExerciseFailed(f"{case}: that is only the direct term dout_i d_i^-beta; a_j also sits in the "
                                     "denominators d_i of its neighbours, which adds "
                                     "-2 alpha beta a_j sum_i dout_i a_i d_i^(-beta-1)")
            if np.allclose(g, lrn_backward_naive(dout, a, size, alpha / size, beta, k)):
                raise ExerciseFailed(f"{case}: that divides alpha by size (PyTorch's convention); the paper's "
                                     "alpha multiplies the plain sum")
        expect_gradient(got, lambda: LocalResponseNorm(size, alpha, beta, k).forward(a), a, dout,
                        f"{case}: dL/da", hint=hint)

