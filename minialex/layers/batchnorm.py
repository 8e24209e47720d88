"""Batch normalisation layers (Ioffe & Szegedy 2015; not in the AlexNet paper;
the maths: minialex/functional/batchnorm.py)."""
import numpy as np

from .. import functional as F
from .layer import Layer


class _BatchNorm(Layer):
    """Normalise each channel (feature) over the batch, then scale and shift it:
    out = gamma * (x - mean) / sqrt(var + eps) + beta.

    ``params``: "W" = gamma (ones) and "b" = beta (zeros), one per channel, learned.
    ``buffers``: "running_mean" (zeros) and "running_var" (ones): while training, after
    every batch, running <- (1 - momentum) * running + momentum * batch statistic (the
    variance unbiased, over m - 1); ``eval()`` normalises with them instead of the batch's.
    eps and momentum are PyTorch's defaults; as in PyTorch, momentum is the weight of the NEW value
    (Keras's momentum is that of the old one).
    """

    ndim = None  # the input's rank: 4 (N, C, H, W) for BatchNorm2d, 2 (N, D) for BatchNorm1d
    layout = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float32):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.params["W"] = np.ones(num_features, dtype=dtype)
        self.params["b"] = np.zeros(num_features, dtype=dtype)
        self.buffers["running_mean"] = np.zeros(num_features, dtype=dtype)
        self.buffers["running_var"] = np.ones(num_features, dtype=dtype)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def forward(self, x):
        self._check_input(x, self.ndim, self.layout)
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self!r}: input has {x.shape[1]} channels, expected {self.num_features} "
                             f"(shape {tuple(x.shape)})")
        if self.training:
            m = x.size // x.shape[1]
            if m < 2:
                raise ValueError(f"{self!r}: training needs more than one value per channel to take a "
                                 f"variance, got input shape {tuple(x.shape)}")
            mean, var = F.batch_statistics(x)
            self._update_running(mean, var * (m / (m - 1)))
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        out, self._cache = F.batchnorm_forward(x, self.params["W"], self.params["b"], mean, var, self.eps,
                                               batch=self.training)
        return out

    def _update_running(self, mean, unbiased_var):
        for key, value in (("running_mean", mean), ("running_var", unbiased_var)):
            self.buffers[key] = (1 - self.momentum) * self.buffers[key] + self.momentum * value

    def backward(self, dout):
        """dout like x -> dx like x; dL/dgamma, dL/dbeta in ``grads`` ("W", "b")."""
        dx, self.grads["W"], self.grads["b"] = F.batchnorm_backward(dout, self._cache)
        return dx

    def share_batch(self, start, whole):
        raise ValueError(f"{self!r} normalises with the statistics of the whole batch, which --parallel data "
                         "splits over processes: train it on one process (alexnet also with --parallel model)")

    def split(self, rank, size):
        """Its own channels' share of gamma, beta and the running statistics: each channel is
        normalised on its own, so the process that computes a channel normalises it."""
        n = self.num_features // size
        part = type(self)(n, self.eps, self.momentum, dtype=self.params["W"].dtype)
        part.params = {key: value[rank * n:(rank + 1) * n].copy() for key, value in self.params.items()}
        part.buffers = {key: value[rank * n:(rank + 1) * n].copy() for key, value in self.buffers.items()}
        return part, False, {key: 0 for key in (*self.params, *self.buffers)}


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of images: x (N, C, H, W) -> out (N, C, H, W), each of the C maps
    normalised over the batch and its pixels (the convolutional form, Ioffe & Szegedy section 3.2)."""
    ndim, layout = 4, "(N, C, H, W)"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of features: x (N, D) -> out (N, D), each feature normalised over the batch."""
    ndim, layout = 2, "(N, D)"
