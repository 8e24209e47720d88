"""Checks for lesson 05, softmax, cross-entropy, backpropagation and gradient checking."""
import numpy as np

from minialex.gradcheck import numerical_gradient, rel_error
from minialex.layers import Linear, SoftmaxCrossEntropy

from . import ExerciseFailed


def _shape_ok(got, shape, what):
    if not isinstance(got, np.ndarray) or got.shape != tuple(shape):
        raise ExerciseFailed(f"{what} should have shape {tuple(shape)}, got {getattr(got, 'shape', type(got).__name__)}")


def check_softmax(my_softmax):
    """my_softmax(logits) -> probabilities (N, K), each row summing to 1; must survive huge logits."""
    rng = np.random.default_rng(9)
    logits = rng.standard_normal((4, 5)) * 3
    got = my_softmax(logits.copy())
    _shape_ok(got, logits.shape, "softmax(logits)")
    want = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if not np.allclose(got, want):
        if np.allclose(got, np.exp(logits) / np.exp(logits).sum(axis=0, keepdims=True)):
            raise ExerciseFailed("normalised over the wrong axis: each ROW (one example) must sum to 1")
        raise ExerciseFailed(f"max difference from the definition: {np.abs(got - want).max():.3g}")
    huge = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -1001.0]])
    with np.errstate(all="ignore"):
        got = my_softmax(huge.copy())
    if not np.all(np.isfinite(got)):
        raise ExerciseFailed("softmax([[1000, 1001, 999]]) gave inf/nan: subtract each row's maximum before exp")
    want = np.exp(huge - huge.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    if not np.allclose(got, want):
        raise ExerciseFailed("wrong answer for large logits")
    far_apart = np.array([[0.0, 2000.0], [-2000.0, 0.0], [3.0, -1500.0]])  # the shift must bring the LARGEST to 0
    with np.errstate(all="ignore"):
        got = my_softmax(far_apart.copy())
    if not (isinstance(got, np.ndarray) and np.all(np.isfinite(got))
            and np.allclose(got, [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])):
        raise ExerciseFailed("softmax([[0, 2000]]) should be [[0, 1]], got "
                             f"{np.asarray(got)[:1].tolist()}: shifting by the row's mean (or its minimum) still "
                             "leaves exp(1000) to overflow; subtract each row's MAXIMUM, so every exponent is <= 0")


def check_softmax_ce_backward(my_backward):
    """my_backward(logits, labels) -> dL/dlogits (N, K) for L = mean cross-entropy of softmax(logits)."""
    rng = np.random.default_rng(10)
    n, k = 6, 4
    logits = rng.standard_normal((n, k))
    labels = rng.integers(0, k, size=n)
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    want = loss.backward()
    got = my_backward(logits.copy(), labels.copy())
    _shape_ok(got, (n, k), "dL/dlogits")
    if np.allclose(got, want * n):
        raise ExerciseFailed("off by a factor N: the loss is the MEAN over the batch, so divide by N")
    if not np.allclose(got, want, rtol=1e-6, atol=1e-10):
        raise ExerciseFailed(f"max difference from SoftmaxCrossEntropy.backward: {np.abs(got - want).max():.3g}")
    num = numerical_gradient(lambda: loss.forward(logits, labels), logits)
    if rel_error(got, num) > 1e-6:
        raise ExerciseFailed("disagrees with finite differences")


def check_linear_backward(my_linear_backward):
    """my_linear_backward(dout, x, W) -> (dx, dW, db) for out = x @ W.T + b."""
    rng = np.random.default_rng(11)
    x, W = rng.standard_normal((5, 3)), rng.standard_normal((2, 3))
    dout = rng.standard_normal((5, 2))
    layer = Linear(3, 2, dtype=np.float64)
    layer.params.update(W=W.copy(), b=np.zeros(2))
    layer.forward(x)
    want_dx = layer.backward(dout)
    result = my_linear_backward(dout.copy(), x.copy(), W.copy())
    if not isinstance(result, tuple) or len(result) != 3:
        raise ExerciseFailed("return a tuple (dx, dW, db)")
    for got, want, name in zip(result, (want_dx, layer.grads["W"], layer.grads["b"]), ("dx", "dW", "db")):
        _shape_ok(got, want.shape, name)
        if not np.allclose(got, want):
            raise ExerciseFailed(f"{name} differs from Linear.backward by up to {np.abs(got - want).max():.3g}")
