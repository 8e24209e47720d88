"""Reference solutions for lesson 05."""
import numpy as np


def my_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def my_softmax_ce_backward(logits, labels):
    n = logits.shape[0]
    grad = my_softmax(logits)
    grad[np.arange(n), labels] -= 1
    return grad / n


def my_linear_backward(dout, x, W):
    return dout @ W, dout.T @ x, dout.sum(axis=0)
