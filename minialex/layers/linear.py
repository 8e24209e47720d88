"""Fully connected layer (the maths: minialex/functional/linear.py)."""
import numpy as np

from .. import dispatch
from .layer import Layer, init_param


class Linear(Layer):
    """y = x W^T + b.

    Shapes: x (N, in_features), W (out_features, in_features), b (out_features,),
    out (N, out_features).
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

    def output_shape(self, input_shape):
        if input_shape[1] != self.in_features:
            raise ValueError(f"input would have {input_shape[1]} features; it expects {self.in_features}")
        return (input_shape[0], self.out_features)

    def flops(self, input_shape, output_shape):
        return 2 * self.in_features * self.out_features

    def split(self, rank, size):
        """Neurons [rank n/size, (rank+1) n/size) (rows of W, with their biases), on every input."""
        return self._part(rank, size, axis=0), True, {key: 0 for key in self.params}

    def split_inputs(self, rank, size):
        """(part, axes): the columns of W that read inputs [rank n/size, (rank+1) n/size), giving a
        partial sum of every output (the bias, added once, on process 0) - how the paper's split
        computes the last layer, fc8 (see minialex/distributed/model.py)."""
        part = self._part(rank, size, axis=1)
        return part, {"W": 1, "b": None}

    def _part(self, rank, size, axis):
        W = self.params["W"]
        n = W.shape[axis] // size
        rows = slice(rank * n, (rank + 1) * n)
        bias = "b" in self.params and (axis == 0 or rank == 0)
        shape = (self.in_features, n) if axis == 0 else (n, self.out_features)
        part = Linear(*shape, bias=bias, dtype=W.dtype)
        part.params["W"] = (W[rows] if axis == 0 else W[:, rows]).copy()
        if bias:
            part.params["b"] = self.params["b"][rows if axis == 0 else slice(None)].copy()
        return part

    def forward(self, x):
        self._check_input(x, 2, "(N, in_features)")
        if x.shape[1] != self.in_features:
            raise ValueError(f"{self!r}: input has {x.shape[1]} features, expected {self.in_features} "
                             f"(shape {tuple(x.shape)})")
        return self._run(dispatch.choose("linear", x), x, self.params["W"], self.params.get("b"))

    def backward(self, dout):
        """dout (N, out_features) -> dx (N, in_features)."""
        self.grads.clear()  # let go of last step's gradients before making new ones (fc6's: 151 MB)
        dx, self.grads["W"], db = self._run_backward(dout)
        if "b" in self.params:
            self.grads["b"] = db
        return dx
