"""Lesson 4: max and average pooling (section 3.4: overlapping 3x3 windows with stride 2).

No padding. ``ceil_mode`` keeps a last window that overhangs the bottom or right edge
(cuda-convnet's rounding, used by the Figure 1 network: 32 -> 16 -> 8 -> 4); the overhang
is not part of the window (not a maximum, not in the average's divisor)."""
import math

import numpy as np


def _out_size(size, k, stride, ceil_mode):
    if not ceil_mode:
        return (size - k) // stride + 1
    out = math.ceil((size - k) / stride) + 1
    return out - 1 if (out - 1) * stride >= size else out  # a window must start inside the input


def _windows(x_shape, k, stride, ceil_mode):
    """(OH, OW, the padded height and width, [(i, j, slice)]): the slice picks element (i, j)
    of every window at once from the input padded at the bottom and right."""
    oh, ow = _out_size(x_shape[2], k, stride, ceil_mode), _out_size(x_shape[3], k, stride, ceil_mode)
    hp, wp = max(x_shape[2], (oh - 1) * stride + k), max(x_shape[3], (ow - 1) * stride + k)
    slices = [(i, j, (slice(None), slice(None), slice(i, i + stride * oh, stride), slice(j, j + stride * ow, stride)))
              for i in range(k) for j in range(k)]
    return oh, ow, hp, wp, slices


def _padded(x, hp, wp, value):
    out = np.full(x.shape[:2] + (hp, wp), value, dtype=x.dtype)
    out[:, :, :x.shape[2], :x.shape[3]] = x
    return out


def max_pool(x, size=3, stride=2, ceil_mode=False):
    """Exercise 4.1. x (N, C, H, W) -> (N, C, OH, OW): the maximum of each size x size window."""
    oh, ow, hp, wp, slices = _windows(x.shape, size, stride, ceil_mode)
    xp = _padded(x, hp, wp, -np.inf)
    out = np.full(x.shape[:2] + (oh, ow), -np.inf, dtype=x.dtype)
    for _, _, window in slices:
        out = np.maximum(out, xp[window])
    return out


def max_pool_backward(dout, x, size=3, stride=2, ceil_mode=False):
    """Exercise 4.2. dL/dx: each window's gradient to the input that held its maximum (ties: the first);
    overlapping windows add up."""
    oh, ow, hp, wp, slices = _windows(x.shape, size, stride, ceil_mode)
    xp = _padded(x, hp, wp, -np.inf)
    out = max_pool(x, size, stride, ceil_mode)
    dxp = np.zeros((x.shape[0], x.shape[1], hp, wp), dtype=dout.dtype)
    taken = np.zeros(out.shape, dtype=bool)      # has this window sent its gradient yet? (ties: the first)
    for _, _, window in slices:
        first = (xp[window] == out) & ~taken
        dxp[window] += dout * first              # windows overlap: an input can be the maximum of several
        taken |= first
    return dxp[:, :, :x.shape[2], :x.shape[3]]


def _counts(x_shape, size, stride, ceil_mode, dtype):
    """(OH, OW): how many real input pixels each window holds (fewer where it overhangs)."""
    oh, ow, hp, wp, slices = _windows(x_shape, size, stride, ceil_mode)
    ones = _padded(np.ones((1, 1) + tuple(x_shape[2:]), dtype=dtype), hp, wp, 0)
    return sum(ones[window] for _, _, window in slices)


def avg_pool(x, size=3, stride=2, ceil_mode=False):
    """Exercise 4.3. x (N, C, H, W) -> (N, C, OH, OW): the mean of each window's input pixels."""
    oh, ow, hp, wp, slices = _windows(x.shape, size, stride, ceil_mode)
    xp = _padded(x, hp, wp, 0)
    return sum(xp[window] for _, _, window in slices) / _counts(x.shape, size, stride, ceil_mode, x.dtype)


def avg_pool_backward(dout, x_shape, size=3, stride=2, ceil_mode=False):
    """Exercise 4.4. dL/dx of shape x_shape: each window spreads its gradient evenly over its inputs."""
    oh, ow, hp, wp, slices = _windows(x_shape, size, stride, ceil_mode)
    share = dout / _counts(x_shape, size, stride, ceil_mode, dout.dtype)
    dxp = np.zeros(tuple(x_shape[:2]) + (hp, wp), dtype=dout.dtype)
    for _, _, window in slices:
        dxp[window] += share
    return dxp[:, :, :x_shape[2], :x_shape[3]]
