"""Plain-loop references: obviously right, hopelessly slow.

These follow the definitions word for word. The tests check the fast layers
against them, and the lessons start from them. NumPy only, (N, C, H, W) layout.
"""
import numpy as np

from .sizes import conv_output_size, pool_output_size


def _conv_output_shape(x_shape, W_shape, stride, padding):
    (n, _, h, w), (f, _, kh, kw) = x_shape, W_shape
    return n, f, conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)


def _conv_windows(x_shape, W_shape, stride, padding, groups):
    """Yield (n, f, y, z, window) for every output pixel out[n, f, y, z]: ``window``
    indexes the (C/groups, kh, kw) block of the padded input that it sees."""
    n, f, oh, ow = _conv_output_shape(x_shape, W_shape, stride, padding)
    cg, kh, kw = W_shape[1:]
    for ni in range(n):
        for fi in range(f):
            g = fi // (f // groups)  # this kernel sees only its group's input channels
            for y in range(oh):
                for z in range(ow):
                    yield ni, fi, y, z, (ni, slice(g * cg, (g + 1) * cg), slice(y * stride, y * stride + kh),
                                         slice(z * stride, z * stride + kw))


def _pad(x, padding):
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def conv2d_naive(x, W, b, stride=1, padding=0, groups=1):
    """x (N, C, H, W), W (F, C/groups, kh, kw), b (F,) -> (N, F, OH, OW)."""
    xpad = _pad(x, padding)
    out = np.zeros(_conv_output_shape(x.shape, W.shape, stride, padding), dtype=x.dtype)
    for ni, fi, y, z, window in _conv_windows(x.shape, W.shape, stride, padding, groups):
        out[ni, fi, y, z] = np.sum(xpad[window] * W[fi]) + (b[fi] if b is not None else 0)
    return out


def conv2d_backward_naive(dout, x, W, stride=1, padding=0, groups=1):
    """The gradients of conv2d_naive, given dout = dL/dout (N, F, OH, OW):
    x (N, C, H, W), W (F, C/groups, kh, kw) -> dx (N, C, H, W), dW like W, db (F,).

    Each output pixel is out = sum(window * W[f]) + b[f], so its dout flows back
    along each product: dout * W[f] to the window's inputs, dout * window to W[f],
    dout to b[f]. The shares add up: an input in several windows (stride < kernel)
    gets one from each, and every image and output pixel adds to dW and db."""
    xpad = _pad(x, padding)
    dxpad, dW, db = np.zeros_like(xpad), np.zeros_like(W), np.zeros(W.shape[0], dtype=dout.dtype)
    for ni, fi, y, z, window in _conv_windows(x.shape, W.shape, stride, padding, groups):
        dxpad[window] += dout[ni, fi, y, z] * W[fi]
        dW[fi] += dout[ni, fi, y, z] * xpad[window]
        db[fi] += dout[ni, fi, y, z]
    h, w = x.shape[2:]
    # What reached the zero padding belongs to no input: cut it off.
    return dxpad[:, :, padding:padding + h, padding:padding + w], dW, db


def _pool_windows(x, kernel, stride, padding, ceil_mode):
    """Yield (n, c, y, z, rows, cols, (OH, OW)): the in-bounds input range of each pooling window."""
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


def _lrn_window(i, n_channels, size):
    """The channels j with |j - i| <= size // 2 (clipped at the edges)."""
    return range(max(0, i - size // 2), min(n_channels, i + size // 2 + 1))


def _lrn_denominators(a, size, alpha, k):
    """d[:, i] = k + alpha * sum of a[:, j]^2 over the window of i; a (N, C, H, W) -> d (N, C, H, W)."""
    n_channels = a.shape[1]
    return np.stack([k + alpha * sum(a[:, j] ** 2 for j in _lrn_window(i, n_channels, size))
                     for i in range(n_channels)], axis=1)


def lrn_naive(a, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """The paper's equation (section 3.3), alpha NOT divided by size:
    b_i = a_i / d_i^beta with d_i = k + alpha * sum_{j in window(i)} a_j^2.
    a (N, C, H, W) -> b (N, C, H, W)."""
    return a / _lrn_denominators(a, size, alpha, k) ** beta


def lrn_backward_naive(dout, a, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """The gradient of lrn_naive (section 3.3): dout = dL/db and a, both (N, C, H, W) -> dL/da (N, C, H, W).

    a_j reaches the loss two ways: through its own output b_j = a_j d_j^-beta,
    and through the denominator d_i of every channel i whose window holds j
    (its own included), since d_i contains alpha a_j^2:

        db_j/da_j, direct term  = d_j^-beta
        db_i/da_j, through d_i  = a_i * (-beta d_i^(-beta-1)) * 2 alpha a_j

    With a large alpha the second term is as large as the first."""
    n_channels = a.shape[1]
    d = _lrn_denominators(a, size, alpha, k)
    da = dout * d ** -beta
    for i in range(n_channels):
        for j in _lrn_window(i, n_channels, size):
            da[:, j] += dout[:, i] * a[:, i] * -beta * d[:, i] ** (-beta - 1) * 2 * alpha * a[:, j]
    return da


def _channel_values(x):
    """[(channel, its values as a 1-D array)]: over the batch, and the pixels of an image."""
    return [(c, (x[:, c] if x.ndim == 2 else x[:, c].reshape(-1))) for c in range(x.shape[1])]


def batchnorm_naive(x, gamma, beta, eps=1e-5):
    """Batch normalisation with the batch's statistics, one channel at a time, as Algorithm 1 of
    Ioffe & Szegedy (2015) writes it. x (N, C, H, W) or (N, D) -> out like x."""
    out = np.empty_like(x)
    for c, values in _channel_values(x):
        m = values.size
        mean = sum(values) / m
        var = sum((v - mean) ** 2 for v in values) / m
        out[:, c] = gamma[c] * (x[:, c] - mean) / np.sqrt(var + eps) + beta[c]
    return out


def batchnorm_backward_naive(dout, x, gamma, eps=1e-5):
    """The gradients of batchnorm_naive, step by step back through its graph (mean, then var, then
    xhat, then out), for one channel at a time: -> dx like x, dgamma (C,), dbeta (C,)."""
    dx, dgamma, dbeta = np.empty_like(x), np.empty_like(gamma), np.empty_like(gamma)
    for c, values in _channel_values(x):
        g = dout[:, c].reshape(-1)
        m = values.size
        mean = values.sum() / m
        centred = values - mean
        var = (centred ** 2).sum() / m
        std = np.sqrt(var + eps)
        xhat = centred / std
        dbeta[c], dgamma[c] = g.sum(), (g * xhat).sum()
        dxhat = g * gamma[c]
        dvar = (dxhat * centred).sum() * -0.5 * (var + eps) ** -1.5   # var enters every xhat
        dcentred = dxhat / std + dvar * 2 * centred / m               # centred enters xhat and var
        dvalues = dcentred - dcentred.sum() / m                       # and centred = values - mean(values)
        dx[:, c] = dvalues.reshape(dx[:, c].shape)
    return dx, dgamma, dbeta
