"""Dropout (paper section 4.2)."""
import numpy as np

from ..backend import get_array_module
from . import cuda_kernels
from .layer import Layer


class Dropout(Layer):
    """Zero each input with probability p while training.

    "Inverted" dropout: the survivors are multiplied by 1/(1-p) at training
    time, so at test time the layer is the identity. The paper instead
    multiplies by 1-p at test time (0.5 for p = 0.5); the expected outputs are
    the same. Any shape in, same shape out.

    ``rng``: the NumPy generator that draws the masks, kept on the layer so a
    checkpoint can save it and a resumed run draws the same masks. On the GPU
    it draws one integer per mask, the seed of a CUDA kernel that makes the
    mask there (cuda_kernels.py): the masks differ from the CPU's, but are as
    reproducible, without copying a mask from the CPU at every step. With the
    kernels switched off (``MINIALEX_CUDA_KERNELS=0``) the mask is drawn on
    the CPU, as without a GPU, and copied over.

    ``part``: None, or (axis, start, whole) when a parallel run
    (``minialex.distributed``) gives this process only part of the layer's
    input: entries start .. start+n-1 along ``axis`` of an input that has
    ``whole`` there (its rows of the batch, or its half of the neurons). The
    mask is then drawn for the whole input, from a generator that is the same
    on every process, and this part's window of it is used: every process's
    mask is its part of the one a single process would draw.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng if rng is not None else np.random.default_rng()
        self.part = None

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        self._check_input(x)
        if not self.training or self.p == 0:
            self._mask = None
            return x
        shape, window = self._whole(x.shape)
        if cuda_kernels.enabled_for(x):
            mask = cuda_kernels.dropout_mask(shape, x.dtype, self.rng.integers(2**63), self.p)
        else:
            u = self.rng.random(shape, dtype=x.dtype)
            mask = get_array_module(x).asarray((u >= self.p).astype(x.dtype) / x.dtype.type(1 - self.p))
        self._mask = mask[window]
        return x * self._mask

    def _whole(self, shape):
        """(the whole input's shape, the index of this part in it); see ``part``."""
        if self.part is None:
            return shape, ...
        axis, start, whole = self.part
        window = [slice(None)] * len(shape)
        window[axis] = slice(start, start + shape[axis])
        return shape[:axis] + (whole,) + shape[axis + 1:], tuple(window)

    def backward(self, dout):
        return dout if self._mask is None else dout * self._mask
