"""Local response normalisation across channels (paper section 3.3)."""
from ..backend import get_array_module
from . import cuda_kernels
from .chunks import batch_chunks, for_each_chunk
from .layer import Layer


def channel_window_sum(a, size):
    """s[:, i] = sum of a[:, j] for |j - i| <= size // 2 (clipped at the edges).
    a (N, C, H, W) -> (N, C, H, W)."""
    s = a.copy()
    for offset in range(1, size // 2 + 1):
        s[:, offset:] += a[:, :-offset]  # the neighbour `offset` channels below
        s[:, :-offset] += a[:, offset:]  # and above; slicing clips at the edges
    return s


class LocalResponseNorm(Layer):
    """b_i = a_i / (k + alpha * sum_{j = i - n/2}^{i + n/2} a_j^2) ^ beta   (paper eq. 3.3)

    summed over ``size`` = n neighbouring channels at the same pixel; the
    paper's values are the defaults. Shapes: x (N, C, H, W) -> out (N, C, H, W).

    Convention: here alpha multiplies the plain sum, as in the paper. PyTorch's
    ``nn.LocalResponseNorm`` and Caffe divide alpha by ``size``, so
    ``LocalResponseNorm(size, alpha)`` here equals
    ``torch.nn.LocalResponseNorm(size, alpha * size, beta, k)``.

    Backward. With d_i = k + alpha * S_i and b_i = a_i d_i^-beta, every a_j
    in the window of i changes d_i, so

        dL/da_j = dout_j d_j^-beta - 2 alpha beta a_j * sum_{i: j in window(i)} dout_i a_i d_i^(-beta-1)

    The window is symmetric, so "all i whose window holds j" is again a window
    sum: the backward pass is two elementwise steps and one more window sum.

    ``groups``: normalise within each group of C/groups channels separately,
    the window stopping at the group's edge. In the paper's two-GPU network
    each GPU normalises over its own kernel maps only (sections 3.2 and 3.3),
    so ``alexnet()`` uses groups=2, and the two-process split of
    ``minialex.distributed`` is exactly the one-process network. Only the
    channels within size//2 of a group's edge differ from groups=1. A group
    is computed as an image of its own: (N, C, H, W) viewed as
    (N*groups, C/groups, H, W), a reshape (no copy for a contiguous input).
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

    def _grouped(self, a):
        """(N, C, H, W) -> (N*groups, C/groups, H, W): each group an image of its own."""
        n, c, h, w = a.shape
        return a.reshape(n * self.groups, c // self.groups, h, w)

    def forward(self, x):
        self._check_input(x, 4, "(N, C, H, W)")
        if x.shape[1] % self.groups:
            raise ValueError(f"{self!r}: groups={self.groups} must divide the {x.shape[1]} channels "
                             f"(input shape {tuple(x.shape)})")
        shape, x = x.shape, self._grouped(x)
        self._x = x  # backward recomputes d from x: two fewer full-size arrays kept per layer
        if cuda_kernels.enabled_for(x):  # on the GPU: one thread per element, the same formula
            return cuda_kernels.lrn_forward(x, self.size, self.alpha, self.beta, self.k).reshape(shape)
        xp = get_array_module(x)
        out = xp.empty_like(x)

        def chunk(s):  # a chunk of samples at a time: the half-dozen passes below then run in cache
            _, scale = self._denominator(x[s])
            xp.multiply(x[s], scale, out=out[s])

        for_each_chunk(chunk, batch_chunks(xp, x.shape[0], 4 * x[0].nbytes), xp)
        return out.reshape(shape)

    def _denominator(self, x):
        """d = k + alpha * (window sum of x^2) and scale = d^-beta."""
        xp = get_array_module(x)
        d = channel_window_sum(x * x, self.size)
        d *= self.alpha
        d += self.k
        if self.beta == 0.75:  # the paper's beta: d^-3/4 = 1 / sqrt(d sqrt(d)); square roots are far cheaper than pow
            scale = xp.sqrt(d)
            scale *= d
            xp.sqrt(scale, out=scale)
            xp.reciprocal(scale, out=scale)
        else:
            scale = xp.power(d, -self.beta)
        return d, scale

    def backward(self, dout):
        """dout (N, C, H, W) -> dx (N, C, H, W)."""
        shape, dout = dout.shape, self._grouped(dout)
        if cuda_kernels.enabled_for(dout):
            return cuda_kernels.lrn_backward(self._x, dout, self.size, self.alpha, self.beta, self.k).reshape(shape)
        xp = get_array_module(dout)
        dx = xp.empty_like(dout)

        def chunk(s):
            x = self._x[s]
            d, scale = self._denominator(x)
            t = dout[s] * x  # dout_i a_i d_i^(-beta-1), built in place
            t *= scale
            t /= d
            window = channel_window_sum(t, self.size)
            window *= x
            window *= 2 * self.alpha * self.beta
            xp.multiply(dout[s], scale, out=dx[s])  # dout_j d_j^-beta
            dx[s] -= window

        for_each_chunk(chunk, batch_chunks(xp, dout.shape[0], 4 * dout[0].nbytes), xp)
        return dx.reshape(shape)
