"""The fully connected layer: out = x W^T + b.

Shapes: x (N, in), W (out, in), b (out,) or None -> out (N, out).
"""


def linear_forward(x, W, b):
    """-> (out (N, out), cache)."""
    out = x @ W.T
    if b is not None:
        out += b
    return out, (x, W)


def linear_backward(dout, cache):
    """dout (N, out) -> (dx (N, in), dW (out, in), db (out,)).

    out[n, f] = sum_d x[n, d] W[f, d] + b[f], so dout[n, f] reaches x[n, d]
    through W[f, d] and W[f, d] through x[n, d], summed over the other index."""
    x, W = cache
    return dout @ W, dout.T @ x, dout.sum(axis=0)
