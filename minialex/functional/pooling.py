"""Max and average pooling, with the paper's overlapping windows (section 3.4).

AlexNet pools 3x3 windows with stride 2, so neighbouring windows share a row
or a column: the backward pass must add up the gradients of every window an
input falls in, which is where wrong implementations hide.

No loop over pixels: a loop over the k*k offsets of the window, where offset
(i, j) is one strided slice of the padded input, element (i, j) of every
window at once. Shapes: x (N, C, H, W) -> out (N, C, OH, OW).
"""
import numpy as np

from ..backend import get_array_module
from .conv import _window_offsets
from .sizes import pool_output_size


def pool_output_shape(x_shape, kernel_size, stride, padding=0, ceil_mode=False):
    n, c, h, w = x_shape
    return (n, c, pool_output_size(h, kernel_size, stride, padding, ceil_mode),
            pool_output_size(w, kernel_size, stride, padding, ceil_mode))


def _padded(x, k, stride, padding, ceil_mode, value):
    """-> (x padded with ``value``, OH, OW). With ``ceil_mode`` the last window
    may overhang the padding: the bottom and right grow until it fits."""
    _, _, oh, ow = pool_output_shape(x.shape, k, stride, padding, ceil_mode)
    h, w = x.shape[2:]
    bottom = max(padding, (oh - 1) * stride + k - h - padding)
    right = max(padding, (ow - 1) * stride + k - w - padding)
    if padding == bottom == right == 0:
        return x, oh, ow
    n, c = x.shape[:2]
    xpad = get_array_module(x).empty((n, c, padding + h + bottom, padding + w + right), dtype=x.dtype)
    xpad[:, :, padding:padding + h, padding:padding + w] = x  # (np.pad does the same, several times slower)
    xpad[:, :, :padding], xpad[:, :, padding + h:] = value, value  # the border rows
    xpad[:, :, :, :padding], xpad[:, :, :, padding + w:] = value, value  # and columns
    return xpad, oh, ow


def _unpad(dxpad, x_shape, padding):
    h, w = x_shape[2:]
    return dxpad[:, :, padding:padding + h, padding:padding + w]


def maxpool2d_forward(x, kernel_size, stride, padding=0, ceil_mode=False):
    """The maximum of each kernel_size x kernel_size window; padding (-inf) never wins.
    -> (out (N, C, OH, OW), cache)."""
    xpad, oh, ow = _padded(x, kernel_size, stride, padding, ceil_mode, -np.inf)
    out = None
    for _, _, rows, cols in _window_offsets(kernel_size, kernel_size, stride, oh, ow):
        if out is None:
            out = xpad[:, :, rows, cols].copy()
        else:
            get_array_module(x).maximum(out, xpad[:, :, rows, cols], out=out)
    return out, (x.shape, xpad, out, kernel_size, stride, padding)


def maxpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W).

    Each window's gradient goes to the input that holds its maximum, found
    again by comparing each offset's slice with the output (the forward pass,
    also used at test time, stays lean). On ties only the first such offset
    gets it (``left`` is what is not routed yet), so no gradient counts twice.
    Overlapping windows add."""
    x_shape, xpad, out, k, stride, padding = cache
    dxpad = get_array_module(dout).zeros(xpad.shape, dtype=dout.dtype)
    left = dout.copy()
    for _, _, rows, cols in _window_offsets(k, k, stride, *out.shape[2:]):
        piece = left * (xpad[:, :, rows, cols] == out)
        left -= piece
        dxpad[:, :, rows, cols] += piece
    return _unpad(dxpad, x_shape, padding)


def _window_sizes(x_shape, k, stride, padding, oh, ow):
    """(OH, OW): how many values each window averages. Zero padding counts;
    the overhang that ceil_mode adds does not (PyTorch's count_include_pad=True),
    so a partial last window is still a true mean."""
    h, w = x_shape[2:]
    rows = np.minimum(np.arange(oh) * stride + k, h + 2 * padding) - np.arange(oh) * stride
    cols = np.minimum(np.arange(ow) * stride + k, w + 2 * padding) - np.arange(ow) * stride
    return np.outer(rows, cols)


def avgpool2d_forward(x, kernel_size, stride, padding=0, ceil_mode=False):
    """The mean of each window. -> (out (N, C, OH, OW), cache)."""
    xpad, oh, ow = _padded(x, kernel_size, stride, padding, ceil_mode, 0.0)
    total = get_array_module(x).zeros((*x.shape[:2], oh, ow), dtype=x.dtype)
    for _, _, rows, cols in _window_offsets(kernel_size, kernel_size, stride, oh, ow):
        total += xpad[:, :, rows, cols]
    count = get_array_module(x).asarray(_window_sizes(x.shape, kernel_size, stride, padding, oh, ow), dtype=x.dtype)
    return total / count, (x.shape, xpad.shape, count, kernel_size, stride, padding)


def avgpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W): every input gets 1/count of the
    gradient of each window it is in."""
    x_shape, padded_shape, count, k, stride, padding = cache
    share = dout / count
    dxpad = get_array_module(dout).zeros(padded_shape, dtype=dout.dtype)
    for _, _, rows, cols in _window_offsets(k, k, stride, *dout.shape[2:]):
        dxpad[:, :, rows, cols] += share
    return _unpad(dxpad, x_shape, padding)
