"""im2col / col2im: turning a convolution into one matrix product.

Every output pixel of a convolution is a dot product between a kernel and the
C*kh*kw input values under it. im2col copies those values into a column, one
column per output pixel (of every image of the batch), so all of them become a
single matrix product:

    x (N, C, H, W)  --im2col-->  cols (C*kh*kw, N*OH*OW)
    out (F, N*OH*OW) = W (F, C*kh*kw) @ cols

col2im is the adjoint (transpose) of im2col: it sends each column's gradient
back to the pixels it was copied from, adding where windows overlap.

The rest is about memory, which decides the speed:

* The window view is built with ``as_strided`` (no copy), so one copy of that
  view into a buffer is the whole of im2col.
* Rows are ordered (i, j, c), kernel offset before channel, so the rows for
  one offset (i, j) form one block; with groups, each group's rows get a block
  of their own, and a grouped convolution is a batched product over groups.
* Columns are ordered (n, y, z), or, with ``batch_last``, (y, z, n) with
  the input first copied to (C, H, W, N) order. For stride 1 a row of output
  pixels of every image of a chunk is then one contiguous run, in the input
  and in the columns alike, so im2col and col2im move long runs instead of
  rows of a few pixels: col2im gets 2-4x faster on AlexNet's and the Figure-1
  net's small images. The price is transposing the layer's output and
  gradient, so Conv2d asks for it only where a col2im runs at stride 1.

On the GPU, im2col and col2im (image-first order) are one CUDA kernel each
(cuda_kernels.py); the code below is their definition, and runs on the CPU.

This module also holds the padding every fast path shares.
"""
import numpy as np

from ..backend import get_array_module
from . import cuda_kernels


def pad_hw(x, padding, value=0.0, out=None):
    """Pad the last two axes of (N, C, H, W) by ``padding`` = (top, bottom, left, right),
    into ``out`` if given (only the border is filled, then x copied inside)."""
    top, bottom, left, right = padding
    if not any(padding):
        return x
    n, c, h, w = x.shape
    if out is None:
        out = get_array_module(x).empty((n, c, h + top + bottom, w + left + right), dtype=x.dtype)
    out[:, :, :top] = value
    out[:, :, top + h:] = value
    out[:, :, top:top + h, :left] = value
    out[:, :, top:top + h, left + w:] = value
    out[:, :, top:top + h, left:left + w] = x
    return out


def batch_to_last(a, out):
    """out[..., k] = a[k] for every image k: (N, ...) -> (..., N), into ``out``.

    Image by image on the CPU: NumPy copies in the order of the destination,
    so one transposed copy would move N floats at a time (slow for a chunk of
    a few images), while each image's copy moves whole rows."""
    xp = get_array_module(a)
    if xp is not np:
        out[...] = xp.moveaxis(a, 0, -1)
        return out
    for k in range(a.shape[0]):
        out[..., k] = a[k]
    return out


def windows(xt, kh, kw, stride, oh, ow, groups):
    """A read-only view (groups, kh, kw, C/groups, OH, OW, N) of every window of
    a padded input ``xt`` seen as (C, H, W, N), whatever its memory order:
    element [g, i, j, c, y, z, n] is xt[g*C/groups + c, y*stride + i, z*stride + j, n]."""
    xp = get_array_module(xt)
    sc, sh, sw, sn = xt.strides
    c, n = xt.shape[0], xt.shape[3]
    return xp.lib.stride_tricks.as_strided(
        xt, shape=(groups, kh, kw, c // groups, oh, ow, n),
        strides=(sc * (c // groups), sh, sw, sc, sh * stride, sw * stride, sn))


def column_view(cols, kh, kw, c, oh, ow, n, groups, batch_last):
    """cols (groups, kh*kw*C/groups, columns) seen as (groups, kh, kw, C/groups, OH, OW, N)."""
    if batch_last:
        return cols.reshape(groups, kh, kw, c // groups, oh, ow, n)
    return cols.reshape(groups, kh, kw, c // groups, n, oh, ow).transpose(0, 1, 2, 3, 5, 6, 4)


def im2col(x, kh, kw, stride, padding, oh, ow, groups=1, batch_last=False, out=None):
    """(N, C, H, W) -> cols (groups, kh*kw*C/groups, N*OH*OW): rows ordered
    (i, j, c), columns (n, y, z), or (y, z, n) if ``batch_last``.

    ``out`` is a buffer to reuse: a fresh 100 MB array would be page-faulted in
    on every call, which costs more than the copy itself.
    """
    n, c, h, w = x.shape
    p = padding
    shape = (groups, kh * kw * (c // groups), n * oh * ow)
    xp = get_array_module(x)
    if out is None or out.shape != shape or out.dtype != x.dtype:
        out = xp.empty(shape, dtype=x.dtype)
    if not batch_last and cuda_kernels.enabled_for(x):  # on the GPU: one thread per column entry
        return cuda_kernels.im2col(x, kh, kw, stride, padding, oh, ow, groups, out)
    if batch_last:
        xt = xp.zeros((c, h + 2 * p, w + 2 * p, n), dtype=x.dtype)
        batch_to_last(x, xt[:, p:p + h, p:p + w])
    else:
        xt = pad_hw(x, (p,) * 4).transpose(1, 2, 3, 0)  # a view: no copy
    column_view(out, kh, kw, c, oh, ow, n, groups, batch_last)[...] = windows(xt, kh, kw, stride, oh, ow, groups)
    return out


def col2im(cols, x_shape, kh, kw, stride, padding, oh, ow, groups=1, batch_last=False):
    """Adjoint of ``im2col``: cols (groups, kh*kw*C/groups, N*OH*OW) -> dx (N, C, H, W).

    One strided ``+=`` per kernel offset (i, j): kh*kw vectorised adds instead of
    a scatter with ``np.add.at``, which is many times slower.
    """
    if not batch_last and cuda_kernels.enabled_for(cols):  # on the GPU: one thread per pixel, gathering
        return cuda_kernels.col2im(cols, x_shape, kh, kw, stride, padding, oh, ow, groups)
    n, c, h, w = x_shape
    p = padding
    xp = get_array_module(cols)
    cols = column_view(cols, kh, kw, c, oh, ow, n, groups, batch_last)
    # dx padded, as (groups, C/groups, H, W, N) like the columns, in the same memory order.
    shape = (groups, c // groups, h + 2 * p, w + 2 * p)
    if batch_last:
        dxt = xp.zeros((*shape, n), dtype=cols.dtype)
    else:
        dxt = xp.zeros((n, *shape), dtype=cols.dtype).transpose(1, 2, 3, 4, 0)
    for i in range(kh):
        for j in range(kw):
            dxt[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += cols[:, i, j]
    return dxt.reshape(c, h + 2 * p, w + 2 * p, n)[:, p:p + h, p:p + w].transpose(3, 0, 1, 2)
