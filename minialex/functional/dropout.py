"""Dropout (paper section 4.2), "inverted": any shape in, the same shape out.

Each input is zeroed with probability p while training, and the survivors are
multiplied by 1/(1-p), so that at test time the layer is the identity. The
paper multiplies by 1-p at test time instead; the expected outputs are the same.
"""
from ..backend import get_array_module


def dropout_mask(like, shape, p, rng):
    """A mask of ``shape``, on ``like``'s device and of its dtype: 1/(1-p) with
    probability 1-p, else 0, drawn from the NumPy generator ``rng``."""
    u = rng.random(shape, dtype=like.dtype)
    return get_array_module(like).asarray((u >= p).astype(like.dtype) / like.dtype.type(1 - p))


def dropout_forward(x, mask):
    """-> (x * mask, cache)."""
    return x * mask, mask


def dropout_backward(dout, mask):
    """Only the inputs that were kept pass their gradient, scaled as they were."""
    return dout * mask
