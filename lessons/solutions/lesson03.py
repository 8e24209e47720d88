"""Reference solutions for lesson 03."""
import numpy as np


def my_relu_backward(dout, x):
    return dout * (x > 0)


def my_tanh_backward(dout, x):
    return dout * (1 - np.tanh(x) ** 2)
