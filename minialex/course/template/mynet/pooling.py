"""Lesson 4: max and average pooling (section 3.4: overlapping 3x3 windows with stride 2).

No padding. ``ceil_mode`` keeps a last window that overhangs the bottom or right edge
(cuda-convnet's rounding, used by the Figure 1 network: 32 -> 16 -> 8 -> 4); the overhang
is not part of the window (not a maximum, not in the average's divisor)."""
import numpy as np


def max_pool(x, size=3, stride=2, ceil_mode=False):
    """Exercise 4.1. x (N, C, H, W) -> (N, C, OH, OW): the maximum of each size x size window."""
    raise NotImplementedError("Exercise 4.1: max_pool in mynet/pooling.py")  # your code here


def max_pool_backward(dout, x, size=3, stride=2, ceil_mode=False):
    """Exercise 4.2. dout (N, C, OH, OW), x (N, C, H, W) -> dL/dx (N, C, H, W):
    each window's gradient to the input that held its maximum (ties: the first);
    overlapping windows add up."""
    raise NotImplementedError("Exercise 4.2: max_pool_backward in mynet/pooling.py")  # your code here


def avg_pool(x, size=3, stride=2, ceil_mode=False):
    """Exercise 4.3. x (N, C, H, W) -> (N, C, OH, OW): the mean of each window's input pixels."""
    raise NotImplementedError("Exercise 4.3: avg_pool in mynet/pooling.py")  # your code here


def avg_pool_backward(dout, x_shape, size=3, stride=2, ceil_mode=False):
    """Exercise 4.4. dout (N, C, OH, OW) -> dL/dx of shape x_shape (N, C, H, W):
    each window spreads its gradient evenly over its inputs."""
    raise NotImplementedError("Exercise 4.4: avg_pool_backward in mynet/pooling.py")  # your code here
