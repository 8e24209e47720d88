"""Reference solutions for lesson 06."""


def my_dropout_forward(x, p, u):
    mask = (u >= p) / (1 - p)
    return x * mask


def my_dropout_backward(dout, p, u):
    mask = (u >= p) / (1 - p)
    return dout * mask
