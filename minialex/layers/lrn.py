"""Local response normalisation across channels (paper section 3.3; the maths: minialex/functional/lrn.py)."""
import numpy as np

from .. import dispatch
from .layer import Layer


class LocalResponseNorm(Layer):
    """b_i = a_i / (k + alpha * sum_{j = i - n/2}^{i + n/2} a_j^2) ^ beta   (paper eq. 3.3)

    summed over ``size`` = n neighbouring channels at the same pixel; the
    paper's values are the defaults. Shapes: x (N, C, H, W) -> out (N, C, H, W).

    Convention: here alpha multiplies the plain sum, as in the paper. PyTorch's
    ``nn.LocalResponseNorm`` and Caffe divide alpha by ``size``, so
    ``LocalResponseNorm(size, alpha)`` here equals
    ``torch.nn.LocalResponseNorm(size, alpha * size, beta, k)``.

    ``groups``: normalise within each group of C/groups channels separately,
    the window stopping at the group's edge. In the paper's two-GPU network
    each GPU normalises over its own kernel maps only (sections 3.2 and 3.3),
    so ``alexnet()`` uses groups=2, and the two-process split of
    ``minialex.distributed`` is exactly the one-process network. Only the
    channels within size//2 of a group's edge differ from groups=1.
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, groups=1):
        super().__init__()
        if size % 2 != 1:
            raise ValueError(f"LocalResponseNorm: size must be odd (the paper's window is "
                             f"centred on the channel), got {size}")
        if groups < 1:
            raise ValueError(f"LocalResponseNorm: groups must be at least 1, got {groups}")
        self.size, self.alpha, self.beta, self.k, self.groups = size, alpha, beta, k, groups

    def extra_repr(self):
        return (f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
                + (f", groups={self.groups}" if self.groups != 1 else ""))

    def flops(self, input_shape, output_shape):
        """A window sum and a power per output (about size + 4 operations)."""
        return int(np.prod(output_shape[1:])) * (self.size + 4)

    def split(self, rank, size):
        """Each process normalises its own maps: the layer must already stop its window at the
        processes' edges (groups=size, as alexnet() builds it), so each part is one group."""
        if self.groups != size:
            raise ValueError(f"{self!r} must normalise each process's maps on its own (groups={size}, "
                             "as alexnet() builds it) to split over processes")
        return LocalResponseNorm(self.size, self.alpha, self.beta, self.k), False, {}

    def forward(self, x):
        self._check_input(x, 4, "(N, C, H, W)")
        if x.shape[1] % self.groups:
            raise ValueError(f"{self!r}: groups={self.groups} must divide the {x.shape[1]} channels "
                             f"(input shape {tuple(x.shape)})")
        return self._run(dispatch.choose("lrn", x), x, self.size, self.alpha, self.beta, self.k, self.groups)

    def backward(self, dout):
        """dout (N, C, H, W) -> dx (N, C, H, W)."""
        return self._run_backward(dout)
