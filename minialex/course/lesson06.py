"""Checks for lesson 06, over-fitting and its cures: inverted dropout."""
import numpy as np

from minialex.gradcheck import numerical_gradient, rel_error
from minialex.layers import Dropout

from . import ExerciseFailed


def _case(seed, p, shape=(4, 50)):
    """x, and the uniform numbers a Dropout layer seeded with ``seed`` draws for x."""
    x = np.random.default_rng(100 + seed).standard_normal(shape).astype(np.float32)
    u = np.random.default_rng(seed).random(shape, dtype=np.float32)
    layer = Dropout(p, rng=np.random.default_rng(seed))  # draws exactly u
    return x, u, layer


def _array(got, shape, what):
    if not isinstance(got, np.ndarray) or got.shape != tuple(shape):
        raise ExerciseFailed(f"{what} should be an array of shape {tuple(shape)}, "
                             f"got {getattr(got, 'shape', type(got).__name__)}")


def check_dropout_forward(my_dropout_forward):
    """my_dropout_forward(x, p, u) -> out: zero x where u < p, scale the survivors by 1/(1-p)."""
    for seed, p in [(0, 0.5), (1, 0.2), (2, 0.8)]:
        x, u, layer = _case(seed, p)
        want = layer.forward(x)
        got = my_dropout_forward(x.copy(), p, u.copy())
        _array(got, x.shape, "the output")
        if np.allclose(got, x * (u >= p)):
            raise ExerciseFailed("the survivors must be divided by (1 - p): that keeps the expected output "
                                 "equal to x, so the test-time network needs no rescaling")
        if np.allclose(got, x * (u < p) / (1 - p)):
            raise ExerciseFailed("you kept the units with u < p: those are the ones to DROP (probability p)")
        if not np.allclose(got, want, rtol=1e-5, atol=1e-6):
            raise ExerciseFailed(f"p = {p}: max difference from minialex's Dropout {np.abs(got - want).max():.3g}")
    # no dropping at all when p = 0
    x, u, _ = _case(3, 0.0)
    if not np.allclose(my_dropout_forward(x.copy(), 0.0, u), x):
        raise ExerciseFailed("with p = 0 the output must equal the input")


def check_dropout_backward(my_dropout_backward):
    """my_dropout_backward(dout, p, u) -> dL/dx for out = my_dropout_forward(x, p, u)."""
    for seed, p in [(4, 0.5), (5, 0.3)]:
        x, u, layer = _case(seed, p, (3, 20))
        dout = np.random.default_rng(200 + seed).standard_normal(x.shape).astype(np.float32)
        layer.forward(x)
        want = layer.backward(dout)
        got = my_dropout_backward(dout.copy(), p, u.copy())
        _array(got, x.shape, "dL/dx")
        if np.allclose(got, dout * (u >= p)):
            raise ExerciseFailed("the gradient must be scaled by 1/(1 - p) too: the forward pass multiplied by it")
        if not np.allclose(got, want, rtol=1e-5, atol=1e-6):
            raise ExerciseFailed(f"max difference from minialex's Dropout.backward {np.abs(got - want).max():.3g}")
        # and against finite differences of the forward pass with the same mask
        x64, u64, d64 = x.astype(np.float64), u.astype(np.float64), dout.astype(np.float64)
        keep = (u64 >= p) / (1 - p)
        num = numerical_gradient(lambda: x64 * keep, x64, dout=d64)
        if rel_error(my_dropout_backward(d64.copy(), p, u64.copy()), num) > 1e-6:
            raise ExerciseFailed("disagrees with finite differences")
