"""The CPU's local response normalisation: minialex.functional.lrn's formula,
a chunk of the batch at a time, on every core, computed in place.

The formula makes several passes over maps as big as the input (AlexNet's
first LRN: 1.2 MB a sample); on a chunk of a sample or two they run in cache.
Each step works in place on two arrays per chunk (d and d^-beta), where the
reference's expressions make a new array per operation, and writes into its
slice of one output. Fewer temporaries leave glibc's allocator less to hand
back to the system and fault in again: with glibc as it comes, the backward
pass took 0.28-0.30 of the time of the same chunks computed with a new array
per operation, and the same time with the allocator's trimming off
(results/refactor-speed.md, commit cbd3130 against 87daabe). For the paper's
beta the power d^-beta is taken with two square roots (see
denominator_power). Same signatures, cache and numbers (to rounding) as the
reference, minialex.functional.lrn (its loops: functional/naive.py, lrn_naive).
"""
import numpy as np

from ..functional.lrn import channel_window_sum, grouped
from .chunks import batch_chunks, for_each_chunk


def denominator_power(d, exponent):
    """d ** exponent, as a new array. For the paper's beta, d^-3/4 = 1 / sqrt(d sqrt(d)):
    two square roots cost a fraction of a general power, on every element of
    every normalised map (the steps in place: one new array, not four)."""
    if exponent != -0.75:
        return d ** exponent
    r = np.sqrt(d)
    r *= d
    np.sqrt(r, out=r)
    return np.reciprocal(r, out=r)


def _chunks(a):
    """Chunks of about four samples' bytes: a chunk's input and the three maps made from it."""
    return batch_chunks(np, a.shape[0], 4 * a[0].nbytes)


def _denominator(a, size, alpha, k, beta):
    """(d, d^-beta) for a chunk a, d = k + alpha * (the window sums of a^2)."""
    d = channel_window_sum(a * a, size)
    d *= alpha
    d += k
    return d, denominator_power(d, -beta)


def lrn_forward(x, size=5, alpha=1e-4, beta=0.75, k=2.0, groups=1):
    """out = a * d^-beta (paper section 3.3), as minialex.functional.lrn.lrn_forward:
    x (N, C, H, W) -> (out (N, C, H, W), cache)."""
    a = grouped(x, groups)
    out = np.empty_like(a)

    def run(s):
        np.multiply(a[s], _denominator(a[s], size, alpha, k, beta)[1], out=out[s])

    for_each_chunk(run, _chunks(a))
    return out.reshape(x.shape), (a, size, alpha, beta, k)


def lrn_backward(dout, cache):
    """dout (N, C, H, W) -> dx (N, C, H, W), as minialex.functional.lrn.lrn_backward:
    dx_j = dout_j d_j^-beta - 2 alpha beta a_j * (window sum of dout_i a_i d_i^(-beta-1))."""
    a, size, alpha, beta, k = cache
    g = dout.reshape(a.shape)
    dx = np.empty_like(g)

    def run(s):
        d, scale = _denominator(a[s], size, alpha, k, beta)
        t = g[s] * a[s]
        t *= scale
        t /= d
        window = channel_window_sum(t, size)
        window *= a[s]
        window *= 2 * alpha * beta
        np.multiply(g[s], scale, out=dx[s])
        dx[s] -= window

    for_each_chunk(run, _chunks(a))
    return dx.reshape(dout.shape)
