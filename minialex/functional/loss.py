"""Softmax cross-entropy: the loss AlexNet minimises (the paper's "1000-way softmax")."""
from ..backend import get_array_module


def log_softmax(logits):
    """log softmax(logits), row by row: (N, K) -> (N, K).

    Numerically stable: subtracting each row's maximum before exp changes
    nothing mathematically (softmax is shift-invariant) and keeps exp() from
    overflowing for large logits."""
    xp = get_array_module(logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    """The class probabilities of logits (N, K): each row positive, summing to 1."""
    return get_array_module(logits).exp(log_softmax(logits))


def softmax_cross_entropy_forward(logits, labels):
    """L = mean over the batch of -log softmax(logits)[label].
    logits (N, K), labels (N,) integers in [0, K) -> (L, cache)."""
    xp = get_array_module(logits)
    log_probs = log_softmax(logits)
    rows = xp.arange(len(labels))
    return -log_probs[rows, labels].mean(), (xp.exp(log_probs), labels)


def softmax_cross_entropy_backward(dloss, cache):
    """-> dL/dlogits (N, K) = (softmax - onehot(labels)) / N, scaled by dloss."""
    probs, labels = cache
    grad = probs.copy()
    grad[get_array_module(probs).arange(len(labels)), labels] -= 1
    return grad * (float(dloss) / len(labels))
