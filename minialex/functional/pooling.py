"""Max and average pooling, with the paper's overlapping windows (section 3.4).

AlexNet pools 3x3 windows with stride 2, so neighbouring windows share a row
or a column: the backward pass must add up the gradients of every window an
input falls in, which is where wrong implementations hide.

No loop over pixels: a loop over the k*k offsets of the window, where offset
(i, j) is one strided slice of the padded input, element (i, j) of every
window at once. Shapes: x (N, C, H, W) -> out (N, C, OH, OW).

The four steps (pad_into, fold_windows, route_maxima, spread_windows) write
into arrays they are given, so that the CPU's fast path (minialex/fast/
pooling.py) can run them on a chunk of the batch at a time, in place.
"""
import numpy as np

from ..backend import get_array_module
from .conv import _window_offsets
from .sizes import pool_output_size


def pool_output_shape(x_shape, kernel_size, stride, padding=0, ceil_mode=False):
    n, c, h, w = x_shape
    return (n, c, pool_output_size(h, kernel_size, stride, padding, ceil_mode),
            pool_output_size(w, kernel_size, stride, padding, ceil_mode))


def padded_shape(x_shape, kernel_size, stride, padding=0, ceil_mode=False):
    """(N, C, Hp, Wp) of the padded input: ``padding`` all round, and with
    ``ceil_mode`` more at the bottom and right where the last window overhangs."""
    n, c, oh, ow = pool_output_shape(x_shape, kernel_size, stride, padding, ceil_mode)
    h, w = x_shape[2:]
    return (n, c, max(h + 2 * padding, (oh - 1) * stride + kernel_size),
            max(w + 2 * padding, (ow - 1) * stride + kernel_size))


def pad_into(x, xpad, padding, value):
    """Write x into xpad (N, C, Hp, Wp), ``padding`` rows and columns from the
    top left, and ``value`` all round it. Returns xpad."""
    h, w = x.shape[2:]
    xpad[:, :, padding:padding + h, padding:padding + w] = x  # (np.pad does the same, several times slower)
    xpad[:, :, :padding], xpad[:, :, padding + h:] = value, value  # the border rows
    xpad[:, :, :, :padding], xpad[:, :, :, padding + w:] = value, value  # and columns
    return xpad


def _padded(x, kernel_size, stride, padding, ceil_mode, value):
    shape = padded_shape(x.shape, kernel_size, stride, padding, ceil_mode)
    if shape == x.shape:
        return x
    return pad_into(x, get_array_module(x).empty(shape, dtype=x.dtype), padding, value)


def unpad(dxpad, x_shape, padding):
    h, w = x_shape[2:]
    return dxpad[:, :, padding:padding + h, padding:padding + w]


def fold_windows(xpad, kernel_size, stride, combine, out):
    """out (N, C, OH, OW) = ``combine`` (maximum, add) over each window of xpad,
    one offset of the window at a time, in place. Returns out."""
    for i, j, rows, cols in _window_offsets(kernel_size, kernel_size, stride, *out.shape[2:]):
        if i == j == 0:
            out[...] = xpad[:, :, rows, cols]
        else:
            combine(out, xpad[:, :, rows, cols], out=out)
    return out


def maxpool2d_forward(x, kernel_size, stride, padding=0, ceil_mode=False):
    """The maximum of each kernel_size x kernel_size window; padding (-inf) never wins.
    -> (out (N, C, OH, OW), cache)."""
    xp = get_array_module(x)
    xpad = _padded(x, kernel_size, stride, padding, ceil_mode, -np.inf)
    out = xp.empty(pool_output_shape(x.shape, kernel_size, stride, padding, ceil_mode), dtype=x.dtype)
    fold_windows(xpad, kernel_size, stride, xp.maximum, out)
    return out, (x.shape, xpad, out, kernel_size, stride, padding)


def route_maxima(dout, xpad, out, kernel_size, stride, dxpad):
    """dxpad (N, C, Hp, Wp) = each window's gradient dout, given to the input
    of xpad that holds its maximum ``out``. Returns dxpad.

    The maxima are found again by comparing each offset's slice with the
    output (the forward pass, also used at test time, stays lean). On ties
    only the first such offset gets it (``left`` is what is not routed yet),
    so no gradient counts twice. Overlapping windows add."""
    dxpad[...] = 0
    left = dout.copy()
    for _, _, rows, cols in _window_offsets(kernel_size, kernel_size, stride, *out.shape[2:]):
        piece = left * (xpad[:, :, rows, cols] == out)
        left -= piece
        dxpad[:, :, rows, cols] += piece
    return dxpad


def maxpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W)."""
    x_shape, xpad, out, k, stride, padding = cache
    dxpad = route_maxima(dout, xpad, out, k, stride, get_array_module(dout).empty(xpad.shape, dtype=dout.dtype))
    return unpad(dxpad, x_shape, padding)


def window_sizes(x_shape, k, stride, padding, oh, ow):
    """(OH, OW): how many values each window averages. Zero padding counts;
    the overhang that ceil_mode adds does not (PyTorch's count_include_pad=True),
    so a partial last window is still a true mean."""
    h, w = x_shape[2:]
    rows = np.minimum(np.arange(oh) * stride + k, h + 2 * padding) - np.arange(oh) * stride
    cols = np.minimum(np.arange(ow) * stride + k, w + 2 * padding) - np.arange(ow) * stride
    return np.outer(rows, cols)


def avgpool2d_forward(x, kernel_size, stride, padding=0, ceil_mode=False):
    """The mean of each window. -> (out (N, C, OH, OW), cache)."""
    xp = get_array_module(x)
    xpad = _padded(x, kernel_size, stride, padding, ceil_mode, 0.0)
    out = xp.empty(pool_output_shape(x.shape, kernel_size, stride, padding, ceil_mode), dtype=x.dtype)
    count = xp.asarray(window_sizes(x.shape, kernel_size, stride, padding, *out.shape[2:]), dtype=x.dtype)
    fold_windows(xpad, kernel_size, stride, xp.add, out)
    out /= count
    return out, (x.shape, xpad.shape, count, kernel_size, stride, padding)


def spread_windows(share, kernel_size, stride, dxpad):
    """dxpad (N, C, Hp, Wp) = the sum of ``share`` (N, C, OH, OW) over the
    windows each input is in. Returns dxpad."""
    dxpad[...] = 0
    for _, _, rows, cols in _window_offsets(kernel_size, kernel_size, stride, *share.shape[2:]):
        dxpad[:, :, rows, cols] += share
    return dxpad


def avgpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W): every input gets 1/count of the
    gradient of each window it is in."""
    x_shape, padded, count, k, stride, padding = cache
    dxpad = spread_windows(dout / count, k, stride, get_array_module(dout).empty(padded, dtype=dout.dtype))
    return unpad(dxpad, x_shape, padding)
