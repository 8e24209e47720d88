"""Reference solutions for lesson 04."""
import numpy as np


def _window_slices(oh, ow):
    """(i, j, slices): for each of the 9 offsets of a 3x3 stride-2 window, the strided slice
    that picks element (i, j) of every window at once."""
    for i in range(3):
        for j in range(3):
            yield i, j, (slice(None), slice(None), slice(i, i + 2 * oh, 2), slice(j, j + 2 * ow, 2))


def _pooled_size(shape):
    return (shape[2] - 3) // 2 + 1, (shape[3] - 3) // 2 + 1


def my_maxpool(x):
    oh, ow = _pooled_size(x.shape)
    out = np.full(x.shape[:2] + (oh, ow), -np.inf, dtype=x.dtype)
    for _, _, window in _window_slices(oh, ow):
        out = np.maximum(out, x[window])
    return out


def my_maxpool_backward(dout, x):
    oh, ow = _pooled_size(x.shape)
    out = my_maxpool(x)
    dx = np.zeros_like(x)
    taken = np.zeros(out.shape, dtype=bool)      # has this window sent its gradient yet? (ties: the first)
    for _, _, window in _window_slices(oh, ow):
        first = (x[window] == out) & ~taken
        dx[window] += dout * first               # windows overlap: an input can be the maximum of several
        taken |= first
    return dx


def my_avgpool(x):
    oh, ow = _pooled_size(x.shape)
    return sum(x[window] for _, _, window in _window_slices(oh, ow)) / 9


def my_avgpool_backward(dout, x_shape):
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for _, _, window in _window_slices(*dout.shape[2:]):
        dx[window] += dout / 9
    return dx


def _window_sum(s, size):
    """t[:, i] = sum of s[:, j] over the channels j within size // 2 of i."""
    padded = np.pad(s, ((0, 0), (size // 2, size // 2), (0, 0), (0, 0)))
    return sum(padded[:, j:j + s.shape[1]] for j in range(size))


def my_lrn(a, size, alpha, beta, k):
    return a / (k + alpha * _window_sum(a ** 2, size)) ** beta


def my_lrn_backward(dout, a, size, alpha, beta, k):
    d = k + alpha * _window_sum(a ** 2, size)
    # channel j is in the window of channel i exactly when i is in the window of j: a window sum again
    through_neighbours = _window_sum(dout * a * d ** (-beta - 1), size)
    return dout * d ** -beta - 2 * alpha * beta * a * through_neighbours
