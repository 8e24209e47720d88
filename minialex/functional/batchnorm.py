"""Batch normalisation (Ioffe & Szegedy, *Batch Normalization: Accelerating Deep
Network Training by Reducing Internal Covariate Shift*, ICML 2015, Algorithm 1
and section 3.2). It is NOT in the AlexNet paper, which came three years
earlier and normalised with LRN (section 3.3); it is here as the worked
example of adding a layer (README, "How to extend").

Each channel c (a feature, for (N, D) input) is normalised over the batch,
and over the pixels for images:

    mean_c = mean of x[:, c]                 var_c = mean of (x[:, c] - mean_c)^2
    xhat   = (x - mean_c) / sqrt(var_c + eps)
    out    = gamma_c * xhat + beta_c

Shapes: x (N, C, H, W) or (N, D); gamma, beta, mean, var (C,) or (D,).

In training the statistics are the batch's own (``batch_statistics``); at test
time they are fixed running averages, so an image's output does not depend on
the rest of its batch. Keeping those averages is the layer's job
(layers/batchnorm.py); these functions only compute.
"""
from ..backend import get_array_module


def _axes(x):
    """The axes a channel's statistics run over: the batch, and the pixels of an image."""
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _per_channel(v, x):
    """A (C,) vector shaped to broadcast against x: (1, C) or (1, C, 1, 1)."""
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def batch_statistics(x):
    """(mean, var) of each channel of x over the batch (and pixels): (C,) each; the variance is
    the biased one (divided by the count), the one the normalisation uses."""
    axes = _axes(x)
    mean = x.mean(axis=axes)
    var = ((x - _per_channel(mean, x)) ** 2).mean(axis=axes)
    return mean, var


def batchnorm_forward(x, gamma, beta, mean, var, eps=1e-5, batch=True):
    """-> (out, cache). ``mean``, ``var``: the statistics to normalise with, (C,) each: the batch's
    own (``batch=True``, training) or fixed running averages (``batch=False``, evaluation). It
    matters for the backward pass: the batch's statistics depend on x, fixed ones do not."""
    inv_std = 1 / get_array_module(x).sqrt(var + eps)
    xhat = (x - _per_channel(mean, x)) * _per_channel(inv_std, x)
    out = _per_channel(gamma, x) * xhat + _per_channel(beta, x)
    return out, (xhat, gamma, inv_std, batch)


def batchnorm_backward(dout, cache):
    """dout like x -> (dx, dgamma, dbeta).

    dgamma = sum of dout * xhat, dbeta = sum of dout (over the batch and pixels). With the
    batch's statistics, each input also moves its channel's mean and variance, which move
    every output of the channel; with m values per channel the chain rule through both
    (Ioffe & Szegedy's section 3, collected) gives

        dx = gamma / sqrt(var + eps) * (dout - mean(dout) - xhat * mean(dout * xhat))

    and with fixed statistics only the first term: dx = gamma / sqrt(var + eps) * dout."""
    xhat, gamma, inv_std, batch = cache
    axes = _axes(dout)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    scale = _per_channel(gamma * inv_std, dout)
    if not batch:
        return scale * dout, dgamma, dbeta
    m = dout.size // dbeta.size
    dx = scale * (dout - _per_channel(dbeta / m, dout) - xhat * _per_channel(dgamma / m, dout))
    return dx, dgamma, dbeta
