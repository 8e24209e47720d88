"""Dropout (paper section 4.2; the maths: minialex/functional/dropout.py)."""
import numpy as np

from .. import dispatch
from ..functional import dropout_backward, dropout_forward
from .layer import Layer


class Dropout(Layer):
    """Zero each input with probability p while training; survivors times
    1/(1-p) ("inverted" dropout), so at test time the layer is the identity.
    Any shape in, same shape out.

    ``rng``: the NumPy generator that draws the masks, kept on the layer so a
    checkpoint can save it and a resumed run draws the same masks. On the GPU
    it draws the seed of a CUDA kernel that makes the mask there (see
    ``dispatch``): the masks differ from the CPU's, but are as reproducible.

    ``part``: None, or (axis, start, whole) when a parallel run
    (``minialex.distributed``) gives this process only part of the layer's
    input: entries start .. start+n-1 along ``axis`` of an input that has
    ``whole`` there (its rows of the batch, ``share_batch``, or its share of
    the neurons, ``split``). The mask is then drawn for the whole input, from a
    generator that is the same on every process, and this part's window of it
    is used: every process's mask is its part of the one a single process
    would draw.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng if rng is not None else np.random.default_rng()
        self.part = None
        self._maps = None  # (rank, size) after split: this process's share of the neurons

    def extra_repr(self):
        return f"p={self.p}"

    def extra_state(self):
        """The generator's state: a resumed run draws the same masks."""
        return self.rng.bit_generator.state

    def load_extra_state(self, state):
        self.rng.bit_generator.state = state

    def share_batch(self, start, whole):
        self.part = (0, start, whole)

    def split(self, rank, size):
        """This same layer, drawing the mask of all the neurons and keeping this process's share."""
        self._maps = (rank, size)
        return self, False, {}

    def forward(self, x):
        self._check_input(x)
        if not self.training or self.p == 0:
            self._mask = None
            return x
        shape, window = self._whole(x.shape)
        make_mask = dispatch.choose("dropout_mask", x).forward
        out, self._mask = dropout_forward(x, make_mask(x, shape, self.p, self.rng)[window])
        return out

    def _whole(self, shape):
        """(the whole input's shape, the index of this part in it); see ``part``."""
        if self._maps is not None:
            rank, size = self._maps
            self.part = (1, rank * shape[1], size * shape[1])
        if self.part is None:
            return shape, ...
        axis, start, whole = self.part
        window = [slice(None)] * len(shape)
        window[axis] = slice(start, start + shape[axis])
        return shape[:axis] + (whole,) + shape[axis + 1:], tuple(window)

    def backward(self, dout):
        return dout if self._mask is None else dropout_backward(dout, self._mask)
