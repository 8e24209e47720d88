"""The paper's model split: AlexNet over two GPUs, one process each (section 3.2, Figure 2).

"We spread the net across two GPUs ... The parallelization scheme that we
employ essentially puts half of the kernels (or neurons) on each GPU, with one
additional trick: the GPUs communicate only in certain layers." Process r
(0 or 1) holds half of every layer, sliced from a whole ``alexnet()`` so that
both start from its weights:

    conv1  kernels 48r .. 48r+47 of 96, on the whole image (both processes see every image)
    norm1  over its own 48 maps (alexnet() uses LocalResponseNorm(groups=2))
    conv2  its group: 128 kernels on its own 48 maps (conv2 has groups=2)
    conv3  192 of the 384 kernels, on all 256 maps of layer 2       <- exchange
    conv4, conv5  its group (groups=2)
    fc6    2048 of the 4096 neurons, on all 9216 inputs             <- exchange
    fc7    2048 of the 4096 neurons, on all 4096 inputs             <- exchange
    fc8    all the outputs, on its own 2048 of fc7's outputs        <- exchange

The exchanges are exactly Figure 2's lines from one GPU to the other, and are
layers of their own:

* ``AllGather`` before conv3, fc6 and fc7: forward, each process gets both
  halves of the activations, joined along the channels; backward, the
  gradient of the joined activations is the sum of the two processes'
  (each one's kernels used all of them), of which each keeps its own half:
  a reduce-scatter.
* ``AllReduceSum`` after fc8. fc8 is split by its *inputs*: process r holds
  the columns of W that read its own fc7 neurons, W[:, 2048r:2048(r+1)], so
  its product is a partial sum of every logit, and the logits are the sum of
  the two (fc8's bias is added once, on process 0, which holds it). Backward
  needs no exchange: both processes compute the same loss from the same
  logits, so each already has dL/dlogits, and from it the gradients of its own
  columns and of its own fc7 neurons. Splitting fc8 by outputs instead (500
  classes each) would also gather fc7's 4096 outputs and then the logits, and
  reduce-scatter fc7's gradient: per image and process 2 * 2048 + 500 values
  sent instead of 1000.

Dropout draws the mask of the whole layer on both processes, from the same
generator, and each keeps its own neurons (``Dropout.part``), so the masks are
a one-process run's. So the two processes together compute exactly
``alexnet()``, up to the order in which sums are added (tests/test_distributed.py).
"""
from ..layers import Layer, Sequential
from ..optim import parameter_state
from .parallel import Parallel


class AllGather(Layer):
    """x (N, C, ...) on each process -> (N, P*C, ...), everyone's x joined along ``axis``
    in rank order; backward: dout (N, P*C, ...) -> (N, C, ...), this process's block
    of the sum of everyone's dout (a reduce-scatter)."""

    def __init__(self, comm, axis=1):
        super().__init__()
        self.comm, self.axis = comm, axis

    def extra_repr(self):
        return f"axis={self.axis}, processes={self.comm.size}"

    def forward(self, x):
        self._check_input(x)
        return self.comm.allgather(x, self.axis)

    def backward(self, dout):
        return self.comm.reduce_scatter(dout, self.axis)


class AllReduceSum(Layer):
    """x (any shape), a partial sum on each process -> the sum, on every process.
    Backward passes dout through: the layers above compute the same loss from the
    same sum on every process (see the module's docstring)."""

    def __init__(self, comm):
        super().__init__()
        self.comm = comm

    def extra_repr(self):
        return f"processes={self.comm.size}"

    def forward(self, x):
        self._check_input(x)
        return self.comm.allreduce(x.copy())

    def backward(self, dout):
        return dout


def split_alexnet(model, comm):
    """(half, axes): this process's half of ``model``, an ``alexnet()``, as a Sequential
    with the exchange layers in place, and for each parameter and buffer name ("conv1.W")
    the axis along which the two halves join into the whole one (None: only process 0 has it).

    Each layer says how it splits (``Layer.split``): its half, and whether it reads both
    processes' maps (then an ``AllGather`` goes before it, unless it is the first layer,
    which reads the image). The last layer, fc8, is split by its inputs instead
    (``Linear.split_inputs``) and followed by an ``AllReduceSum``. The halves' weights are
    copies of slices of ``model``'s; its layers without weights (ReLU, pooling, flatten,
    dropout with its generator) move into the half as they are, so ``model`` is taken
    apart, not to be run afterwards.
    """
    if comm.size != 2:
        raise ValueError(f"split_alexnet: the paper's split is over two processes, got {comm.size}")
    if not {"conv1", "conv3", "fc6", "fc8"} <= set(model.names):
        raise ValueError(f"--parallel model splits AlexNet as the paper did (section 3.2): use --model alexnet "
                         f"(the model has layers {model.names})")
    r, last = comm.rank, model.names[-1]
    layers, names, axes = [], [], {}

    def add(name, layer, layer_axes=None):
        layers.append(layer)
        names.append(name)
        axes.update({f"{name}.{key}": axis for key, axis in (layer_axes or {}).items()
                     if key in layer.params or key in layer.buffers})

    for name, layer in zip(model.names, model.layers):
        try:
            if name == last:  # fc8, split by its inputs
                part, part_axes = layer.split_inputs(r, comm.size)
                add(name, part, part_axes)
                add(f"sum_{name}", AllReduceSum(comm))
                continue
            part, reads_all, part_axes = layer.split(r, comm.size)
        except (ValueError, AttributeError) as err:
            raise ValueError(f"split_alexnet: {name}: {err}") from err
        if reads_all and layers:  # conv3, fc6, fc7 read the maps of both processes
            add(f"to_{name}", AllGather(comm, axis=1))
        add(name, part, part_axes)
    return Sequential(*layers, names=names), axes


class ModelParallel(Parallel):
    """The Trainer's hooks for the model split: each process trains its half of
    AlexNet on every image of every batch. Its gradients are its own half's, so
    the SGD step needs no exchange; checkpoints hold the whole network (gathered),
    so a run can be resumed split or on one process."""

    def model(self, model):
        half, self.axes = split_alexnet(model, self.comm)
        return half

    def gather(self, parts):
        """{name: this process's part} -> {name: the whole array}, complete on process 0
        (fc8's bias lives there only)."""
        return {name: part if self.axes[name] is None else self.comm.allgather(part, self.axes[name])
                for name, part in parts.items()}

    def scatter(self, whole):
        """The inverse of ``gather``: {name: the whole array} -> {name: this process's part}."""
        r, parts = self.comm.rank, {}
        for name, array in whole.items():
            axis = self.axes.get(name)  # None: fc8's bias (only process 0 has it, so only its axes name it)
            if axis is not None:
                n = array.shape[axis] // 2
                parts[name] = array.take(range(r * n, (r + 1) * n), axis=axis)
            elif r == 0:
                parts[name] = array
        return parts

    def full_state(self, state):
        """The checkpoint's state with the whole network: every process's parameters, buffers and
        optimiser state per parameter (``optim.parameter_state``) joined."""
        return self._each_part(state, self.gather)

    def local_state(self, state):
        """The inverse of ``full_state``: this process's part of a whole network's state."""
        return self._each_part(state, self.scatter)

    @staticmethod
    def _each_part(state, convert):
        model, optimizer = state["model"], state["optimizer"]
        model["params"] = convert(model["params"])
        model["buffers"] = convert(model.get("buffers", {}))
        for key, arrays in parameter_state(optimizer).items():
            optimizer[key] = convert(arrays)
        return state
