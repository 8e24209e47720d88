"""Convolution as im2col plus one matrix product (paper section 3.5; groups: section 3.2).

These are the definitions the lessons derive (lesson 2): every array in the
layout written on the board, no buffers, no threads. They run on NumPy and on
CuPy alike. The fast paths (minialex/fast) compute the same numbers and are
tested against these.

Every output pixel of a convolution is the dot product of a kernel with the
C*kh*kw input values under it. im2col copies those values into a column, one
per output pixel, so that all the dot products become one matrix product:

    x (N, C, H, W)  --im2col-->  cols (N, C*kh*kw, OH*OW)
    out (N, F, OH*OW) = W.reshape(F, C*kh*kw) @ cols

The rows of ``cols`` are ordered (c, i, j): channel, kernel row, kernel
column, the order of ``W.reshape(F, -1)``, so no kernel needs reordering.
"""
from ..backend import get_array_module
from .sizes import conv_output_size


def _window_offsets(kh, kw, stride, oh, ow):
    """Yield (i, j, rows, cols): the slices of a padded image that hold element
    (i, j) of every window at once (every stride-th value from (i, j) on)."""
    for i in range(kh):
        for j in range(kw):
            yield i, j, slice(i, i + stride * oh, stride), slice(j, j + stride * ow, stride)


def _pad(x, padding):
    if not padding:
        return x
    return get_array_module(x).pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def im2col(x, kh, kw, stride=1, padding=0):
    """x (N, C, H, W) -> cols (N, C*kh*kw, OH*OW): row c*kh*kw + i*kw + j of
    column y*OW + z holds the zero-padded x[c, y*stride + i, z*stride + j].

    A loop over the kh*kw kernel offsets, not over the pixels: for a fixed
    offset (i, j) the values of all windows form one strided slice."""
    n, c, h, w = x.shape
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    xpad = _pad(x, padding)
    cols = get_array_module(x).empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i, j, rows, columns in _window_offsets(kh, kw, stride, oh, ow):
        cols[:, :, i, j] = xpad[:, :, rows, columns]
    return cols.reshape(n, c * kh * kw, oh * ow)


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    """The adjoint of im2col: cols (N, C*kh*kw, OH*OW) -> dx of shape x_shape (N, C, H, W).

    Each column entry goes back to the pixel it was copied from, and the
    copies of one pixel (in every window that holds it) add up; what was
    copied from the padding belongs to no pixel and is cut off."""
    n, c, h, w = x_shape
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    dxpad = get_array_module(cols).zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i, j, rows, columns in _window_offsets(kh, kw, stride, oh, ow):
        dxpad[:, :, rows, columns] += cols[:, :, i, j]
    return dxpad[:, :, padding:padding + h, padding:padding + w]


def conv2d_forward(x, W, b, stride=1, padding=0, groups=1):
    """out = conv(x, W) + b.

    Shapes: x (N, C, H, W), W (F, C/groups, kh, kw), b (F,) or None
    -> out (N, F, OH, OW), OH = (H + 2*padding - kh) // stride + 1; and the
    cache for conv2d_backward.

    With groups, kernel f sees only the channels of its group (the paper's two
    GPUs, section 3.2). Rows are ordered channel first, so group g's rows are
    one block of the columns, and every group is its own matrix product:
    (groups, F/g, K/g) @ (N, groups, K/g, OH*OW), one batched product.
    """
    n, _, h, w = x.shape
    f, cg, kh, kw = W.shape
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    cols = im2col(x, kh, kw, stride, padding).reshape(n, groups, cg * kh * kw, oh * ow)
    out = (W.reshape(groups, f // groups, -1) @ cols).reshape(n, f, oh, ow)
    if b is not None:
        out += b.reshape(1, f, 1, 1)
    return out, (x.shape, cols, W, stride, padding)


def conv2d_backward(dout, cache, needs_input_grad=True):
    """dout (N, F, OH, OW) -> (dx (N, C, H, W), dW (F, C/groups, kh, kw), db (F,)).

    Per image and group, out = W_mat @ cols + b is a fully connected layer
    whose "examples" are the OH*OW windows, so its gradients are the same two
    products, dW = dout @ cols^T (added over the images) and dcols = W^T @ dout,
    and dx = col2im(dcols) adds up the copies of each pixel. dx is None when
    ``needs_input_grad`` is False: nobody needs the gradient of the image, and
    skipping it saves half of the first layer's backward pass.
    """
    x_shape, cols, W, stride, padding = cache
    n, f = dout.shape[:2]
    groups, (_, cg, kh, kw) = cols.shape[1], W.shape
    d = dout.reshape(n, groups, f // groups, -1)
    dW = (d @ cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(W.shape)
    db = dout.sum(axis=(0, 2, 3))
    dx = None
    if needs_input_grad:
        dcols = W.reshape(groups, f // groups, -1).transpose(0, 2, 1) @ d
        dx = col2im(dcols.reshape(n, groups * cg * kh * kw, -1), x_shape, kh, kw, stride, padding)
    return dx, dW, db
