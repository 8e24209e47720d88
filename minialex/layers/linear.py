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
