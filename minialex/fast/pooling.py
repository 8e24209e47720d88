"""The CPU's pooling: minialex.functional.pooling's steps, a chunk of the batch at a time, on every core.

The k*k passes over a chunk of a few MB run in cache, where over the whole
batch each would read main memory. Each chunk pads into, folds into and
routes into its slice of arrays allocated once per call: arrays allocated per
chunk would be page-faulted in anew on every call, which costs as much as the
pooling. Same signatures, caches and numbers as the reference.
"""
import numpy as np

from ..functional import pooling as P
from .chunks import batch_chunks, for_each_chunk


def _chunks(padded):
    """Chunks of about two padded samples' bytes each: the input and what is folded into."""
    n, c, hp, wp = padded.shape
    return batch_chunks(np, n, 2 * c * hp * wp * padded.itemsize)


def _fold(x, kernel_size, stride, padding, ceil_mode, pad_value, combine):
    """-> (the padded input, out): ``combine`` over every window, a chunk at a time."""
    shape = P.padded_shape(x.shape, kernel_size, stride, padding, ceil_mode)
    xpad = x if shape == x.shape else np.empty(shape, dtype=x.dtype)
    out = np.empty(P.pool_output_shape(x.shape, kernel_size, stride, padding, ceil_mode), dtype=x.dtype)

    def run(s):
        chunk = x[s] if xpad is x else P.pad_into(x[s], xpad[s], padding, pad_value)
        P.fold_windows(chunk, kernel_size, stride, combine, out[s])

    for_each_chunk(run, _chunks(xpad))
    return xpad, out


def maxpool2d_forward(x, kernel_size, stride, padding=0, ceil_mode=False):
    xpad, out = _fold(x, kernel_size, stride, padding, ceil_mode, -np.inf, np.maximum)
    return out, (x.shape, xpad, out, kernel_size, stride, padding)


def maxpool2d_backward(dout, cache):
    x_shape, xpad, out, k, stride, padding = cache
    dxpad = np.empty(xpad.shape, dtype=dout.dtype)
    for_each_chunk(lambda s: P.route_maxima(dout[s], xpad[s], out[s], k, stride, dxpad[s]), _chunks(dxpad))
    return P.unpad(dxpad, x_shape, padding)


def avgpool2d_forward(x, kernel_size, stride, padding=0, ceil_mode=False):
    xpad, out = _fold(x, kernel_size, stride, padding, ceil_mode, 0.0, np.add)
    count = P.window_sizes(x.shape, kernel_size, stride, padding, *out.shape[2:]).astype(x.dtype)
    out /= count
    return out, (x.shape, xpad.shape, count, kernel_size, stride, padding)


def avgpool2d_backward(dout, cache):
    x_shape, padded, count, k, stride, padding = cache
    dxpad = np.empty(padded, dtype=dout.dtype)
    for_each_chunk(lambda s: P.spread_windows(dout[s] / count, k, stride, dxpad[s]), _chunks(dxpad))
    return P.unpad(dxpad, x_shape, padding)
