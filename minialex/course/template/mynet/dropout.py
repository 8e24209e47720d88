"""Lesson 6: inverted dropout (section 4.2)."""
import numpy as np


def dropout(x, p, u):
    """Exercise 6.1. Zero x where u < p; the survivors times 1/(1-p). u: uniform numbers of x's shape."""
    raise NotImplementedError("Exercise 6.1: dropout in mynet/dropout.py")  # your code here


def dropout_backward(dout, p, u):
    """Exercise 6.2. dL/dx for out = dropout(x, p, u)."""
    raise NotImplementedError("Exercise 6.2: dropout_backward in mynet/dropout.py")  # your code here
