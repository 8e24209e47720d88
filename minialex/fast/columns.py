"""The CPU's im2col / col2im: the columns of minialex.functional.conv, laid out for speed.

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
* ``im2col_rows`` (stride 1): the columns repeat themselves. The values under
  kernel row i of output pixel (y, z) are those under kernel row 0 of pixel
  (y + i, z). So it is enough to copy the kw*C values under one kernel row,
  for every row of the padded input, with the image index last, columns
  ordered (y, z, n): the columns of kernel row i are then the columns of
  rows i .. i + OH - 1, one contiguous slice (``row_window``), a view.
  kh * OH / Hp times less copying (4x for a 5x5 kernel, padding 2, on 16x16 images),
  into a buffer small enough to stay in cache; the one product becomes
  kh products, summed.

The columns are those of ``minialex.functional.im2col`` (the lessons'
layout, (N, C*kh*kw, OH*OW), rows (c, i, j)) in another order: the whole
batch's columns side by side, (groups, kh*kw*C/groups, N*OH*OW), rows
(i, j, c). The CUDA kernels (cuda_kernels.py) write this same layout.
"""
import numpy as np

from ..backend import get_array_module


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


def column_view(cols, kh, kw, c, oh, ow, n, groups):
    """cols (groups, kh*kw*C/groups, N*OH*OW) seen as (groups, kh, kw, C/groups, OH, OW, N)."""
    return cols.reshape(groups, kh, kw, c // groups, n, oh, ow).transpose(0, 1, 2, 3, 5, 6, 4)


def im2col(x, kh, kw, stride, padding, oh, ow, groups=1, out=None):
    """(N, C, H, W) -> cols (groups, kh*kw*C/groups, N*OH*OW): rows ordered
    (i, j, c), columns (n, y, z).

    ``out`` is a buffer to reuse: a fresh 100 MB array would be page-faulted in
    on every call, which costs more than the copy itself.
    """
    n, c, h, w = x.shape
    shape = (groups, kh * kw * (c // groups), n * oh * ow)
    xp = get_array_module(x)
    if out is None or out.shape != shape or out.dtype != x.dtype:
        out = xp.empty(shape, dtype=x.dtype)
    xt = x if not padding else xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    xt = xt.transpose(1, 2, 3, 0)  # a view: no copy
    column_view(out, kh, kw, c, oh, ow, n, groups)[...] = windows(xt, kh, kw, stride, oh, ow, groups)
    return out


def col2im(cols, x_shape, kh, kw, stride, padding, oh, ow, groups=1):
    """Adjoint of ``im2col``: cols (groups, kh*kw*C/groups, N*OH*OW) -> dx (N, C, H, W).

    One strided ``+=`` per kernel offset (i, j): kh*kw vectorised adds instead of
    a scatter with ``np.add.at``, which is many times slower.
    """
    n, c, h, w = x_shape
    p = padding
    xp = get_array_module(cols)
    cols = column_view(cols, kh, kw, c, oh, ow, n, groups)
    # dx padded, as (groups, C/groups, H, W, N) like the columns, in the same memory order.
    dxt = xp.zeros((n, groups, c // groups, h + 2 * p, w + 2 * p), dtype=cols.dtype).transpose(1, 2, 3, 4, 0)
    for i in range(kh):
        for j in range(kw):
            dxt[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += cols[:, i, j]
    return dxt.reshape(c, h + 2 * p, w + 2 * p, n)[:, p:p + h, p:p + w].transpose(3, 0, 1, 2)


def im2col_rows(x, kw, padding, ow, groups=1, out=None):
    """Stride 1: (N, C, H, W), padded by ``padding`` = (ph, pw) -> rows
    (groups, kw*C/groups, Hp*OW*N), Hp = H + 2*ph: im2col for a kernel one row
    high over every padded row, rows ordered (j, c), columns (y, z, n)."""
    n, c, h, w = x.shape
    ph, pw = padding
    xp = get_array_module(x)
    shape = (groups, kw * (c // groups), (h + 2 * ph) * ow * n)
    if out is None or out.shape != shape or out.dtype != x.dtype:
        out = xp.empty(shape, dtype=x.dtype)
    xt = xp.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=x.dtype)  # the image index last
    batch_to_last(x, xt[:, ph:ph + h, pw:pw + w])
    out.reshape(groups, 1, kw, c // groups, h + 2 * ph, ow, n)[...] = windows(xt, 1, kw, 1, h + 2 * ph, ow, groups)
    return out


def row_window(rows, i, oh, ow, n):
    """The columns of kernel row i, (groups, kw*C/groups, OH*OW*N), a view of ``rows``."""
    return rows[:, :, i * ow * n:(i + oh) * ow * n]
