"""Local response normalisation across channels (paper section 3.3).

    b_i = a_i / (k + alpha * sum_{j = i - n/2}^{i + n/2} a_j^2) ^ beta

summed over ``size`` = n neighbouring channels at the same pixel (clipped at
the first and last channel). Shapes: x (N, C, H, W) -> out (N, C, H, W).

Here alpha multiplies the plain sum, as in the paper. PyTorch and Caffe divide
alpha by ``size``: ``lrn_forward(x, size, alpha)`` equals
``torch.nn.LocalResponseNorm(size, alpha * size, beta, k)(x)``.

The CPU's fast path (minialex/fast/lrn.py) computes the same numbers in place,
a chunk of the batch at a time, with a cheaper power for the paper's beta;
the loops to check both against: functional/naive.py, lrn_naive.
"""


def channel_window_sum(a, size):
    """s[:, i] = sum of a[:, j] for |j - i| <= size // 2 (clipped at the edges).
    a (N, C, H, W) -> (N, C, H, W)."""
    s = a.copy()
    for offset in range(1, size // 2 + 1):
        s[:, offset:] += a[:, :-offset]  # the neighbour `offset` channels below
        s[:, :-offset] += a[:, offset:]  # and above; slicing clips at the edges
    return s


def grouped(a, groups):
    """(N, C, H, W) -> (N*groups, C/groups, H, W): each group of channels an
    image of its own, so the window stops at the group's edge (a reshape, no copy)."""
    n, c, h, w = a.shape
    return a.reshape(n * groups, c // groups, h, w)


def lrn_forward(x, size=5, alpha=1e-4, beta=0.75, k=2.0, groups=1):
    """x (N, C, H, W) -> (out (N, C, H, W), cache); the paper's constants are the defaults.

    ``groups``: normalise within each group of C/groups channels. In the
    paper's two-GPU network each GPU normalises over its own kernel maps
    (sections 3.2 and 3.3), so ``alexnet()`` uses groups=2."""
    a = grouped(x, groups)
    d = k + alpha * channel_window_sum(a * a, size)
    out = a / d ** beta
    # The cache is the input only: backward recomputes d, which keeps one
    # array per layer alive between the passes instead of three.
    return out.reshape(x.shape), (a, size, alpha, beta, k)


def lrn_backward(dout, cache):
    """dout (N, C, H, W) -> dx (N, C, H, W).

    With d_i = k + alpha * S_i and b_i = a_i d_i^-beta, a_j changes its own
    output and the denominator d_i of every channel i whose window holds it:

        dL/da_j = dout_j d_j^-beta - 2 alpha beta a_j * sum_{i: j in window(i)} dout_i a_i d_i^(-beta-1)

    The window is symmetric, so "every i whose window holds j" is again a
    window sum: two elementwise steps and one more window sum."""
    a, size, alpha, beta, k = cache
    g = dout.reshape(a.shape)
    d = k + alpha * channel_window_sum(a * a, size)
    dx = g * d ** -beta - 2 * alpha * beta * a * channel_window_sum(g * a * d ** (-beta - 1), size)
    return dx.reshape(dout.shape)
