"""Local response normalisation across channels (paper section 3.3)."""
from ..backend import get_array_module
from .layer import Layer


def channel_window_sum(a, size):
    """s[:, i] = sum of a[:, j] for |j - i| <= size // 2 (clipped at the edges).
    a (N, C, H, W) -> (N, C, H, W)."""
    xp = get_array_module(a)
    half = size // 2
    c = a.shape[1]
    padded = xp.pad(a, ((0, 0), (half, half), (0, 0), (0, 0)))
    s = padded[:, 0:c].copy()
    for offset in range(1, size):
        s += padded[:, offset:offset + c]
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
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0):
        super().__init__()
        if size % 2 != 1:
            raise ValueError(f"LocalResponseNorm: size must be odd (the paper's window is "
                             f"centred on the channel), got {size}")
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def extra_repr(self):
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"

    def forward(self, x):
        self._check_input(x, 4, "(N, C, H, W)")
        xp = get_array_module(x)
        self._x = x
        self._d = self.k + self.alpha * channel_window_sum(x * x, self.size)
        self._scale = xp.power(self._d, -self.beta)
        return x * self._scale

    def backward(self, dout):
        """dout (N, C, H, W) -> dx (N, C, H, W)."""
        t = dout * self._x * self._scale / self._d
        return dout * self._scale - (2 * self.alpha * self.beta) * self._x * channel_window_sum(t, self.size)
