"""Lesson 6: inverted dropout (section 4.2)."""
import numpy as np


def _keep(p, u, dtype):
    """1/(1-p) where u >= p, else 0, in ``dtype``."""
    dtype = np.dtype(dtype)
    return (u >= p).astype(dtype) / dtype.type(1 - p)


def dropout(x, p, u):
    """Exercise 6.1. Zero x where u < p; the survivors times 1/(1-p). u: uniform numbers of x's shape."""
    return x * _keep(p, u, x.dtype)


def dropout_backward(dout, p, u):
    """Exercise 6.2. dL/dx for out = dropout(x, p, u)."""
    return dout * _keep(p, u, dout.dtype)
