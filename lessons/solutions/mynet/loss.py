"""Lesson 5: softmax and the cross-entropy loss (section 5: the multinomial logistic regression objective)."""
import numpy as np


def softmax(logits):
    """Exercise 5.1. logits (N, K) -> probabilities (N, K), each row summing to 1, for any logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Exercise 5.2. -> (the mean over the batch of -log softmax(logits)[label], dL/dlogits (N, K))."""
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(n), labels].mean()
    grad = np.exp(log_p)
    grad[np.arange(n), labels] -= 1
    return float(loss), grad / n
