"""Lesson 3: the non-linearities of section 3.1, ReLU and tanh."""
import numpy as np


def relu(x):
    """Exercise 3.1. max(0, x), any shape."""
    return np.maximum(x, 0)


def relu_backward(dout, x):
    """Exercise 3.1. dL/dx for out = relu(x), given dL/dout and the input x (the slope at 0 taken as 0)."""
    return dout * (x > 0)


def tanh(x):
    """Exercise 3.2. tanh(x), any shape."""
    return np.tanh(x)


def tanh_backward(dout, x):
    """Exercise 3.2. dL/dx for out = tanh(x), given dL/dout and the INPUT x."""
    return dout * (1 - np.tanh(x) ** 2)
