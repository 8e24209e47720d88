"""Max and average pooling, with the paper's overlapping windows (section 3.4).

AlexNet pools 3x3 windows with stride 2, so neighbouring windows share a row or
column: the backward pass must add the gradients of every window an input
falls in, which is where wrong implementations hide.

The fast path never loops over pixels: it loops over the k*k offsets of the
window, and each offset (i, j) is one strided slice of the padded input, the
(i, j)-th element of every window at once.
"""
import numpy as np

from ..backend import get_array_module
from . import cuda_kernels
from .chunks import batch_chunks, for_each_chunk
from .im2col import pad_hw
from .layer import Layer
from .sizes import pool_output_size


class _Pool2d(Layer):
    """Shared geometry. Shapes: x (N, C, H, W) -> out (N, C, OH, OW)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        if padding > kernel_size // 2:
            raise ValueError(f"{self!r}: padding={padding} must be at most kernel_size // 2, "
                             "or some windows would hold padding only")

    def extra_repr(self):
        s = f"kernel_size={self.kernel_size}, stride={self.stride}"
        s += f", padding={self.padding}" if self.padding else ""
        return s + (", ceil_mode=True" if self.ceil_mode else "")

    def output_shape(self, input_shape):
        n, c, h, w = input_shape
        k, s, p = self.kernel_size, self.stride, self.padding
        return n, c, pool_output_size(h, k, s, p, self.ceil_mode), pool_output_size(w, k, s, p, self.ceil_mode)

    def _measure(self, x):
        """Check x (N, C, H, W) and return the output's (OH, OW)."""
        self._check_input(x, 4, "(N, C, H, W)")
        h, w = x.shape[2:]
        k, p = self.kernel_size, self.padding
        if h + 2 * p < k or w + 2 * p < k:
            raise ValueError(f"{self!r}: window {k}x{k} is larger than the padded input "
                             f"{h + 2 * p}x{w + 2 * p} (input shape {tuple(x.shape)})")
        return self.output_shape(x.shape)[2:]

    def _padding(self, x):
        """Record the geometry and return the padding (top, bottom, left, right)
        that puts every window inside: (H + 2p) grows to (OH - 1) * stride + k if needed."""
        oh, ow = self._measure(x)
        n, c, h, w = x.shape
        k, p = self.kernel_size, self.padding
        hp, wp = max(h + 2 * p, (oh - 1) * self.stride + k), max(w + 2 * p, (ow - 1) * self.stride + k)
        self._geometry = x.shape, oh, ow, (n, c, hp, wp)
        return p, hp - h - p, p, wp - w - p

    def _offsets(self):
        """Yield (i*k + j, slice_h, slice_w): element (i, j) of every window."""
        _, oh, ow, _ = self._geometry
        k, s = self.kernel_size, self.stride
        for i in range(k):
            for j in range(k):
                yield i * k + j, slice(i, i + s * oh, s), slice(j, j + s * ow, s)

    def _chunks(self, xp, dtype):
        """Batch chunks small enough that the k*k passes over them run in cache."""
        _, _, _, (n, c, hp, wp) = self._geometry
        return batch_chunks(xp, n, 2 * c * hp * wp * np.dtype(dtype).itemsize)

    def _unpad(self, dxpad):
        (_, _, h, w), _, _, _ = self._geometry
        p = self.padding
        return dxpad[:, :, p:p + h, p:p + w]

    def _combine_offsets(self, x, pad_value, ufunc):
        """Pad x with ``pad_value``, then fold the k*k shifted slices together
        with ``ufunc`` ("maximum" or "add"), in place, a chunk of the batch at a
        time. Returns (padded input, out (N, C, OH, OW))."""
        padding = self._padding(x)
        _, oh, ow, padded_shape = self._geometry
        xp = get_array_module(x)
        combine = getattr(xp, ufunc)
        xpad = xp.empty(padded_shape, dtype=x.dtype) if any(padding) else x
        out = xp.empty((x.shape[0], x.shape[1], oh, ow), dtype=x.dtype)

        def chunk(s):
            pad_hw(x[s], padding, pad_value, out=xpad[s])
            for idx, sh, sw in self._offsets():
                if idx == 0:
                    out[s] = xpad[s, :, sh, sw]
                else:
                    combine(out[s], xpad[s, :, sh, sw], out=out[s])

        for_each_chunk(chunk, self._chunks(xp, x.dtype), xp)
        return xpad, out


class MaxPool2d(_Pool2d):
    """Maximum over each kernel_size x kernel_size window.

    Forward: the running maximum of the k*k shifted slices. Backward: each
    window's gradient goes to the input that held its maximum (the first such
    offset, on ties, so a gradient is never counted twice); overlapping windows
    add. Which offset won is found again in backward by comparing each slice
    with the output, which keeps the forward pass (also used at test time) lean.
    On the GPU a CUDA kernel does both passes, keeping the argmax instead.
    """

    def forward(self, x):
        if cuda_kernels.enabled_for(x):  # on the GPU: one thread per window, which keeps its argmax
            oh, ow = self._measure(x)
            self._x_shape = x.shape
            out, self._argmax = cuda_kernels.maxpool_forward(x, self.kernel_size, self.stride, self.padding, oh, ow)
            return out
        self._argmax = None
        self._xpad, self._out = self._combine_offsets(x, -np.inf, "maximum")
        return self._out

    def backward(self, dout):
        """dout (N, C, OH, OW) -> dx (N, C, H, W)."""
        if self._argmax is not None:
            return cuda_kernels.maxpool_backward(dout, self._argmax, self._x_shape, self.kernel_size, self.stride,
                                                 self.padding)
        xp = get_array_module(dout)
        dxpad = xp.empty(self._xpad.shape, dtype=dout.dtype)

        def chunk(s):
            xpad, out, dx = self._xpad[s], self._out[s], dxpad[s]
            dx[...] = 0
            left = dout[s].copy()  # what is not routed yet: a window's gradient goes to its first maximum only
            for _, sh, sw in self._offsets():
                piece = left * (xpad[:, :, sh, sw] == out)
                left -= piece
                dx[:, :, sh, sw] += piece

        for_each_chunk(chunk, self._chunks(xp, dout.dtype), xp)
        return self._unpad(dxpad)


class AvgPool2d(_Pool2d):
    """Mean over each window. Zero padding counts in the divisor; the extra
    overhang that ``ceil_mode`` adds does not (as PyTorch with
    count_include_pad=True), so a partial last window is still a true mean."""

    def _divisor(self, xp, dtype):
        (_, _, h, w), oh, ow, _ = self._geometry
        k, s, p = self.kernel_size, self.stride, self.padding
        rows = np.minimum(np.arange(oh) * s + k, h + 2 * p) - np.arange(oh) * s
        cols = np.minimum(np.arange(ow) * s + k, w + 2 * p) - np.arange(ow) * s
        return xp.asarray(np.outer(rows, cols), dtype=dtype)

    def forward(self, x):
        _, out = self._combine_offsets(x, 0.0, "add")
        xp = get_array_module(x)
        self._div = self._divisor(xp, x.dtype)
        out /= self._div
        return out

    def backward(self, dout):
        """dout (N, C, OH, OW) -> dx (N, C, H, W): each input gets 1/count of every window it is in."""
        xp = get_array_module(dout)
        share = dout / self._div
        _, _, _, padded_shape = self._geometry
        dxpad = xp.empty(padded_shape, dtype=dout.dtype)

        def chunk(s):
            dxpad[s] = 0
            for _, sh, sw in self._offsets():
                dxpad[s, :, sh, sw] += share[s]

        for_each_chunk(chunk, self._chunks(xp, dout.dtype), xp)
        return self._unpad(dxpad)
