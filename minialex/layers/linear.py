"""Fully connected layer."""
import numpy as np

from ..backend import get_array_module
from .chunks import batch_chunks, for_each_chunk
from .layer import Layer, init_param


class Linear(Layer):
    """y = x W^T + b.

    Shapes: x (N, in_features), W (out_features, in_features), b (out_features,),
    out (N, out_features).

    On the CPU each product is cut into blocks of W's rows (output features)
    or columns (input features) that the cores share (chunks.py): with a
    batch of 32, reading fc6's 151 MB W is most of the work, so each core
    reads its own part of W, once.
    """

    def __init__(self, in_features, out_features, bias=True, weight_std=0.01, bias_init=0.0,
                 rng=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.params["W"] = init_param(rng, (out_features, in_features), weight_std, dtype)
        if bias:
            self.params["b"] = np.full(out_features, bias_init, dtype=dtype)

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}" + (", bias=False" if "b" not in self.params else "")

    def forward(self, x):
        self._check_input(x, 2, "(N, in_features)")
        if x.shape[1] != self.in_features:
            raise ValueError(f"{self!r}: input has {x.shape[1]} features, expected {self.in_features} "
                             f"(shape {tuple(x.shape)})")
        self._x = x
        W = self.params["W"]
        xp = get_array_module(x)
        out = xp.empty((x.shape[0], self.out_features), dtype=x.dtype)

        def outputs(f):
            out[:, f] = x @ W[f].T

        for_each_chunk(outputs, batch_chunks(xp, self.out_features, W[0].nbytes), xp)  # a few MB of W each
        if "b" in self.params:
            out += self.params["b"]
        return out

    def backward(self, dout):
        """dout (N, out_features) -> dx (N, in_features)."""
        self.grads.clear()  # let go of last step's gradients before making new ones (fc6's: 151 MB)
        W = self.params["W"]
        xp = get_array_module(dout)
        dW = xp.empty_like(W)
        dx = xp.empty_like(self._x)

        def weight_rows(f):
            dW[f] = dout[:, f].T @ self._x

        def input_columns(d):
            dx[:, d] = dout @ W[:, d]

        for_each_chunk(weight_rows, batch_chunks(xp, self.out_features, W[0].nbytes), xp)
        for_each_chunk(input_columns, batch_chunks(xp, self.in_features, W[:, 0].nbytes), xp)
        self.grads["W"] = dW
        if "b" in self.params:
            self.grads["b"] = dout.sum(axis=0)
        return dx
