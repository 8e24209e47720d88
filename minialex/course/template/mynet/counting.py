"""Lesson 8: what a convolution costs: its parameters and its floating-point operations."""


def conv_params(in_channels, out_channels, kernel_size, groups):
    """Exercise 8.1. Weights plus biases of a kernel_size x kernel_size convolution with groups."""
    raise NotImplementedError("Exercise 8.1: conv_params in mynet/counting.py")  # your code here


def conv_flops(in_channels, out_channels, kernel_size, groups, out_h, out_w):
    """Exercise 8.2. Forward operations for one image (a multiply-add is 2; biases not counted)."""
    raise NotImplementedError("Exercise 8.2: conv_flops in mynet/counting.py")  # your code here
