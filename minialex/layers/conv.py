"""2-D convolution with stride, padding and groups, as im2col + one matrix product."""
import threading

import numpy as np

from ..backend import get_array_module
from . import cuda_kernels
from .chunks import batch_chunks, for_each_chunk
from .im2col import batch_to_last, col2im, im2col
from .layer import Layer, init_param
from .sizes import conv_output_size

# At most this many bytes of im2col columns at once (see Conv2d._chunks): on
# the CPU a cache-friendly size; on the GPU enough for long matrix products
# while AlexNet at batch 128 needs 256 MB of columns, not 900.
COLUMN_BYTES = 8 << 20
GPU_COLUMN_BYTES = 256 << 20


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
        self._buffers = {}  # thread -> its im2col buffer (see _columns)

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
        g = self.groups
        xp = get_array_module(x)
        self._x = x  # all backward keeps: it rebuilds the columns from x
        out = xp.empty((n, f, oh, ow), dtype=x.dtype)
        out_g = out.reshape(n, g, f // g, oh * ow)
        kernels = self._kernel_matrix()

        def chunk(s):
            y = xp.matmul(kernels, self._columns(x[s], oh, ow))  # (g, F/g, b*OH*OW), in im2col's column order
            out_g[s] = self._from_columns(y, s.stop - s.start)
            if "b" in self.params:
                out[s] += self.params["b"].reshape(1, f, 1, 1)

        for_each_chunk(chunk, self._chunks(x, oh, ow), xp)
        return out

    def _chunks(self, x, oh, ow):
        """The batch, cut into chunks whose columns take at most COLUMN_BYTES:
        the step never holds the whole batch's columns (AlexNet's conv2 alone:
        224 MB), yet each matrix product is large (every BLAS call has a fixed
        cost). Backward rebuilds the columns chunk by chunk from x."""
        n, c = x.shape[:2]
        kh, kw = self.kernel_size
        xp = get_array_module(x)
        return batch_chunks(xp, n, c * kh * kw * oh * ow * x.itemsize, COLUMN_BYTES if xp is np else GPU_COLUMN_BYTES)

    def _columns(self, x, oh, ow):
        """im2col of a chunk x, into a buffer of the calling thread's, reused
        from chunk to chunk and step to step: a fresh array of columns would be
        page-faulted in on every call, which costs more than the copy."""
        kh, kw = self.kernel_size
        xp = get_array_module(x)
        shape = (self.groups, kh * kw * x.shape[1] // self.groups, x.shape[0] * oh * ow)
        size = shape[0] * shape[1] * shape[2]
        buffer = self._buffers.get(threading.get_ident())
        if buffer is None or buffer.size < size or buffer.dtype != x.dtype or get_array_module(buffer) is not xp:
            buffer = self._buffers[threading.get_ident()] = xp.empty(size, dtype=x.dtype)
        return im2col(x, kh, kw, self.stride, self.padding, oh, ow, self.groups, self._batch_last,
                      out=buffer[:size].reshape(shape))

    @property
    def _batch_last(self):
        """im2col's column order (see im2col.py): image index last pays off only
        where a col2im runs at stride 1 on the CPU; elsewhere, and for the CUDA
        kernels, its transposes cost more."""
        return self.stride == 1 and self.needs_input_grad and not cuda_kernels.enabled_for(self._x)

    def _from_columns(self, y, b):
        """(g, F/g, b*OH*OW) in im2col's column order -> (b, g, F/g, OH*OW), a view."""
        g, fg = y.shape[:2]
        if self._batch_last:
            return y.reshape(g, fg, -1, b).transpose(3, 0, 1, 2)
        return y.reshape(g, fg, b, -1).transpose(2, 0, 1, 3)

    def _to_columns(self, a):
        """(b, g, F/g, OH*OW) -> (g, F/g, b*OH*OW) in im2col's column order, contiguous."""
        xp = get_array_module(a)
        b, g, fg, p = a.shape
        if self._batch_last:
            return batch_to_last(a, xp.empty((g, fg, p, b), dtype=a.dtype)).reshape(g, fg, -1)
        return xp.ascontiguousarray(a.transpose(1, 2, 0, 3)).reshape(g, fg, -1)

    def _kernel_matrix(self):
        """W (F, C/g, kh, kw) as (g, F/g, kh*kw*C/g), rows in im2col's (i, j, c) order."""
        g = self.groups
        W = self.params["W"]
        return get_array_module(W).ascontiguousarray(W.transpose(0, 2, 3, 1)).reshape(g, W.shape[0] // g, -1)

    def backward(self, dout):
        """dout (N, F, OH, OW) -> dx (N, C, H, W), or None if ``needs_input_grad`` is False."""
        xp = get_array_module(dout)
        n, f, oh, ow = dout.shape
        g, kh, kw = self.groups, *self.kernel_size
        dout_g = dout.reshape(n, g, f // g, oh * ow)
        kernels = self._kernel_matrix()
        dx = xp.empty(self._x.shape, dtype=dout.dtype) if self.needs_input_grad else None

        def chunk(s):
            cols = self._columns(self._x[s], oh, ow)
            d = self._to_columns(dout_g[s])
            dW = xp.matmul(d, cols.transpose(0, 2, 1))  # this chunk's share of the sum over the batch
            if dx is not None:
                # The columns are used up: their buffer takes dL/dcols.
                dcols = xp.matmul(kernels.transpose(0, 2, 1), d, out=cols)
                dx[s] = col2im(dcols, dx[s].shape, kh, kw, self.stride, self.padding, oh, ow, g, self._batch_last)
            return dW

        dW = sum(for_each_chunk(chunk, self._chunks(self._x, oh, ow), xp))  # (g, F/g, kh*kw*C/g)
        self.grads["W"] = dW.reshape(f, kh, kw, -1).transpose(0, 3, 1, 2).copy()
        if "b" in self.params:
            self.grads["b"] = dout.sum(axis=(0, 2, 3))
        return dx
