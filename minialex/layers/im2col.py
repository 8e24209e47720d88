"""im2col / col2im: turning a convolution into one matrix product.

Every output pixel of a convolution is a dot product between a kernel and the
C*kh*kw input values under it. im2col copies those values into a column, one
column per output pixel, so all of them become a single matrix product:

    x (N, C, H, W)  --im2col-->  cols (N, C*kh*kw, OH*OW)
    out (N, F, OH*OW) = W (F, C*kh*kw) @ cols

col2im is the adjoint (transpose) of im2col: it sends each column's gradient
back to the pixels it was copied from, adding where windows overlap.

Two choices make this fast. The window view is built with ``as_strided`` (no
copy), so one copy of that view into a buffer is the whole of im2col. And the
rows of a column are ordered (group, i, j, c) -- kernel offset before channel
-- so that in col2im the block for one offset (i, j) is contiguous in memory;
that halves col2im's time against the (c, i, j) order. With groups, each
group's channels get a block of rows of their own: a grouped convolution is a
batched matrix product over the group axis.

This module also holds the two helpers every fast path shares: padding, and
cutting a batch into cache-sized chunks.
"""
import numpy as np

from ..backend import get_array_module

# About how many bytes of work one chunk of a batch should touch (see batch_chunks).
CHUNK_BYTES = 4 << 20


def batch_chunks(xp, n, bytes_per_sample):
    """Slices cutting a batch of n samples into chunks of about CHUNK_BYTES.

    On the CPU a layer that makes several passes over a 40 MB array pays for
    main memory on every pass; done a few samples at a time, the passes after
    the first hit the cache, and the big temporaries shrink to a few MB. On the
    GPU the whole batch is one chunk: there, bigger launches are faster.
    """
    step = n if xp is not np else max(1, min(n, CHUNK_BYTES // max(1, bytes_per_sample)))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def pad_hw(x, padding, value=0.0):
    """Pad the last two axes of (N, C, H, W) by ``padding`` = (top, bottom, left, right)."""
    top, bottom, left, right = padding
    if not any(padding):
        return x
    n, c, h, w = x.shape
    xp = get_array_module(x)
    out = xp.full((n, c, h + top + bottom, w + left + right), value, dtype=x.dtype)
    out[:, :, top:top + h, left:left + w] = x
    return out


def windows(xpad, kh, kw, stride, oh, ow, groups):
    """A read-only view (N, groups, kh, kw, C/groups, OH, OW) of every window:
    element [n, g, i, j, c, y, z] is xpad[n, g*C/groups + c, y*stride + i, z*stride + j]."""
    xp = get_array_module(xpad)
    sn, sc, sh, sw = xpad.strides
    n, c = xpad.shape[:2]
    return xp.lib.stride_tricks.as_strided(
        xpad, shape=(n, groups, kh, kw, c // groups, oh, ow),
        strides=(sn, sc * (c // groups), sh, sw, sc, sh * stride, sw * stride))


def im2col(x, kh, kw, stride, padding, oh, ow, groups=1, out=None):
    """(N, C, H, W) -> cols (N, groups, kh*kw*C/groups, OH*OW), rows ordered (i, j, c).

    ``out`` is a buffer to reuse: a fresh 100 MB array would be page-faulted in
    on every call, which costs more than the copy itself.
    """
    n, c = x.shape[:2]
    shape = (n, groups, kh * kw * (c // groups), oh * ow)
    xp = get_array_module(x)
    if out is None or out.shape != shape or out.dtype != x.dtype:
        out = xp.empty(shape, dtype=x.dtype)
    xpad = pad_hw(x, (padding,) * 4)
    out.reshape(n, groups, kh, kw, c // groups, oh, ow)[...] = windows(xpad, kh, kw, stride, oh, ow, groups)
    return out


def col2im(cols, x_shape, kh, kw, stride, padding, oh, ow, groups=1):
    """Adjoint of ``im2col``: cols (N, groups, kh*kw*C/groups, OH*OW) -> dx (N, C, H, W).

    One strided ``+=`` per kernel offset (i, j): kh*kw vectorised adds instead of
    a scatter with ``np.add.at``, which is many times slower.
    """
    n, c, h, w = x_shape
    xp = get_array_module(cols)
    cols = cols.reshape(n, groups, kh, kw, c // groups, oh, ow)
    dxpad = xp.zeros((n, groups, c // groups, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxpad[..., i:i + stride * oh:stride, j:j + stride * ow:stride] += cols[:, :, i, j]
    return dxpad.reshape(n, c, h + 2 * padding, w + 2 * padding)[:, :, padding:padding + h, padding:padding + w]
