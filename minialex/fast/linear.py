"""The CPU's fully connected layer: minialex.functional.linear, its products cut into blocks the cores share.

With a batch of 32, reading fc6's 151 MB W is most of the work, so each core
reads its own block of W's rows (output features) or columns (input
features), once.
"""
import numpy as np

from .chunks import batch_chunks, for_each_chunk


def linear_forward(x, W, b):
    out = np.empty((x.shape[0], W.shape[0]), dtype=x.dtype)

    def outputs(f):
        out[:, f] = x @ W[f].T

    for_each_chunk(outputs, batch_chunks(np, W.shape[0], W[0].nbytes))  # a few MB of W each
    if b is not None:
        out += b
    return out, (x, W)


def linear_backward(dout, cache):
    x, W = cache
    dW, dx = np.empty_like(W), np.empty_like(x)

    def weight_rows(f):
        dW[f] = dout[:, f].T @ x

    def input_columns(d):
        dx[:, d] = dout @ W[:, d]

    for_each_chunk(weight_rows, batch_chunks(np, W.shape[0], W[0].nbytes))
    for_each_chunk(input_columns, batch_chunks(np, W.shape[1], W[:, 0].nbytes))
    return dx, dW, dout.sum(axis=0)
