"""im2col / col2im: turning a convolution into one matrix product.

Every output pixel of a convolution is a dot product between a kernel and the
C*kh*kw input values under it. im2col copies those values into a column, one
column per output pixel, so all of them become a single matrix product:

    x (N, C, H, W)  --im2col-->  cols (N, C*kh*kw, OH*OW)
    out (N, F, OH*OW) = W (F, C*kh*kw) @ cols

col2im is the adjoint (transpose) of im2col: it sends each column's gradient
back to the pixels it was copied from, adding where windows overlap.

The window view is built with ``as_strided`` (no copy): element
``[n, c, i, j, oy, ox]`` of the view is ``xpad[n, c, oy*stride + i, ox*stride + j]``.
One copy of that view into a buffer is the whole of im2col.
"""
from ..backend import get_array_module


def pad_hw(x, padding, value=0.0):
    """Pad the last two axes of (N, C, H, W) by ``padding`` = (top, bottom, left, right)."""
    top, bottom, left, right = padding
    if not any(padding):
        return x
    xp = get_array_module(x)
    return xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def windows(xpad, kh, kw, stride, oh, ow):
    """A read-only view (N, C, kh, kw, OH, OW) of every window of a padded input."""
    xp = get_array_module(xpad)
    sn, sc, sh, sw = xpad.strides
    n, c = xpad.shape[:2]
    return xp.lib.stride_tricks.as_strided(
        xpad, shape=(n, c, kh, kw, oh, ow),
        strides=(sn, sc, sh, sw, sh * stride, sw * stride))


def im2col(x, kh, kw, stride, padding, oh, ow, out=None):
    """(N, C, H, W) -> cols (N, C*kh*kw, OH*OW), rows ordered (c, i, j).

    ``out`` is a buffer to reuse: a fresh 100 MB array would be page-faulted in
    on every call, which costs more than the copy itself.
    """
    xpad = pad_hw(x, (padding,) * 4)
    n, c = x.shape[:2]
    xp = get_array_module(x)
    if out is None or out.shape != (n, c * kh * kw, oh * ow) or out.dtype != x.dtype:
        out = xp.empty((n, c * kh * kw, oh * ow), dtype=x.dtype)
    out.reshape(n, c, kh, kw, oh, ow)[...] = windows(xpad, kh, kw, stride, oh, ow)
    return out


def col2im(cols, x_shape, kh, kw, stride, padding, oh, ow):
    """Adjoint of ``im2col``: cols (N, C*kh*kw, OH*OW) -> dx (N, C, H, W).

    One strided ``+=`` per kernel offset (i, j): kh*kw vectorised adds instead of
    a scatter with ``np.add.at``, which is many times slower.
    """
    n, c, h, w = x_shape
    xp = get_array_module(cols)
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    dxpad = xp.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxpad[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += cols[:, :, i, j]
    return dxpad[:, :, padding:padding + h, padding:padding + w]
