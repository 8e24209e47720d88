"""Reference solutions for lesson 02."""
import numpy as np


def my_conv_output_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


def _pad(x, padding):
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def my_im2col(x, kh, kw, stride=1, padding=0):
    x = _pad(x, padding)
    n, c, h, w = x.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):  # element (i, j) of every window at once: one strided slice
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return cols.reshape(n, c * kh * kw, oh * ow)


def my_conv2d(x, W, b):
    n, c, h, w = x.shape
    f, _, kh, kw = W.shape
    oh, ow = h - kh + 1, w - kw + 1
    cols = my_im2col(x, kh, kw)                 # (N, C*kh*kw, OH*OW)
    out = W.reshape(f, -1) @ cols               # (N, F, OH*OW)
    return out.reshape(n, f, oh, ow) + b.reshape(1, f, 1, 1)


def my_col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    n, c, h, w = x_shape
    hp, wp = h + 2 * padding, w + 2 * padding
    oh, ow = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    blocks = cols.reshape(n, c, kh, kw, oh, ow)
    dx = np.zeros((n, c, hp, wp), dtype=cols.dtype)
    for i in range(kh):  # windows overlap: one input pixel can receive from several offsets, so +=
        for j in range(kw):
            dx[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += blocks[:, :, i, j]
    return dx[:, :, padding:padding + h, padding:padding + w]


def my_conv2d_backward(dout, x, W, stride=1, padding=0, groups=1):
    n, c = x.shape[:2]
    f, cg, kh, kw = W.shape
    fg = f // groups
    dout = dout.reshape(n, f, -1)                                 # (N, F, OH*OW)
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for g in range(groups):
        channels, kernels = slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg)
        cols = my_im2col(x[:, channels], kh, kw, stride, padding)  # (N, cg*kh*kw, OH*OW)
        d = dout[:, kernels]                                       # (N, F/g, OH*OW)
        dW[kernels] = (d @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(fg, cg, kh, kw)
        dcols = W[kernels].reshape(fg, -1).T @ d                   # (N, cg*kh*kw, OH*OW)
        dx[:, channels] = my_col2im(dcols, (n, cg) + x.shape[2:], kh, kw, stride, padding)
    return dx, dW, dout.sum(axis=(0, 2))
