"""Plain-loop references: obviously right, hopelessly slow.

These follow the definitions word for word. The tests check the fast layers
against them, and the lessons start from them. NumPy only, (N, C, H, W) layout.
"""
import numpy as np

from .sizes import conv_output_size, pool_output_size


def conv2d_naive(x, W, b, stride=1, padding=0, groups=1):
    """x (N, C, H, W), W (F, C/groups, kh, kw), b (F,) -> (N, F, OH, OW)."""
    n, c, h, w = x.shape
    f, cg, kh, kw = W.shape
    fg = f // groups
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n, f, oh, ow), dtype=x.dtype)
    for ni in range(n):
        for fi in range(f):
            g = fi // fg  # this kernel sees only its group's input channels
            for y in range(oh):
                for z in range(ow):
                    patch = xpad[ni, g * cg:(g + 1) * cg, y * stride:y * stride + kh, z * stride:z * stride + kw]
                    out[ni, fi, y, z] = np.sum(patch * W[fi]) + (b[fi] if b is not None else 0)
    return out


def _pool_windows(x, kernel, stride, padding, ceil_mode):
    """Yield (n, c, y, z, rows, cols): the in-bounds input range of each pooling window."""
    n, c, h, w = x.shape
    oh = pool_output_size(h, kernel, stride, padding, ceil_mode)
    ow = pool_output_size(w, kernel, stride, padding, ceil_mode)
    for ni in range(n):
        for ci in range(c):
            for y in range(oh):
                for z in range(ow):
                    y0, z0 = y * stride - padding, z * stride - padding
                    yield ni, ci, y, z, (max(y0, 0), min(y0 + kernel, h)), (max(z0, 0), min(z0 + kernel, w)), (oh, ow)


def maxpool2d_naive(x, kernel, stride, padding=0, ceil_mode=False):
    """Max over each window; padding never wins. Returns (out, argmax) where
    argmax[n, c, y, z] = (row, col) in x of the first maximum (row-major order)."""
    out = argmax = None
    for ni, ci, y, z, (r0, r1), (c0, c1), (oh, ow) in _pool_windows(x, kernel, stride, padding, ceil_mode):
        if out is None:
            out = np.zeros((x.shape[0], x.shape[1], oh, ow), dtype=x.dtype)
            argmax = np.zeros((x.shape[0], x.shape[1], oh, ow, 2), dtype=np.int64)
        window = x[ni, ci, r0:r1, c0:c1]
        k = int(np.argmax(window))  # first maximum, row-major
        out[ni, ci, y, z] = window.flat[k]
        argmax[ni, ci, y, z] = (r0 + k // window.shape[1], c0 + k % window.shape[1])
    return out, argmax


def maxpool2d_backward_naive(dout, argmax, x_shape):
    """Each window's gradient goes to its (first) maximum; overlapping windows add."""
    dx = np.zeros(x_shape, dtype=dout.dtype)
    n, c, oh, ow = dout.shape
    for ni in range(n):
        for ci in range(c):
            for y in range(oh):
                for z in range(ow):
                    r, q = argmax[ni, ci, y, z]
                    dx[ni, ci, r, q] += dout[ni, ci, y, z]
    return dx


def avgpool2d_naive(x, kernel, stride, padding=0, ceil_mode=False):
    """Mean over each window; zero padding counts in the divisor, the ceil-mode
    overhang past the padding does not (PyTorch's count_include_pad=True)."""
    n, c, h, w = x.shape
    out = None
    for ni, ci, y, z, (r0, r1), (c0, c1), (oh, ow) in _pool_windows(x, kernel, stride, padding, ceil_mode):
        if out is None:
            out = np.zeros((n, c, oh, ow), dtype=x.dtype)
        y0, z0 = y * stride - padding, z * stride - padding
        count = (min(y0 + kernel, h + padding) - y0) * (min(z0 + kernel, w + padding) - z0)
        out[ni, ci, y, z] = x[ni, ci, r0:r1, c0:c1].sum() / count
    return out


def lrn_naive(a, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """The paper's equation (section 3.3), channel by channel, alpha NOT divided by size."""
    n_channels = a.shape[1]
    b = np.empty_like(a)
    for i in range(n_channels):
        lo, hi = max(0, i - size // 2), min(n_channels - 1, i + size // 2)
        b[:, i] = a[:, i] / (k + alpha * np.sum(a[:, lo:hi + 1] ** 2, axis=1)) ** beta
    return b
