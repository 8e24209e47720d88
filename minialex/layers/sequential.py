"""A chain of layers: forward left to right, backward right to left."""
from ..summary import summary
from .layer import Layer


class Sequential(Layer):
    """``Sequential(Conv2d(...), ReLU(), ...)``; ``names`` optionally labels the layers
    (e.g. "conv1"), which ``named_parameters()`` and ``state_dict()`` use ("conv1.W")."""

    def __init__(self, *layers, names=None):
        super().__init__()
        self.layers = list(layers)
        self.names = list(names) if names is not None else [str(i) for i in range(len(layers))]
        if len(self.names) != len(self.layers):
            raise ValueError("Sequential: give one name per layer")

    def __getitem__(self, i):
        """``model[0]`` or ``model["conv1"]``: a layer, by position or by name."""
        if isinstance(i, int):
            return self.layers[i]
        if i not in self.names:
            raise KeyError(f"Sequential has no layer named {i!r}; its layers: {', '.join(self.names)}")
        return self.layers[self.names.index(i)]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        rows = [f"  ({name}): {layer!r}" for name, layer in zip(self.names, self.layers)]
        return "Sequential(\n" + "\n".join(rows) + "\n)"

    def forward(self, x):
        """x -> the last layer's output. An input whose size does not fit the network gets an error that
        says which sizes it takes (AlexNet: 227x227, not torchvision's 224)."""
        first = x
        for layer in self.layers:
            try:
                x = layer.forward(x)
            except ValueError as err:
                raise ValueError(f"{err}{self._input_size_advice(first)}") from None
        return x

    def _input_size_advice(self, x):
        """"" if the network takes x's size, else a sentence naming the square sizes it takes near it."""
        shape = getattr(x, "shape", ())
        if len(shape) != 4 or shape[2] != shape[3]:
            return ""
        try:
            self.output_shape(shape)
            return ""  # the size fits: the error is about something else
        except ValueError as err:
            problem = err
        fits = [size for size in range(1, 2 * shape[2] + 64)
                if self._takes(shape[:2] + (size, size))]
        if not fits:
            return f" (with {shape[2]}x{shape[3]} inputs, {problem})"
        low = high = min(fits, key=lambda size: abs(size - shape[2]))  # the nearest size it takes
        while low - 1 in fits:
            low -= 1
        while high + 1 in fits:
            high += 1
        sizes = f"{low}x{low}" + (f" to {high}x{high}" if high > low else "")
        return f". This network takes {sizes} inputs; with {shape[2]}x{shape[3]}, {problem}"

    def _takes(self, shape):
        try:
            self.output_shape(shape)
            return True
        except ValueError:
            return False

    def summary(self, input_size):
        """``minialex.summary.summary(self, input_size)``: the layer table."""
        return summary(self, input_size)

    def backward(self, dout):
        """Returns dL/dx, or None when the first layer skips its input gradient."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
            if dout is None:
                return None
        return dout

    def train(self):
        self.training = True
        for layer in self.layers:
            layer.train()
        return self

    def eval(self):
        self.training = False
        for layer in self.layers:
            layer.eval()
        return self

    def parameter_slots(self):
        return [(f"{name}.{pname}", owner, key)
                for name, layer in zip(self.names, self.layers)
                for pname, owner, key in layer.parameter_slots()]

    def buffer_slots(self):
        return [(f"{name}.{bname}", owner, key)
                for name, layer in zip(self.names, self.layers)
                for bname, owner, key in layer.buffer_slots()]

    def extra_state(self):
        """[the extra state of each layer that has one], in order (dropout's generators)."""
        return [state for state in (layer.extra_state() for layer in self.layers) if state is not None]

    def load_extra_state(self, states):
        holders = [layer for layer in self.layers if layer.extra_state() is not None]
        if len(holders) != len(states):
            raise ValueError(f"the saved state has {len(states)} layers' random state, this network "
                             f"{len(holders)}: it was saved from another network")
        for layer, state in zip(holders, states):
            layer.load_extra_state(state)

    def output_shape(self, input_shape):
        """Through every layer; a ValueError names the first layer that cannot take its input
        ("pool1's 3x3 window is larger than its 1x1 input")."""
        shape = tuple(input_shape)
        for name, layer in zip(self.names, self.layers):
            try:
                shape = layer.output_shape(shape)
            except ValueError as err:
                raise ValueError(f"{name}'s {err}") from None
        return shape

    def share_batch(self, start, whole):
        for layer in self.layers:
            layer.share_batch(start, whole)

    def to(self, device=None, dtype=None):
        for layer in self.layers:
            layer.to(device, dtype)
        return self
