"""Checks for lesson 04, pooling and local response normalisation."""
import numpy as np

from minialex.layers import AvgPool2d, LocalResponseNorm, MaxPool2d
from minialex.functional.lrn import channel_window_sum
from minialex.functional.naive import lrn_backward_naive, maxpool2d_backward_naive

from . import ExerciseFailed
from .watch import run_watched
from .windows import coverage, expect_array, expect_gradient, expect_sums_where_windows_overlap

# shapes for the 3x3 stride-2 pools: windows overlap on every shared row and column; an even
# size leaves the last row and column in no window
POOL_SHAPES = [(1, 1, 5, 5), (2, 3, 7, 9), (1, 2, 8, 8), (2, 4, 13, 13)]
REFUSED = {maxpool2d_backward_naive: "maxpool2d_backward_naive (the loop version)",
           MaxPool2d.backward: "MaxPool2d.backward (the library's)", AvgPool2d.backward: "AvgPool2d.backward (the library's)",
           lrn_backward_naive: "lrn_backward_naive (the loop version)",
           LocalResponseNorm.backward: "LocalResponseNorm.backward (the library's)"}


def check_maxpool_3x3_s2(my_maxpool):
    """my_maxpool(x) -> the paper's overlapping max-pool: 3x3 windows, stride 2, no padding,
    x (N, C, H, W) -> (N, C, (H - 3) // 2 + 1, (W - 3) // 2 + 1)."""
    rng = np.random.default_rng(7)
    for shape in POOL_SHAPES:
        x = rng.standard_normal(shape)
        want = MaxPool2d(3, 2).forward(x)
        got = my_maxpool(x.copy())
        if not isinstance(got, np.ndarray) or got.shape != want.shape:
            hint = " (is it 2x2 windows?)" if getattr(got, "shape", None) == (*shape[:2], shape[2] // 2, shape[3] // 2) else ""
            raise ExerciseFailed(f"x {shape}: expected shape {want.shape}, "
                                 f"got {getattr(got, 'shape', type(got).__name__)}{hint}")
        if not np.allclose(got, want):
            raise ExerciseFailed(f"x {shape}: max difference from MaxPool2d(3, 2): {np.abs(got - want).max():.3g}")


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
    """(x, dout, pool output shape) for each pool shape; dout drawn for the 3x3/2 output."""
    rng = np.random.default_rng(seed)
    for shape in POOL_SHAPES:
        x = rng.standard_normal(shape)
        out_shape = MaxPool2d(3, 2).output_shape(shape)
        yield x, rng.standard_normal(out_shape)


def check_maxpool_backward(my_maxpool_backward):
    """my_maxpool_backward(dout, x) -> dL/dx for the 3x3 stride-2 max-pool of x: each window's
    gradient goes to the input that held its maximum; overlapping windows add up."""
    for x, dout in _pool_gradient_cases(14):
        got = run_watched(my_maxpool_backward, (dout.copy(), x.copy()), REFUSED, "my_maxpool_backward")
        cover = coverage(x.shape, 3, 3, 2)
        expect_gradient(got, lambda: MaxPool2d(3, 2).forward(x), x, dout, f"x {x.shape}: dL/dx",
                        hint=lambda g, numeric: expect_sums_where_windows_overlap(g, numeric, cover, "dL/dx"))
    # after a ReLU whole windows are 0: a tie. The window still passes its gradient on once.
    x = np.maximum(np.random.default_rng(15).standard_normal((2, 3, 9, 9)) - 1.0, 0.0)
    dout = np.ones(MaxPool2d(3, 2).output_shape(x.shape))
    got = my_maxpool_backward(dout.copy(), x.copy())
    expect_array(got, x.shape, "dL/dx")
    if not np.isclose(got.sum(), dout.sum()):
        raise ExerciseFailed(f"on a ReLU output (many windows all 0: ties) {int(dout.sum())} windows with "
                             f"gradient 1 passed on {got.sum():g} in all: a window whose maximum is shared "
                             "must send its gradient to ONE of the tied inputs (minialex: the first)")


def check_avgpool(my_avgpool):
    """my_avgpool(x) -> the 3x3 stride-2 average pool of x (N, C, H, W), no padding."""
    for x, _ in _pool_gradient_cases(16):
        want = AvgPool2d(3, 2).forward(x)
        got = my_avgpool(x.copy())
        expect_array(got, want.shape, f"the average pool of x {x.shape}")
        if np.allclose(got, want * 9):
            raise ExerciseFailed("that is each window's sum: divide by the 9 values of a window")
        if not np.allclose(got, want):
            raise ExerciseFailed(f"x {x.shape}: max difference from AvgPool2d(3, 2): {np.abs(got - want).max():.3g}")


def check_avgpool_backward(my_avgpool_backward):
    """my_avgpool_backward(dout, x_shape) -> dL/dx for the 3x3 stride-2 average pool: each window
    spreads its gradient evenly over its 9 inputs; overlapping windows add up."""
    for x, dout in _pool_gradient_cases(17):
        got = run_watched(my_avgpool_backward, (dout.copy(), x.shape), REFUSED, "my_avgpool_backward")
        cover = coverage(x.shape, 3, 3, 2)

        def hint(g, numeric):
            if np.allclose(g, numeric * 9):
                raise ExerciseFailed("9 times too large: the forward pass divided each window's sum by 9, "
                                     "so each input gets 1/9 of the window's gradient")
            expect_sums_where_windows_overlap(g, numeric, cover, "dL/dx")
        expect_gradient(got, lambda: AvgPool2d(3, 2).forward(x), x, dout, f"x {x.shape}: dL/dx", hint=hint)


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
        got = run_watched(my_lrn_backward, (dout.copy(), a.copy(), size, alpha, beta, k), REFUSED, "my_lrn_backward")
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

