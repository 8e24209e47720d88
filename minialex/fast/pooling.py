"""The CPU's pooling: the windows of minialex.functional.pooling, a chunk of the batch at a time, on every core.

The definition stacks the k*k values of every window into one new array; here
each of the k*k offsets of the window, one strided slice of the padded input,
is combined into the output in place (maximum, add), so nothing bigger than
the output is made. The k*k passes over a chunk of a few MB run in cache,
where over the whole batch each would read main memory. Each chunk pads into,
folds into and routes into its slice of arrays allocated once per call:
arrays allocated per chunk can be handed back to the system and page-faulted
in anew on every call (results/refactor-speed.md measured this for LRN's
backward: 140,000 page faults a call, 196 ms instead of 60.7 ms). Same
signatures and numbers as the definition (the cache is its own: backward
finds the maxima again instead of keeping argmax); the loops to compare both
with: functional/naive.py, maxpool2d_naive and avgpool2d_naive.
"""
import numpy as np

from ..functional.conv import _window_offsets
from ..functional.pooling import pool_output_shape, window_sizes
from .chunks import batch_chunks, for_each_chunk


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


def unpad(dxpad, x_shape, padding):
    """dxpad (N, C, Hp, Wp) -> its (N, C, H, W) part over the unpadded input (a view)."""
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


def spread_windows(share, kernel_size, stride, dxpad):
    """dxpad (N, C, Hp, Wp) = the sum of ``share`` (N, C, OH, OW) over the
    windows each input is in. Returns dxpad."""
    dxpad[...] = 0
    for _, _, rows, cols in _window_offsets(kernel_size, kernel_size, stride, *share.shape[2:]):
        dxpad[:, :, rows, cols] += share
    return dxpad


def _chunks(padded):
    """Chunks of about two padded samples' bytes each: the input and what is folded into."""
    n, c, hp, wp = padded.shape
    return batch_chunks(np, n, 2 * c * hp * wp * padded.itemsize)


def _fold(x, kernel_size, stride, padding, ceil_mode, pad_value, combine):
    """-> (the padded input, out): ``combine`` over every window, a chunk at a time."""
    shape = padded_shape(x.shape, kernel_size, stride, padding, ceil_mode)
    xpad = x if shape == x.shape else np.empty(shape, dtype=x.dtype)
    out = np.empty(pool_output_shape(x.shape, kernel_size, stride, padding, ceil_mode), dtype=x.dtype)

    def run(s):
        chunk = x[s] if xpad is x else pad_into(x[s], xpad[s], padding, pad_value)
        fold_windows(chunk, kernel_size, stride, combine, out[s])

    for_each_chunk(run, _chunks(xpad))
    return xpad, out


def maxpool2d_forward(x, kernel_size, stride, padding=0, ceil_mode=False):
    """The maximum of each window (paper section 3.4), as minialex.functional.pooling.maxpool2d_forward:
    x (N, C, H, W) -> (out (N, C, OH, OW), cache)."""
    xpad, out = _fold(x, kernel_size, stride, padding, ceil_mode, -np.inf, np.maximum)
    return out, (x.shape, xpad, out, kernel_size, stride, padding)


def maxpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W): each window's gradient to its (first) maximum."""
    x_shape, xpad, out, k, stride, padding = cache
    dxpad = np.empty(xpad.shape, dtype=dout.dtype)
    for_each_chunk(lambda s: route_maxima(dout[s], xpad[s], out[s], k, stride, dxpad[s]), _chunks(dxpad))
    return unpad(dxpad, x_shape, padding)


def avgpool2d_forward(x, kernel_size, stride, padding=0, ceil_mode=False):
    """The mean of each window, as minialex.functional.pooling.avgpool2d_forward:
    x (N, C, H, W) -> (out (N, C, OH, OW), cache)."""
    xpad, out = _fold(x, kernel_size, stride, padding, ceil_mode, 0.0, np.add)
    count = window_sizes(x.shape, kernel_size, stride, padding, *out.shape[2:]).astype(x.dtype)
    out /= count
    return out, (x.shape, xpad.shape, count, kernel_size, stride, padding)


def avgpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W): 1/count of each window's gradient to each of its values."""
    x_shape, padded, count, k, stride, padding = cache
    dxpad = np.empty(padded, dtype=dout.dtype)
    for_each_chunk(lambda s: spread_windows(dout[s] / count, k, stride, dxpad[s]), _chunks(dxpad))
    return unpad(dxpad, x_shape, padding)
