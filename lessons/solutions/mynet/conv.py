"""Lesson 2: convolution as im2col and one matrix product, and its backward pass (section 3.5;
groups: the two-GPU split of section 3.2)."""
import numpy as np


def conv_output_size(size, kernel, stride, padding):
    """Exercise 2.1. The output height (or width) of a convolution."""
    return (size + 2 * padding - kernel) // stride + 1


def _pad(x, padding):
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def im2col(x, kh, kw, stride=1, padding=0):
    """Exercise 2.2. x (N, C, H, W) -> cols (N, C*kh*kw, OH*OW): row c*kh*kw + i*kw + j,
    column y*OW + z holds the zero-padded x at (y*stride + i, z*stride + j)."""
    x = _pad(x, padding)
    n, c, h, w = x.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):  # element (i, j) of every window at once: one strided slice
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return cols.reshape(n, c * kh * kw, oh * ow)


def conv2d(x, W, b, stride=1, padding=0, groups=1):
    """Exercise 2.3. x (N, C, H, W), W (F, C/groups, kh, kw), b (F,) -> (N, F, OH, OW):
    each group's kernels on its own channels, one matrix product a group."""
    n, c, h, w = x.shape
    f, cg, kh, kw = W.shape
    fg = f // groups
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    out = np.empty((n, f, oh * ow), dtype=np.result_type(x, W))
    for g in range(groups):
        cols = im2col(x[:, g * cg:(g + 1) * cg], kh, kw, stride, padding)   # (N, cg*kh*kw, OH*OW)
        out[:, g * fg:(g + 1) * fg] = W[g * fg:(g + 1) * fg].reshape(fg, -1) @ cols
    return out.reshape(n, f, oh, ow) + b.reshape(1, f, 1, 1)


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    """Exercise 2.4. cols (N, C*kh*kw, OH*OW) -> (N, C, H, W): every entry added into the
    pixel im2col copied it from; what fell on the padding dropped. The gradient of im2col."""
    n, c, h, w = x_shape
    hp, wp = h + 2 * padding, w + 2 * padding
    oh, ow = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    blocks = cols.reshape(n, c, kh, kw, oh, ow)
    dx = np.zeros((n, c, hp, wp), dtype=cols.dtype)
    for i in range(kh):  # windows overlap: one input pixel can receive from several offsets, so +=
        for j in range(kw):
            dx[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += blocks[:, :, i, j]
    return dx[:, :, padding:padding + h, padding:padding + w]


def conv2d_backward(dout, x, W, stride=1, padding=0, groups=1):
    """Exercise 2.5. dout (N, F, OH, OW) -> (dx, dW, db) for out = conv2d(x, W, b, stride, padding, groups)."""
    n, c = x.shape[:2]
    f, cg, kh, kw = W.shape
    fg = f // groups
    dout = dout.reshape(n, f, -1)                                 # (N, F, OH*OW)
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for g in range(groups):
        channels, kernels = slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg)
        cols = im2col(x[:, channels], kh, kw, stride, padding)    # (N, cg*kh*kw, OH*OW)
        d = dout[:, kernels]                                      # (N, F/g, OH*OW)
        dW[kernels] = (d @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(fg, cg, kh, kw)
        dcols = W[kernels].reshape(fg, -1).T @ d                  # (N, cg*kh*kw, OH*OW)
        dx[:, channels] = col2im(dcols, (n, cg) + x.shape[2:], kh, kw, stride, padding)
    return dx, dW, dout.sum(axis=(0, 2))
