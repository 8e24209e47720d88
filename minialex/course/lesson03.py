"""Checks for lesson 03, ReLU against tanh."""
import numpy as np

from minialex.gradcheck import numerical_gradient, rel_error
from minialex.layers import ReLU, Tanh

from . import ExerciseFailed


def _cases(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 3, 5, 5)) * 3
    x.flat[::7] = 0.0  # exact zeros: the derivative of max(0, x) at 0 is taken to be 0
    dout = rng.standard_normal(x.shape)
    return x, dout


def _compare(got, want, x, name):
    if not isinstance(got, np.ndarray) or got.shape != x.shape:
        raise ExerciseFailed(f"{name} should return an array of the input's shape {x.shape}, "
                             f"got {getattr(got, 'shape', type(got).__name__)}")
    if not np.allclose(got, want, rtol=1e-6, atol=1e-10):
        bad = np.argwhere(~np.isclose(got, want, rtol=1e-6, atol=1e-10))[0]
        hint = " (at x = 0 the derivative of max(0, x) is taken to be 0)" if x[tuple(bad)] == 0 else ""
        raise ExerciseFailed(f"{name}: at input value x = {x[tuple(bad)] + 0.0:.4g} expected "
                             f"{want[tuple(bad)] + 0.0:.4g}, got {got[tuple(bad)] + 0.0:.4g}{hint}")


def _against_layer(layer, seed, my_backward, name, mistake=None):
    """Compare my_backward(dout, x) with the layer's backward on a test case;
    ``mistake(got, x, dout)`` may first raise a targeted hint. -> (x, dout)."""
    x, dout = _cases(seed)
    layer.forward(x)
    want = layer.backward(dout)
    got = my_backward(dout.copy(), x.copy())
    if mistake is not None:
        mistake(got, x, dout)
    _compare(got, want, x, name)
    return x, dout


def _forward(my_fn, want_fn, name):
    """my_fn(x) against want_fn on inputs with exact zeros, in float64 and float32 (the dtype kept)."""
    x, _ = _cases(4)
    for dtype in (np.float64, np.float32):
        got = my_fn(x.astype(dtype))
        _compare(got, want_fn(x.astype(dtype)), x, name)
        if got.dtype != dtype:
            raise ExerciseFailed(f"{name} of a {np.dtype(dtype).name} array should stay {np.dtype(dtype).name}, "
                                 f"got {got.dtype}")


def check_relu(my_relu):
    """my_relu(x) -> max(0, x), any shape, the dtype kept."""
    _forward(my_relu, ReLU().forward, "relu")


def check_tanh(my_tanh):
    """my_tanh(x) -> tanh(x), any shape, the dtype kept."""
    _forward(my_tanh, Tanh().forward, "tanh")


def check_relu_backward(my_relu_backward):
    """my_relu_backward(dout, x) -> dL/dx for out = max(0, x), given dL/dout."""
    x, dout = _against_layer(ReLU(), 5, my_relu_backward, "ReLU backward")
    # and against finite differences, away from the kink at 0
    xs = np.where(np.abs(x) < 1e-3, 0.5, x)
    num = numerical_gradient(lambda: np.maximum(xs, 0), xs, dout=dout)
    if rel_error(my_relu_backward(dout.copy(), xs.copy()), num) > 1e-6:
        raise ExerciseFailed("disagrees with finite differences")


def _used_the_output(got, x, dout):
    if isinstance(got, np.ndarray) and got.shape == x.shape and np.allclose(got, dout * (1 - x ** 2)):
        raise ExerciseFailed("that is 1 - x^2: the derivative is 1 - tanh(x)^2 (x is the input, not the output)")


def check_tanh_backward(my_tanh_backward):
    """my_tanh_backward(dout, x) -> dL/dx for out = tanh(x), given dL/dout and the INPUT x."""
    _against_layer(Tanh(), 6, my_tanh_backward, "tanh backward", _used_the_output)
