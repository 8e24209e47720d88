"""The contract every layer keeps, in the style of CS231n's forward/backward pairs.

A layer is an object with

* ``forward(x)``: computes the output and keeps in ``self`` whatever the
  backward pass will need (the "cache");
* ``backward(dout)``: takes dL/d(output), fills ``self.grads`` with dL/d(each
  parameter) and returns dL/d(input);
* ``params`` / ``grads``: dicts name -> array (``"W"`` and ``"b"`` for the
  paper's layers; batch normalisation's gamma and beta are its "W" and "b");
* ``buffers``: arrays that are state but not learned (batch normalisation's
  running statistics), saved with the parameters but never updated by SGD;
* ``extra_state()`` / ``load_extra_state()``: state that belongs in a
  checkpoint but not in ``state_dict`` (dropout's random generator; PyTorch's
  state_dict has no random state either);
* ``train()`` / ``eval()``: sets ``self.training``, which a layer that behaves
  differently in the two modes (dropout, batch normalisation) reads;
* ``output_shape(shape)``, ``flops(in_shape, out_shape)``: what ``summary`` and
  the input-size checks ask, without running anything;
* ``share_batch(start, whole)`` and ``split(rank, size)``: how a layer takes
  part when several processes share the work (``minialex.distributed``).

Everything outside a layer's own module asks the layer through these methods
and never switches on its type (tests/test_layer_contract.py checks the source),
so a new layer is its own file plus the network that uses it.

The maths is not here: a layer holds its parameters and settings, checks its
input, and calls the forward/backward pair of ``minialex.functional`` (or the
fast path ``minialex.dispatch`` chooses for it), keeping the cache between
the two passes (``_run`` and ``_run_backward``).
"""
import numpy as np

from ..backend import device_of, get_array_module, to_device, to_numpy


class Parameters(list):
    """What ``parameters()`` returns: the parameter arrays themselves, as PyTorch's
    ``parameters()`` gives its tensors (``sum(p.size for p in model.parameters())``),
    which also remembers where each one lives (``slots``: (name, layer, key)),
    because an optimiser must update ``layer.params[key]``, which ``to()`` and
    ``load_state_dict`` may replace by another array."""

    def __init__(self, slots):
        self.slots = list(slots)
        super().__init__(owner.params[key] for _, owner, key in self.slots)


class Layer:
    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
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

    # -- parameters and state ---------------------------------------------------------

    def parameter_slots(self):
        """[(name, layer, key)]: where each parameter lives (``layer.params[key]``), for optimisers
        and gradient checks; a Sequential's names are "conv1.W"."""
        return [(key, self, key) for key in self.params]

    def buffer_slots(self):
        """As ``parameter_slots``, for the buffers (``layer.buffers[key]``)."""
        return [(key, self, key) for key in self.buffers]

    def parameters(self):
        """The parameter arrays (a ``Parameters`` list), as PyTorch's ``parameters()``."""
        return Parameters(self.parameter_slots())

    def named_parameters(self):
        """{"W": array, "b": array}; for a Sequential {"conv1.W": array, ...} (PyTorch's
        ``dict(named_parameters())``). The arrays themselves, not copies. One layer's:
        ``model["conv1"].params["W"]``."""
        return {name: owner.params[key] for name, owner, key in self.parameter_slots()}

    def named_grads(self):
        """As ``named_parameters``, for the gradients of the last backward pass."""
        return {name: owner.grads[key] for name, owner, key in self.parameter_slots()}

    def named_buffers(self):
        """As ``named_parameters``, for the buffers ("bn1.running_mean")."""
        return {name: owner.buffers[key] for name, owner, key in self.buffer_slots()}

    def state_dict(self):
        """{name: NumPy copy} of every parameter and buffer ("conv1.W", "bn1.running_mean"),
        as PyTorch's ``state_dict()``; ``load_state_dict`` puts it back."""
        return {name: to_numpy(array).copy()
                for name, array in {**self.named_parameters(), **self.named_buffers()}.items()}

    def load_state_dict(self, state_dict, strict=True):
        """Copy the arrays of ``state_dict`` into the parameters and buffers of the same names, keeping
        each one's device and dtype. strict=True: the names must be exactly the model's and every shape
        must fit, else a ValueError names the missing, unexpected and mis-shaped entries and nothing is
        loaded. strict=False loads the names that fit and returns (missing, unexpected), as PyTorch does;
        a mis-shaped entry is an error either way."""
        slots = {name: (owner.params, key) for name, owner, key in self.parameter_slots()}
        slots.update({name: (owner.buffers, key) for name, owner, key in self.buffer_slots()})
        missing = [name for name in slots if name not in state_dict]
        unexpected = [name for name in state_dict if name not in slots]
        misshaped = [f"{name} is {tuple(np.shape(state_dict[name]))} in the state dict, "
                     f"{tuple(where[key].shape)} in the model"
                     for name, (where, key) in slots.items()
                     if name in state_dict and tuple(np.shape(state_dict[name])) != tuple(where[key].shape)]
        problems = ([f"missing: {', '.join(missing)}"] if missing and strict else []) + \
                   ([f"unexpected: {', '.join(unexpected)}"] if unexpected and strict else []) + misshaped
        if problems:
            raise ValueError(f"load_state_dict: the state dict does not fit {type(self).__name__}: "
                             + "; ".join(problems))
        for name, (where, key) in slots.items():
            if name in state_dict:
                current = where[key]
                value = np.array(to_numpy(state_dict[name]), dtype=current.dtype)  # a copy: updates are in place
                where[key] = to_device(value, device_of(current))
        return missing, unexpected

    def extra_state(self):
        """State this layer keeps outside ``state_dict`` that a checkpoint must save (JSON-ready data,
        or None for none): a random generator's state, so a resumed run draws the same numbers."""
        return None

    def load_extra_state(self, state):
        """Put back what ``extra_state`` returned."""

    def to(self, device=None, dtype=None):
        """Move parameters and buffers to ``device`` ("cpu"/"gpu") and/or cast them to ``dtype``."""
        for arrays in (self.params, self.buffers):
            for key, value in arrays.items():
                if device is not None:
                    value = to_device(value, device)
                if dtype is not None:
                    value = value.astype(dtype)
                arrays[key] = value
        self.grads = {}
        return self

    # -- shapes and work, for summary() and the input-size checks ---------------------------

    def output_shape(self, input_shape):
        """The output's shape for an input of ``input_shape``, computed without running the layer;
        a ValueError that says why when the layer cannot take such an input. This default is that
        of a layer that keeps the shape (activations, normalisations, dropout)."""
        return tuple(input_shape)

    def flops(self, input_shape, output_shape):
        """Forward floating-point operations for ONE image (a multiply-add counts 2). This default
        counts one operation per output element; layers with more work per element say so."""
        return int(np.prod(output_shape[1:]))

    # -- several processes (minialex.distributed) -------------------------------------------

    def share_batch(self, start, whole):
        """Data parallelism: from now on this process computes rows start.. of batches of ``whole``
        images. A layer that treats every image on its own needs to know nothing (this default);
        one that draws random numbers for the batch draws them for all ``whole`` rows and keeps its
        own (dropout); one that mixes images refuses (batch normalisation)."""

    def split(self, rank, size):
        """The paper's model split (section 3.2): process ``rank`` of ``size`` computes 1/size of the
        layer's output maps (or neurons), for every image. Returns (part, reads_all, axes): the layer
        this process runs; whether it reads every process's input maps (True: an all-gather of the
        activations goes before it) or only its own; and {key: axis} along which its parameters and
        buffers join into the whole layer's. This default is that of a layer that treats every map on
        its own and holds no parameters: each process runs it on its own maps, as it is."""
        if self.params or self.buffers:
            raise ValueError(f"{self!r} does not say how to split its parameters over processes")
        return self, False, {}

    def extra_repr(self):
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    def _run(self, implementation, *args):
        """out of ``implementation.forward(*args)``; its cache and backward are kept for ``_run_backward``."""
        out, self._cache = implementation.forward(*args)
        self._backward = implementation.backward
        return out

    def _run_backward(self, dout, *args):
        return self._backward(dout, self._cache, *args)

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
