"""Lesson 4: local response normalisation across channels (section 3.3), the paper's alpha."""
import numpy as np


def _window_sum(s, size):
    """t[:, i] = sum of s[:, j] over the channels j within size // 2 of i."""
    padded = np.pad(s, ((0, 0), (size // 2, size // 2), (0, 0), (0, 0)))
    return sum(padded[:, j:j + s.shape[1]] for j in range(size))


def lrn(a, size, alpha, beta, k):
    """Exercise 4.5. b_i = a_i / (k + alpha * sum of a_j^2 over the size channels around i)^beta."""
    return a / (k + alpha * _window_sum(a ** 2, size)) ** beta


def lrn_backward(dout, a, size, alpha, beta, k):
    """Exercise 4.6. dL/da: the direct term and the term through the neighbours' denominators."""
    d = k + alpha * _window_sum(a ** 2, size)
    # channel j is in the window of channel i exactly when i is in the window of j: a window sum again
    through_neighbours = _window_sum(dout * a * d ** (-beta - 1), size)
    return dout * d ** -beta - 2 * alpha * beta * a * through_neighbours
