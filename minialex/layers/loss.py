"""Softmax cross-entropy: the loss AlexNet minimises (the paper's "1000-way softmax")."""

from ..backend import get_array_module


def log_softmax(logits):
    """log softmax(logits), row by row: (N, K) -> (N, K), on NumPy or CuPy arrays.

    Numerically stable: subtracting each row's maximum before exp changes
    nothing mathematically (softmax is shift-invariant) and keeps exp() from
    overflowing for large logits.
    """
    xp = get_array_module(logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    """The class probabilities of logits (N, K): each row positive, summing to 1."""
    return get_array_module(logits).exp(log_softmax(logits))


class SoftmaxCrossEntropy:
    """L = mean over the batch of -log softmax(logits)[label].

    Shapes: logits (N, K) float, labels (N,) integers in [0, K) -> scalar loss.
    The gradient is famously simple: dL/dlogits = (softmax - onehot(labels)) / N.
    """

    def forward(self, logits, labels):
        xp = get_array_module(logits)
        if getattr(logits, "ndim", None) != 2 or logits.dtype.kind != "f":
            raise ValueError(f"SoftmaxCrossEntropy: logits must be a float (N, K) array, got "
                             f"{getattr(logits, 'dtype', type(logits).__name__)} shape {getattr(logits, 'shape', None)}")
        n, k = logits.shape
        if getattr(labels, "shape", None) != (n,) or labels.dtype.kind not in "iu":
            raise ValueError(f"SoftmaxCrossEntropy: labels must be integers of shape ({n},), got "
                             f"{getattr(labels, 'dtype', type(labels).__name__)} shape {getattr(labels, 'shape', None)}")
        if n and (int(labels.min()) < 0 or int(labels.max()) >= k):
            raise ValueError(f"SoftmaxCrossEntropy: labels must lie in [0, {k}), "
                             f"got values from {int(labels.min())} to {int(labels.max())}")
        log_probs = log_softmax(logits)
        self._probs, self._labels = xp.exp(log_probs), labels  # softmax(logits), without computing it twice
        return -log_probs[xp.arange(n), labels].mean()

    __call__ = forward

    def backward(self, dout=1.0):
        """-> dL/dlogits (N, K); ``dout`` scales it (dL/dloss, 1 by default)."""
        xp = get_array_module(self._probs)
        n = self._probs.shape[0]
        grad = self._probs.copy()
        grad[xp.arange(n), self._labels] -= 1
        return grad * (float(dout) / n)
