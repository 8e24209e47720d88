"""Checks for lesson 05, softmax, cross-entropy, backpropagation and gradient checking."""
import numpy as np

from minialex.gradcheck import numerical_gradient, rel_error
from minialex.layers import Linear, SoftmaxCrossEntropy

from . import ExerciseFailed


def _shape_ok(got, shape, what):
    if not isinstance(got, np.ndarray) or got.shape != tuple(shape):
        raise ExerciseFailed(f"{what} should have shape {tuple(shape)}, got {getattr(got, 'shape', type(got).__name__)}")


EXTREME = np.array([[0.0, 1000.0, 3.0], [-1000.0, -1002.0, -1001.0], [0.0, 2000.0, -1500.0]])
UNSTABLE = ("exp of a logit near 1000 is larger than the largest float64 (about 1.8e308): it overflows to inf, and inf / inf is "
            "nan. softmax(z) = softmax(z - c) for any c (the factor exp(-c) cancels), so subtract each row's "
            "MAXIMUM first: every exponent is then <= 0, exp stays in [0, 1], and the largest is exactly 1")


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def check_softmax(my_softmax):
    """my_softmax(logits) -> probabilities (N, K), each row summing to 1; must survive logits like [0, 1000, 3]."""
    rng = np.random.default_rng(9)
    logits = rng.standard_normal((4, 5)) * 3
    got = my_softmax(logits.copy())
    _shape_ok(got, logits.shape, "softmax(logits)")
    want = _softmax(logits)
    if not np.allclose(got, want):
        if np.allclose(got, np.exp(logits) / np.exp(logits).sum(axis=0, keepdims=True)):
            raise ExerciseFailed("normalised over the wrong axis: each ROW (one example) must sum to 1")
        raise ExerciseFailed(f"max difference from the definition: {np.abs(got - want).max():.3g}")
    with np.errstate(all="ignore"):
        got = my_softmax(EXTREME.copy())
    _shape_ok(got, EXTREME.shape, "softmax(logits)")
    if not np.all(np.isfinite(got)):
        row = int(np.flatnonzero(~np.isfinite(got).all(axis=1))[0])
        raise ExerciseFailed(f"softmax({EXTREME[row].tolist()}) gave {np.asarray(got)[row].tolist()}: {UNSTABLE}")
    if not np.allclose(got, _softmax(EXTREME), atol=1e-12):
        raise ExerciseFailed(f"softmax([[0, 1000, 3], [0, 2000, -1500]]) should be [[0, 1, 0], [0, 1, 0]], got "
                             f"{np.asarray(got)[[0, 2]].round(6).tolist()}: shifting by the row's mean (or its "
                             f"minimum, or a constant) still leaves an exponent far above 0 for some rows. {UNSTABLE}")


def check_softmax_cross_entropy(my_softmax_cross_entropy):
    """my_softmax_cross_entropy(logits, labels) -> (L, dL/dlogits (N, K)) for L = the mean over the batch of
    -log softmax(logits)[label]; finite for logits like [0, 1000, 3]."""
    rng = np.random.default_rng(10)
    n, k = 6, 4
    logits = rng.standard_normal((n, k))
    labels = rng.integers(0, k, size=n)
    criterion = SoftmaxCrossEntropy()
    want_loss = criterion.forward(logits, labels)
    want = criterion.backward()
    result = my_softmax_cross_entropy(logits.copy(), labels.copy())
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ExerciseFailed("return a pair (loss, dL/dlogits)")
    loss, got = result
    if np.isclose(loss, want_loss * n):
        raise ExerciseFailed("the loss is the MEAN over the batch, not the sum")
    if not np.isclose(loss, want_loss, rtol=1e-9):
        raise ExerciseFailed(f"the loss is {float(loss):.6f}, the mean cross-entropy is {want_loss:.6f}")
    _shape_ok(got, (n, k), "dL/dlogits")
    if np.allclose(got, want * n):
        raise ExerciseFailed("dL/dlogits is off by a factor N: the loss is the MEAN over the batch, so divide by N")
    num = numerical_gradient(lambda: criterion.forward(logits, labels), logits)
    if rel_error(got, num) > 1e-6:
        raise ExerciseFailed(f"dL/dlogits disagrees with finite differences (relative error {rel_error(got, num):.1e})")
    labels = np.array([0, 1, 2])
    with np.errstate(all="ignore"):
        loss, got = my_softmax_cross_entropy(EXTREME.copy(), labels)
    criterion = SoftmaxCrossEntropy()
    want_loss = criterion.forward(EXTREME, labels)
    if not (np.isfinite(loss) and np.all(np.isfinite(got))):
        raise ExerciseFailed(f"logits [[0, 1000, 3], ...], label 0, gave loss {float(loss)}; the right loss is "
                             "1000, finite. Label 0's probability is about exp(-1000), which rounds to 0 even in "
                             "float64, and log(0) = -inf: never take the log of a probability. With z shifted by its "
                             "row's maximum, log p = (z - max) - log(sum exp(z - max)) is always finite (and an "
                             "unshifted exp(1000) overflows to inf first: inf / inf is nan)")
    if not np.isclose(loss, want_loss, rtol=1e-9) or not np.allclose(got, criterion.backward(), atol=1e-12):
        raise ExerciseFailed(f"logits [[0, 1000, 3], [-1000, -1002, -1001], [0, 2000, -1500]], labels [0, 1, 2]: "
                             f"the loss should be {want_loss:.4f}, got {float(loss):.4f} (a probability that "
                             "rounds to 0 makes log(p) = -inf: compute log p from the shifted logits)")


def check_linear(my_linear):
    """my_linear(x, W, b) -> x @ W.T + b: x (N, in), W (out, in), b (out,)."""
    rng = np.random.default_rng(19)
    x, W, b = rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    layer = Linear(3, 2, dtype=np.float64)
    layer.params.update(W=W.copy(), b=b.copy())
    want = layer.forward(x)
    got = my_linear(x.copy(), W.copy(), b.copy())
    _shape_ok(got, want.shape, "the output")
    if not np.allclose(got, want):
        raise ExerciseFailed(f"differs from Linear by up to {np.abs(got - want).max():.3g}")


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
