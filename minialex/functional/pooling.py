"""Max and average pooling, with the paper's overlapping windows (section 3.4).

AlexNet pools 3x3 windows with stride 2, so neighbouring windows share a row
or a column: the backward pass must add up the gradients of every window an
input falls in, which is where wrong implementations hide.

No loop over pixels: element (i, j) of every window at once is one strided
slice of the padded input, so the k*k slices, stacked on a last axis, hold
every window, (N, C, OH, OW, k*k). A pool is then a maximum or a mean over
that axis. Shapes: x (N, C, H, W) -> out (N, C, OH, OW).

The CPU's fast path (minialex/fast/pooling.py) gives the same numbers without
the stacked copy, a chunk of the batch at a time.
"""
import numpy as np

from ..backend import get_array_module
from .conv import _window_offsets
from .sizes import pool_output_size


def pool_output_shape(x_shape, kernel_size, stride, padding=0, ceil_mode=False):
    n, c, h, w = x_shape
    return (n, c, pool_output_size(h, kernel_size, stride, padding, ceil_mode),
            pool_output_size(w, kernel_size, stride, padding, ceil_mode))


def _padded(x, kernel_size, stride, padding, ceil_mode, value):
    """x (N, C, H, W) with ``padding`` rows and columns of ``value`` all round, and
    with ``ceil_mode`` more at the bottom and right where the last window overhangs."""
    n, c, oh, ow = pool_output_shape(x.shape, kernel_size, stride, padding, ceil_mode)
    h, w = x.shape[2:]
    xpad = get_array_module(x).full((n, c, max(h + 2 * padding, (oh - 1) * stride + kernel_size),
                                     max(w + 2 * padding, (ow - 1) * stride + kernel_size)), value, dtype=x.dtype)
    xpad[:, :, padding:padding + h, padding:padding + w] = x
    return xpad


def _windows(xpad, kernel_size, stride, oh, ow):
    """xpad (N, C, Hp, Wp) -> (N, C, OH, OW, k*k): the values of every window, row by row."""
    offsets = _window_offsets(kernel_size, kernel_size, stride, oh, ow)
    return get_array_module(xpad).stack([xpad[:, :, rows, cols] for _, _, rows, cols in offsets], axis=-1)


def _windows_backward(dwindows, x_shape, padded_shape, kernel_size, stride, padding):
    """dwindows (N, C, OH, OW, k*k), the gradient of every window's values -> dx (N, C, H, W).
    An input adds up what it gets from every window it is in; the padding's share is dropped."""
    dxpad = get_array_module(dwindows).zeros(padded_shape, dtype=dwindows.dtype)
    offsets = _window_offsets(kernel_size, kernel_size, stride, *dwindows.shape[2:4])
    for o, (_, _, rows, cols) in enumerate(offsets):
        dxpad[:, :, rows, cols] += dwindows[..., o]
    h, w = x_shape[2:]
    return dxpad[:, :, padding:padding + h, padding:padding + w]


def maxpool2d_forward(x, kernel_size, stride, padding=0, ceil_mode=False):
    """The maximum of each kernel_size x kernel_size window; padding (-inf) never wins.
    x (N, C, H, W) -> (out (N, C, OH, OW), cache)."""
    xpad = _padded(x, kernel_size, stride, padding, ceil_mode, -np.inf)
    oh, ow = pool_output_shape(x.shape, kernel_size, stride, padding, ceil_mode)[2:]
    windows = _windows(xpad, kernel_size, stride, oh, ow)
    winner = windows.argmax(axis=-1)  # which value of its window is the maximum (on ties, the first)
    return windows.max(axis=-1), (x.shape, xpad.shape, winner, kernel_size, stride, padding)


def maxpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W): each window's gradient goes to the
    value that was its maximum, the others get none; overlapping windows add."""
    x_shape, padded_shape, winner, k, stride, padding = cache
    won = get_array_module(dout).arange(k * k) == winner[..., None]  # (N, C, OH, OW, k*k)
    return _windows_backward(won * dout[..., None], x_shape, padded_shape, k, stride, padding)


def window_sizes(x_shape, k, stride, padding, oh, ow):
    """(OH, OW): how many values each window averages. Zero padding counts;
    the overhang that ceil_mode adds does not (PyTorch's count_include_pad=True),
    so a partial last window is still a true mean."""
    h, w = x_shape[2:]
    rows = np.minimum(np.arange(oh) * stride + k, h + 2 * padding) - np.arange(oh) * stride
    cols = np.minimum(np.arange(ow) * stride + k, w + 2 * padding) - np.arange(ow) * stride
    return np.outer(rows, cols)


def avgpool2d_forward(x, kernel_size, stride, padding=0, ceil_mode=False):
    """The mean of each window. x (N, C, H, W) -> (out (N, C, OH, OW), cache)."""
    xpad = _padded(x, kernel_size, stride, padding, ceil_mode, 0.0)
    oh, ow = pool_output_shape(x.shape, kernel_size, stride, padding, ceil_mode)[2:]
    count = get_array_module(x).asarray(window_sizes(x.shape, kernel_size, stride, padding, oh, ow), dtype=x.dtype)
    out = _windows(xpad, kernel_size, stride, oh, ow).sum(axis=-1) / count
    return out, (x.shape, xpad.shape, count, kernel_size, stride, padding)


def avgpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W): every value of a window gets
    1/count of the window's gradient."""
    x_shape, padded_shape, count, k, stride, padding = cache
    share = (dout / count)[..., None]
    dwindows = get_array_module(dout).broadcast_to(share, share.shape[:4] + (k * k,))
    return _windows_backward(dwindows, x_shape, padded_shape, k, stride, padding)
