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
from ..layers import Conv2d, Dropout, Layer, Linear, LocalResponseNorm, Sequential
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
    with the exchange layers in place, and for each parameter name ("conv1.W") the axis
    along which the two halves join into the whole one (None: only process 0 has it).

    The halves' weights are copies of slices of ``model``'s; its layers without weights
    (ReLU, pooling, flatten, dropout with its generator) move into the half as they are,
    so ``model`` is taken apart, not to be run afterwards.
    """
    if comm.size != 2:
        raise ValueError(f"split_alexnet: the paper's split is over two processes, got {comm.size}")
    if not {"conv1", "conv3", "fc6", "fc8"} <= set(model.names):
        raise ValueError(f"--parallel model splits AlexNet as the paper did (section 3.2): use --model alexnet "
                         f"(the model has layers {model.names})")
    r, last = comm.rank, model.names[-1]
    layers, names, axes = [], [], {}
    neurons = None  # (first, all): where this process's neurons of the last fc layer lie

    def add(name, layer, **param_axes):
        layers.append(layer)
        names.append(name)
        axes.update({f"{name}.{key}": axis for key, axis in param_axes.items() if key in layer.params})

    for name, layer in zip(model.names, model.layers):
        if isinstance(layer, Conv2d):
            if layer.groups == 1 and layers:  # conv3 reads the maps of both processes
                add(f"to_{name}", AllGather(comm, axis=1))
            add(name, _conv_half(layer, r), W=0, b=0)
        elif isinstance(layer, Linear) and name == last:  # fc8, split by its inputs
            add(name, _linear_half(layer, r, axis=1), W=1, b=None)
            add(f"sum_{name}", AllReduceSum(comm))
        elif isinstance(layer, Linear):  # fc6, fc7: half the neurons, on every input
            add(f"to_{name}", AllGather(comm, axis=1))
            add(name, _linear_half(layer, r, axis=0), W=0, b=0)
            neurons = (r * layer.out_features // 2, layer.out_features)
        elif isinstance(layer, LocalResponseNorm):
            if layer.groups != 2:
                raise ValueError(f"split_alexnet: {name} must normalise each GPU's maps on its own "
                                 f"(groups=2, as alexnet() builds it), got {layer!r}")
            add(name, LocalResponseNorm(layer.size, layer.alpha, layer.beta, layer.k))
        elif isinstance(layer, Dropout):
            layer.part = (1, *neurons)  # the mask of all the layer's neurons; this process's columns
            add(name, layer)
        else:
            add(name, layer)
    return Sequential(*layers, names=names), axes


def _conv_half(conv, r):
    """Kernels [rF/2, (r+1)F/2) of ``conv``: on the whole input for groups=1, on this
    process's group of it for groups=2 (where that is all they see anyway)."""
    if conv.groups not in (1, 2):
        raise ValueError(f"split_alexnet: a convolution of 1 or 2 groups splits over two processes, got {conv!r}")
    W, f = conv.params["W"], conv.out_channels // 2
    half = Conv2d(conv.in_channels // conv.groups, f, conv.kernel_size, conv.stride, conv.padding,
                  bias="b" in conv.params, dtype=W.dtype)
    half.needs_input_grad = conv.needs_input_grad
    half.params = {key: value[r * f:(r + 1) * f].copy() for key, value in conv.params.items()}
    return half


def _linear_half(fc, r, axis):
    """Half r of ``fc``'s outputs (axis 0: rows of W, with their biases) or of its
    inputs (axis 1: columns of W; the bias, added once, on process 0)."""
    W = fc.params["W"]
    n = W.shape[axis] // 2
    part = slice(r * n, (r + 1) * n)
    bias = "b" in fc.params and (axis == 0 or r == 0)
    half = Linear(*((fc.in_features, n) if axis == 0 else (n, fc.out_features)), bias=bias, dtype=W.dtype)
    half.params["W"] = (W[part] if axis == 0 else W[:, part]).copy()
    if bias:
        half.params["b"] = fc.params["b"][part if axis == 0 else slice(None)].copy()
    return half


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
        state["model"]["params"] = self.gather(state["model"]["params"])
        state["optimizer"]["velocity"] = self.gather(state["optimizer"]["velocity"])
        return state

    def local_state(self, state):
        state["model"]["params"] = self.scatter(state["model"]["params"])
        state["optimizer"]["velocity"] = self.scatter(state["optimizer"]["velocity"])
        return state
