"""Lesson 2: convolution as im2col and one matrix product, and its backward pass (section 3.5;
groups: the two-GPU split of section 3.2)."""
import numpy as np


def conv_output_size(size, kernel, stride, padding):
    """Exercise 2.1. The output height (or width) of a convolution."""
    raise NotImplementedError("Exercise 2.1: conv_output_size in mynet/conv.py")  # your code here


def im2col(x, kh, kw, stride=1, padding=0):
    """Exercise 2.2. x (N, C, H, W) -> cols (N, C*kh*kw, OH*OW): row c*kh*kw + i*kw + j,
    column y*OW + z holds the zero-padded x at (y*stride + i, z*stride + j)."""
    raise NotImplementedError("Exercise 2.2: im2col in mynet/conv.py")  # your code here


def conv2d(x, W, b, stride=1, padding=0, groups=1):
    """Exercise 2.3. x (N, C, H, W), W (F, C/groups, kh, kw), b (F,) -> (N, F, OH, OW):
    each group's kernels on its own channels, one matrix product a group."""
    raise NotImplementedError("Exercise 2.3: conv2d in mynet/conv.py")  # your code here


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    """Exercise 2.4. cols (N, C*kh*kw, OH*OW) -> (N, C, H, W): every entry added into the
    pixel im2col copied it from; what fell on the padding dropped. The gradient of im2col."""
    raise NotImplementedError("Exercise 2.4: col2im in mynet/conv.py")  # your code here


def conv2d_backward(dout, x, W, stride=1, padding=0, groups=1):
    """Exercise 2.5. dout (N, F, OH, OW) -> (dx, dW, db) for out = conv2d(x, W, b, stride, padding, groups)."""
    raise NotImplementedError("Exercise 2.5: conv2d_backward in mynet/conv.py")  # your code here
