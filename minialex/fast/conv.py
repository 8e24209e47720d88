"""Fast convolutions: the batch a chunk at a time, each chunk's columns in a reused buffer.

Same signatures and numbers as ``minialex.functional.conv2d_forward`` /
``conv2d_backward``; ``minialex.dispatch`` chooses which one runs. Two ways
to build the columns (columns.py):

* ``im2col``: the columns of a chunk of images, and one batched matrix
  product per chunk, W as (groups, F/g, K/g) @ cols (groups, K/g, b*OH*OW).
  On the CPU the columns come from columns.py, on the GPU from the CUDA
  kernels (``GPU_COLUMNS``); only the chunk size differs.
* ``rows`` (CPU, stride 1): the columns of one kernel row (``im2col_rows``);
  the product becomes kh products on shifted views of them, and dx, instead
  of a col2im, is the same kind of correlation, of dout with the kernels
  turned by 180 degrees.

The columns of a whole batch are big (AlexNet's conv2: 224 MB), so the
batch goes through a chunk of images at a time, the chunks spread over the
CPU's cores (chunks.py), and backward rebuilds the columns from x rather than
keep them: an im2col is a copy, cheap next to the products.
"""
import threading
from collections import namedtuple

import numpy as np

from ..backend import get_array_module
from ..functional.sizes import conv_output_size
from . import cuda_kernels
from .chunks import batch_chunks, for_each_chunk
from .columns import batch_to_last, col2im, im2col, im2col_rows, row_window

# At most this many bytes of columns at once: on the CPU a cache-friendly
# size; on the GPU enough for long matrix products, while AlexNet at batch
# 128 needs 256 MB of columns, not 900.
COLUMN_BYTES = 4 << 20
GPU_COLUMN_BYTES = 256 << 20

Columns = namedtuple("Columns", "im2col col2im budget")
CPU_COLUMNS = Columns(im2col, col2im, "cpu")
GPU_COLUMNS = Columns(cuda_kernels.im2col, cuda_kernels.col2im, "gpu")

_local = threading.local()


def _buffer(shape, like):
    """An array of ``shape`` in the calling thread's buffer, reused from chunk
    to chunk, layer to layer and step to step: a fresh array of columns would
    be page-faulted in on every call, which costs more than filling it. Whoever
    asks next gets the same memory, so a caller is done with it before it asks again."""
    xp = get_array_module(like)
    size = int(np.prod(shape))
    buffer = getattr(_local, "buffer", None)
    if buffer is None or buffer.size < size or buffer.dtype != like.dtype or get_array_module(buffer) is not xp:
        buffer = _local.buffer = xp.empty(size, dtype=like.dtype)
    return buffer[:size].reshape(shape)


def _chunks(x, per_image, budget):
    budget = COLUMN_BYTES if budget == "cpu" else GPU_COLUMN_BYTES
    return batch_chunks(get_array_module(x), x.shape[0], per_image * x.itemsize, budget)


def _output_size(x, W, stride, padding):
    (h, w), (kh, kw) = x.shape[2:], W.shape[2:]
    return conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)


def _kernel_matrix(W, groups):
    """W (F, C/g, kh, kw) as (g, F/g, kh*kw*C/g), rows in columns.py's (i, j, c) order."""
    return get_array_module(W).ascontiguousarray(W.transpose(0, 2, 3, 1)).reshape(groups, W.shape[0] // groups, -1)


def _add_bias(out, b):
    """out += b per channel; called on each chunk while it is still in cache
    (one more pass over the whole output costs more than the sum)."""
    if b is not None:
        out += b.reshape(1, -1, 1, 1)


# -- im2col, a chunk at a time ------------------------------------------------------------------


def im2col_forward(x, W, b, stride=1, padding=0, groups=1, columns=CPU_COLUMNS):
    n, c = x.shape[:2]
    f, _, kh, kw = W.shape
    oh, ow = _output_size(x, W, stride, padding)
    xp = get_array_module(x)
    out = xp.empty((n, f, oh, ow), dtype=x.dtype)
    kernels = _kernel_matrix(W, groups)

    def chunk(s):
        y = xp.matmul(kernels, _im2col(columns, x[s], kh, kw, stride, padding, oh, ow, groups))
        out[s] = y.reshape(f, s.stop - s.start, oh, ow).transpose(1, 0, 2, 3)
        _add_bias(out[s], b)

    for_each_chunk(chunk, _chunks(x, kh * kw * c * oh * ow, columns.budget), xp)
    return out, (x, W, stride, padding, groups, columns)


def _im2col(columns, x, kh, kw, stride, padding, oh, ow, groups):
    """(g, kh*kw*C/g, b*OH*OW) columns of a chunk x (b, C, H, W), in this thread's buffer."""
    shape = (groups, kh * kw * x.shape[1] // groups, x.shape[0] * oh * ow)
    return columns.im2col(x, kh, kw, stride, padding, oh, ow, groups, out=_buffer(shape, x))


def im2col_backward(dout, cache, needs_input_grad=True):
    x, W, stride, p, groups, columns = cache
    n, f, oh, ow = dout.shape
    kh, kw = W.shape[2:]
    xp = get_array_module(dout)
    kernels = _kernel_matrix(W, groups)
    dx = xp.empty(x.shape, dtype=dout.dtype) if needs_input_grad else None

    def chunk(s):
        d = xp.ascontiguousarray(dout[s].transpose(1, 0, 2, 3)).reshape(groups, f // groups, -1)
        cols = _im2col(columns, x[s], kh, kw, stride, p, oh, ow, groups)
        dW = xp.matmul(d, cols.transpose(0, 2, 1))  # (g, F/g, kh*kw*C/g): this chunk's share of the sum
        if dx is not None:  # the columns are used up: their buffer takes dL/dcols
            dcols = xp.matmul(kernels.transpose(0, 2, 1), d, out=cols)
            dx[s] = columns.col2im(dcols, dx[s].shape, kh, kw, stride, p, oh, ow, groups)
        return dW

    dW = sum(for_each_chunk(chunk, _chunks(x, kh * kw * x.shape[1] * oh * ow, columns.budget), xp))
    dW = xp.ascontiguousarray(dW.reshape(f, kh, kw, -1).transpose(0, 3, 1, 2))  # -> (F, C/g, kh, kw)
    return dx, dW, dout.sum(axis=(0, 2, 3))


def gpu_forward(x, W, b, stride=1, padding=0, groups=1):
    return im2col_forward(x, W, b, stride, padding, groups, columns=GPU_COLUMNS)


# -- rows (CPU, stride 1) ------------------------------------------------------------------------


def _row_kernels(W, groups, flipped=False):
    """W (F, C/g, kh, kw) row by row, (kh, g, F/g, kw*C/g), each row's values
    in im2col_rows' (j, c) order. ``flipped``: the kernels of the input
    gradient instead, (kh, g, C/g, kw*F/g)."""
    f, cg, kh, kw = W.shape
    W = W.reshape(groups, f // groups, cg, kh, kw)
    if flipped:  # turned by 180 degrees, input and output channels swapped
        W = W[..., ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(W.transpose(3, 0, 1, 4, 2)).reshape(kh, groups, W.shape[1], -1)


def _rows(a, kw, padding, ow, groups):
    """im2col_rows of a chunk a (b, C', H', W') padded by (ph, pw), in this thread's buffer."""
    b, c, h, _ = a.shape
    return im2col_rows(a, kw, padding, ow, groups,
                       out=_buffer((groups, kw * c // groups, (h + 2 * padding[0]) * ow * b), a))


def _correlate_rows(a, kernels, kw, padding, oh, ow):
    """Stride-1 correlation of a chunk a (b, C', H', W'), padded by
    ``padding`` = (ph, pw), with kernels given row by row, (kh, g, F'/g,
    kw*C'/g) -> (b, F', OH, OW): one matrix product per kernel row i, on the
    columns shifted down by i rows (columns ordered (y, z, n))."""
    b, groups = a.shape[0], kernels.shape[1]
    rows = _rows(a, kw, padding, ow, groups)
    y = np.matmul(kernels[0], row_window(rows, 0, oh, ow, b))
    for i in range(1, kernels.shape[0]):
        y += np.matmul(kernels[i], row_window(rows, i, oh, ow, b))
    return y.reshape(-1, oh, ow, b).transpose(3, 0, 1, 2)


def rows_forward(x, W, b, stride=1, padding=0, groups=1):
    n, c, h, w = x.shape
    f, _, kh, kw = W.shape
    oh, ow = _output_size(x, W, 1, padding)
    out = np.empty((n, f, oh, ow), dtype=x.dtype)
    kernels = _row_kernels(W, groups)

    def chunk(s):
        out[s] = _correlate_rows(x[s], kernels, kw, (padding, padding), oh, ow)
        _add_bias(out[s], b)

    for_each_chunk(chunk, _chunks(x, kw * c * (h + 2 * padding) * ow, "cpu"))
    return out, (x, W, padding, groups)


def rows_backward(dout, cache, needs_input_grad=True):
    """dL/dx needs no col2im: it is itself a stride-1 correlation, of dout
    padded by k-1-p with the kernels flipped and their channels swapped (each
    input pixel collects the output pixels whose windows cover it, through
    the kernel entry that connects them)."""
    x, W, p, groups = cache
    n, f, oh, ow = dout.shape
    h, w = x.shape[2:]
    kh, kw = W.shape[2:]
    kernels = _row_kernels(W, groups, flipped=True)
    dx = np.empty(x.shape, dtype=dout.dtype) if needs_input_grad else None

    def chunk(s):
        b = s.stop - s.start
        d = batch_to_last(dout[s], np.empty((f, oh, ow, b), dtype=dout.dtype)).reshape(groups, f // groups, -1)
        rows = _rows(x[s], kw, (p, p), ow, groups)
        dW = np.stack([np.matmul(d, row_window(rows, i, oh, ow, b).transpose(0, 2, 1)) for i in range(kh)])
        if dx is not None:  # after dW: the correlation reuses the buffer that holds the rows
            dx[s] = _correlate_rows(dout[s], kernels, kw, (kh - 1 - p, kw - 1 - p), h, w)
        return dW  # (kh, g, F/g, kw*C/g): this chunk's share of the sum over the batch

    dW = sum(for_each_chunk(chunk, _chunks(x, kw * x.shape[1] * (h + 2 * p) * ow, "cpu")))
    dW = np.ascontiguousarray(dW.reshape(kh, f, kw, -1).transpose(1, 3, 0, 2))  # -> (F, C/g, kh, kw)
    return dx, dW, dout.sum(axis=(0, 2, 3))
