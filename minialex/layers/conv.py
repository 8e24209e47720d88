"""2-D convolution with stride, padding and groups, as im2col + matrix products."""
import threading

import numpy as np

from ..backend import get_array_module
from .chunks import batch_chunks, for_each_chunk
from .im2col import batch_to_last, col2im, im2col, im2col_rows, row_window
from .layer import Layer, init_param
from .sizes import conv_output_size

# At most this many bytes of im2col columns at once (see Conv2d._chunks): on
# the CPU a cache-friendly size; on the GPU enough for long matrix products
# while AlexNet at batch 128 needs 256 MB of columns, not 900.
COLUMN_BYTES = 4 << 20
GPU_COLUMN_BYTES = 256 << 20
# Below this many values per kernel row (kw*C/groups), im2col_rows' products
# are too thin to pay (see Conv2d._by_rows).
ROW_DEPTH_MIN = 64


class Conv2d(Layer):
    """Convolution (cross-correlation, as every framework computes it).

    Shapes:
        x    (N, C, H, W)             C = in_channels
        W    (F, C/groups, kh, kw)    F = out_channels
        b    (F,)
        out  (N, F, OH, OW)           OH = (H + 2*padding - kh) // stride + 1

    Groups are the paper's two-GPU split (section 3.2): with ``groups=2`` the
    first F/2 kernels see only the first C/2 input channels and the rest only
    the rest. im2col gives each group's rows a block of their own, so the
    whole convolution is one batched matrix product:

        W as (groups, F/g, K/g)  @  cols (groups, K/g, N*P)  ->  (groups, F/g, N*P)

    with K = C*kh*kw and P = OH*OW, reordered to NCHW afterwards. The rows of
    ``cols`` are ordered (i, j, c) (see im2col.py), so the kernels are laid out
    the same way, (F, kh, kw, C/g), for the product. Backward is two more
    products and a col2im:

        dW    = dout @ cols^T      (every output pixel's contribution, summed)
        dcols = W^T @ dout,   dx = col2im(dcols)

    For stride 1 on the CPU, the columns of one kernel row do (``_by_rows``,
    im2col.py's ``im2col_rows``): the product becomes kh products, one per
    kernel row, each on a shifted view of the same columns; and dx, instead of
    a col2im, is the same kind of correlation, of dout with the kernels turned
    by 180 degrees (see backward).

    The columns of a whole batch are big (AlexNet's conv2: 224 MB), so the
    batch goes through a chunk of images at a time (``_chunks``), the chunks
    spread over the CPU's cores (chunks.py), each thread with one reused
    buffer, and backward rebuilds the columns from x rather than keep them:
    an im2col is a copy, cheap next to the products.

    ``needs_input_grad = False`` skips dL/dx, which nobody needs for the first
    layer of a network (it saves a col2im, a large share of the step).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1,
                 bias=True, weight_std=0.01, bias_init=0.0, rng=None, dtype=np.float32):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        self.needs_input_grad = True
        self.params["W"] = init_param(rng, (out_channels, in_channels // groups, kh, kw), weight_std, dtype)
        if bias:
            self.params["b"] = np.full(out_channels, bias_init, dtype=dtype)
        self._buffers = {}  # thread -> its column buffer (see _buffer)

    def extra_repr(self):
        kh, kw = self.kernel_size
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={kh if kh == kw else (kh, kw)}"
        s += f", stride={self.stride}" if self.stride != 1 else ""
        s += f", padding={self.padding}" if self.padding else ""
        s += f", groups={self.groups}" if self.groups != 1 else ""
        return s + (", bias=False" if "b" not in self.params else "")

    def output_shape(self, input_shape):
        n, _, h, w = input_shape
        kh, kw = self.kernel_size
        return (n, self.out_channels, conv_output_size(h, kh, self.stride, self.padding),
                conv_output_size(w, kw, self.stride, self.padding))

    def forward(self, x):
        self._check_input(x, 4, "(N, C, H, W)")
        n, c, h, w = x.shape
        kh, kw = self.kernel_size
        if c != self.in_channels:
            raise ValueError(f"{self!r}: input has {c} channels, expected {self.in_channels} (shape {tuple(x.shape)})")
        if h + 2 * self.padding < kh or w + 2 * self.padding < kw:
            raise ValueError(f"{self!r}: kernel {kh}x{kw} is larger than the padded input "
                             f"{h + 2 * self.padding}x{w + 2 * self.padding} (input shape {tuple(x.shape)})")
        _, f, oh, ow = self.output_shape(x.shape)
        xp = get_array_module(x)
        self._x = x  # all backward keeps: it rebuilds the columns from x
        out = xp.empty((n, f, oh, ow), dtype=x.dtype)
        by_rows = self._by_rows(x)
        kernels = self._row_kernels() if by_rows else self._kernel_matrix()

        def chunk(s):
            if by_rows:
                y = self._correlate_rows(x[s], kernels, (self.padding,) * 2, oh, ow)
            else:
                y = xp.matmul(kernels, self._im2col(x[s], oh, ow))
            out[s] = self._from_columns(y, s.stop - s.start, oh, ow, by_rows)
            if "b" in self.params:
                out[s] += self.params["b"].reshape(1, f, 1, 1)

        for_each_chunk(chunk, self._chunks(x, oh, ow), xp)
        return out

    def _by_rows(self, x):
        """Which of two ways to build the columns (im2col.py): for stride 1 on
        the CPU, ``im2col_rows`` (a buffer about kh times smaller, that stays in
        cache), unless the padding reaches the kernel size (dx's padding k-1-p
        would be negative) or a kernel row holds too few values (kw*C/g,
        conv1's 5*3 = 15) for a product of its own to run fast."""
        kh, kw = self.kernel_size
        return (get_array_module(x) is np and self.stride == 1 and self.padding < min(kh, kw)
                and kw * self.in_channels // self.groups >= ROW_DEPTH_MIN)

    def _chunks(self, x, oh, ow):
        """The batch, cut into chunks whose columns take at most COLUMN_BYTES:
        the step never holds the whole batch's columns (AlexNet's conv2 alone:
        224 MB), yet each matrix product is large (every BLAS call has a fixed
        cost). Backward rebuilds the columns chunk by chunk from x."""
        n, c, h, w = x.shape
        kh, kw = self.kernel_size
        xp = get_array_module(x)
        per_image = kw * c * (h + 2 * self.padding) * ow if self._by_rows(x) else kh * kw * c * oh * ow
        return batch_chunks(xp, n, per_image * x.itemsize, COLUMN_BYTES if xp is np else GPU_COLUMN_BYTES)

    def _buffer(self, shape, like):
        """An array of ``shape`` in a buffer of the calling thread's, reused from
        chunk to chunk and step to step: a fresh array of columns would be
        page-faulted in on every call, which costs more than filling it."""
        xp = get_array_module(like)
        size = int(np.prod(shape))
        buffer = self._buffers.get(threading.get_ident())
        if buffer is None or buffer.size < size or buffer.dtype != like.dtype or get_array_module(buffer) is not xp:
            buffer = self._buffers[threading.get_ident()] = xp.empty(size, dtype=like.dtype)
        return buffer[:size].reshape(shape)

    def _im2col(self, x, oh, ow):
        """(g, kh*kw*C/g, b*OH*OW) columns of a chunk x (b, C, H, W)."""
        kh, kw = self.kernel_size
        shape = (self.groups, kh * kw * x.shape[1] // self.groups, x.shape[0] * oh * ow)
        return im2col(x, kh, kw, self.stride, self.padding, oh, ow, self.groups, out=self._buffer(shape, x))

    def _rows(self, a, padding, ow):
        """im2col_rows of a chunk a (b, C', H', W') padded by (ph, pw), in this thread's buffer."""
        g, (b, c, h, _), kw = self.groups, a.shape, self.kernel_size[1]
        return im2col_rows(a, kw, padding, ow, g, out=self._buffer((g, kw * c // g, (h + 2 * padding[0]) * ow * b), a))

    def _correlate_rows(self, a, kernels, padding, oh, ow):
        """Stride-1 correlation of a chunk a (b, C', H', W'), padded by
        ``padding`` = (ph, pw), with kernels given row by row, (kh, g, F'/g,
        kw*C'/g) -> (g, F'/g, OH*OW*b), columns ordered (y, z, n): one matrix
        product per kernel row i, on the columns shifted down by i rows."""
        xp = get_array_module(a)
        rows, b = self._rows(a, padding, ow), a.shape[0]
        y = xp.matmul(kernels[0], row_window(rows, 0, oh, ow, b))
        for i in range(1, self.kernel_size[0]):
            y += xp.matmul(kernels[i], row_window(rows, i, oh, ow, b))
        return y

    def _from_columns(self, y, b, oh, ow, by_rows):
        """(g, F/g, columns) -> (b, F, OH, OW): a view, for a copy into the output.
        Columns are ordered (n, y, z) by im2col, (y, z, n) by im2col_rows."""
        g, fg = y.shape[:2]
        if by_rows:
            return y.reshape(g * fg, oh, ow, b).transpose(3, 0, 1, 2)
        return y.reshape(g * fg, b, oh, ow).transpose(1, 0, 2, 3)

    def _to_columns(self, a, by_rows):
        """(b, F, OH, OW) -> (g, F/g, columns), contiguous, in the order above."""
        xp = get_array_module(a)
        b, f, oh, ow = a.shape
        if by_rows:
            return batch_to_last(a, xp.empty((f, oh, ow, b), dtype=a.dtype)).reshape(self.groups, f // self.groups, -1)
        return xp.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(self.groups, f // self.groups, -1)

    def _kernel_matrix(self):
        """W (F, C/g, kh, kw) as (g, F/g, kh*kw*C/g), rows in im2col's (i, j, c) order."""
        g = self.groups
        W = self.params["W"]
        return get_array_module(W).ascontiguousarray(W.transpose(0, 2, 3, 1)).reshape(g, W.shape[0] // g, -1)

    def _row_kernels(self, flipped=False):
        """W (F, C/g, kh, kw) row by row, (kh, g, F/g, kw*C/g), each row's
        values in im2col_rows' (j, c) order. ``flipped``: the kernels of the
        input gradient instead (see backward), (kh, g, C/g, kw*F/g)."""
        g, (kh, kw) = self.groups, self.kernel_size
        W = self.params["W"]
        f, cg = W.shape[:2]
        W = W.reshape(g, f // g, cg, kh, kw)
        if flipped:  # turned by 180 degrees, input and output channels swapped
            W = W[..., ::-1, ::-1].transpose(0, 2, 1, 3, 4)
        return get_array_module(W).ascontiguousarray(W.transpose(3, 0, 1, 4, 2)).reshape(kh, g, W.shape[1], -1)

    def backward(self, dout):
        """dout (N, F, OH, OW) -> dx (N, C, H, W), or None if ``needs_input_grad`` is False.

        By rows, dL/dx needs no col2im: it is itself a stride-1 correlation,
        of dout padded by k-1-p with the kernels flipped and their channels
        swapped (each input pixel collects the output pixels whose windows
        cover it, through the kernel entry that connects them)."""
        xp = get_array_module(dout)
        x, (kh, kw), p = self._x, self.kernel_size, self.padding
        n, f, oh, ow = dout.shape
        by_rows = self._by_rows(x)
        kernels = self._row_kernels(flipped=True) if by_rows else self._kernel_matrix()
        dx = xp.empty(x.shape, dtype=dout.dtype) if self.needs_input_grad else None

        def by_rows_chunk(s):
            b, (h, w) = s.stop - s.start, x.shape[2:]
            d, rows = self._to_columns(dout[s], True), self._rows(x[s], (p, p), ow)
            dW = xp.stack([xp.matmul(d, row_window(rows, i, oh, ow, b).transpose(0, 2, 1)) for i in range(kh)])
            if dx is not None:  # after dW: the correlation reuses the buffer that holds the rows
                dx[s] = self._from_columns(self._correlate_rows(dout[s], kernels, (kh - 1 - p, kw - 1 - p), h, w),
                                           b, h, w, True)
            return dW  # (kh, g, F/g, kw*C/g): this chunk's share of the sum over the batch

        def im2col_chunk(s):
            d, cols = self._to_columns(dout[s], False), self._im2col(x[s], oh, ow)
            dW = xp.matmul(d, cols.transpose(0, 2, 1))  # (g, F/g, kh*kw*C/g)
            if dx is not None:
                # The columns are used up: their buffer takes dL/dcols.
                dcols = xp.matmul(kernels.transpose(0, 2, 1), d, out=cols)
                dx[s] = col2im(dcols, dx[s].shape, kh, kw, self.stride, p, oh, ow, self.groups)
            return dW

        dW = sum(for_each_chunk(by_rows_chunk if by_rows else im2col_chunk, self._chunks(x, oh, ow), xp))
        if by_rows:  # (kh, g, F/g, kw, C/g) -> (F, C/g, kh, kw)
            dW = dW.reshape(kh, f, kw, -1).transpose(1, 3, 0, 2)
        else:  # (g, F/g, kh, kw, C/g) -> (F, C/g, kh, kw)
            dW = dW.reshape(f, kh, kw, -1).transpose(0, 3, 1, 2)
        self.grads["W"] = xp.ascontiguousarray(dW)
        if "b" in self.params:
            self.grads["b"] = dout.sum(axis=(0, 2, 3))
        return dx
