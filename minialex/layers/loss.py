"""Softmax cross-entropy, the loss AlexNet minimises (the maths: minialex/functional/loss.py)."""
from ..functional.loss import softmax_cross_entropy_backward, softmax_cross_entropy_forward


class SoftmaxCrossEntropy:
    """L = mean over the batch of -log softmax(logits)[label].

    Shapes: logits (N, K) float, labels (N,) integers in [0, K) -> scalar loss.
    The gradient is famously simple: dL/dlogits = (softmax - onehot(labels)) / N.
    """

    def forward(self, logits, labels):
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
        loss, self._cache = softmax_cross_entropy_forward(logits, labels)
        return loss

    __call__ = forward

    def backward(self, dout=1.0):
        """-> dL/dlogits (N, K); ``dout`` scales it (dL/dloss, 1 by default)."""
        return softmax_cross_entropy_backward(dout, self._cache)
