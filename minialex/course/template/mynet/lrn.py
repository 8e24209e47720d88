"""Lesson 4: local response normalisation across channels (section 3.3), the paper's alpha."""
import numpy as np


def lrn(a, size, alpha, beta, k):
    """Exercise 4.5. a (N, C, H, W) -> b (N, C, H, W), across the C channels:
    b_i = a_i / (k + alpha * sum of a_j^2 over the size channels around i)^beta."""
    raise NotImplementedError("Exercise 4.5: lrn in mynet/lrn.py")  # your code here


def lrn_backward(dout, a, size, alpha, beta, k):
    """Exercise 4.6. dout, a (N, C, H, W) -> dL/da (N, C, H, W):
    the direct term and the term through the neighbours' denominators."""
    raise NotImplementedError("Exercise 4.6: lrn_backward in mynet/lrn.py")  # your code here
