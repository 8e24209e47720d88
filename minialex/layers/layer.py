"""The contract every layer keeps, in the style of CS231n's forward/backward pairs.

A layer is an object with

* ``forward(x)``: computes the output and keeps in ``self`` whatever the
  backward pass will need (the "cache");
* ``backward(dout)``: takes dL/d(output), fills ``self.grads`` with dL/d(each
  parameter) and returns dL/d(input);
* ``params`` / ``grads``: dicts name -> array, keys ``"W"`` and ``"b"``;
* ``train()`` / ``eval()``: only dropout behaves differently in the two modes.

The maths is not here: a layer holds its parameters and settings, checks its
input, and calls the forward/backward pair of ``minialex.functional`` (or the
fast path ``minialex.dispatch`` chooses for it), keeping the cache between
the two passes (``_run`` and ``_run_backward``).
"""
import numpy as np

from ..backend import get_array_module, to_device


class Layer:
    def __init__(self):
        self.params = {}
        self.grads = {}
        self.training = True

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    def parameters(self):
        """[(name, layer, key)]: where each parameter lives, for optimisers."""
        return [(key, self, key) for key in self.params]

    def to(self, device=None, dtype=None):
        """Move parameters to ``device`` ("cpu"/"gpu") and/or cast them to ``dtype``."""
        for key, value in self.params.items():
            if device is not None:
                value = to_device(value, device)
            if dtype is not None:
                value = value.astype(dtype)
            self.params[key] = value
        self.grads = {}
        return self

    def _run(self, implementation, *args):
        """out of ``implementation.forward(*args)``; its cache and backward are kept for ``_run_backward``."""
        out, self._cache = implementation.forward(*args)
        self._backward = implementation.backward
        return out

    def _run_backward(self, dout, *args):
        return self._backward(dout, self._cache, *args)

    def named_parameters(self):
        """{"W": array, "b": array}; for a Sequential {"conv1.W": array, ...} (PyTorch's names).
        The arrays themselves, not copies. One layer's: ``model["conv1"].params["W"]``."""
        return {name: owner.params[key] for name, owner, key in self.parameters()}

    def named_grads(self):
        """As ``named_parameters``, for the gradients of the last backward pass."""
        return {name: owner.grads[key] for name, owner, key in self.parameters()}

    def extra_repr(self):
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    # -- input checks: fail before any work, naming the layer and the shapes --

    def _check_input(self, x, ndim=None, layout="of any shape"):
        if not hasattr(x, "ndim") or not hasattr(x, "dtype"):
            raise ValueError(f"{self!r}: expected an array {layout}, got {type(x).__name__}")
        if ndim is not None and x.ndim != ndim:
            raise ValueError(f"{self!r}: expected a {ndim}-D input {layout}, got shape {tuple(x.shape)}")
        if x.dtype.kind != "f":
            raise ValueError(f"{self!r}: expected a floating-point input, got dtype {x.dtype}; "
                             "convert images with x.astype(np.float32) (see minialex.data.to_float)")
        if self.params:
            w = next(iter(self.params.values()))
            if x.dtype != w.dtype:
                raise ValueError(f"{self!r}: input is {x.dtype} but the parameters are {w.dtype}; "
                                 f"cast one of them (x.astype(...) or layer.to(dtype=...))")
            if get_array_module(x) is not get_array_module(w):
                raise ValueError(f"{self!r}: input and parameters are on different devices; "
                                 "move the model with .to(device) or the input with minialex.backend.to_device")


def init_param(rng, shape, std, dtype):
    """Weights drawn from N(0, std^2), the paper's initialisation (section 5)."""
    rng = rng if rng is not None else np.random.default_rng()
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(dtype)
