"""Checks for lesson 04, pooling and local response normalisation."""
import numpy as np

from minialex.layers import LocalResponseNorm, MaxPool2d

from . import ExerciseFailed


def check_maxpool_3x3_s2(my_maxpool):
    """my_maxpool(x) -> the paper's overlapping max-pool: 3x3 windows, stride 2, no padding,
    x (N, C, H, W) -> (N, C, (H - 3) // 2 + 1, (W - 3) // 2 + 1)."""
    rng = np.random.default_rng(7)
    for shape in [(1, 1, 5, 5), (2, 3, 7, 9), (1, 2, 8, 8), (2, 4, 13, 13)]:
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
