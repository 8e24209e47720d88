"""A network's weights alone, apart from a run's training state: ``minialex.save`` and ``minialex.load``.

    minialex.save(model, "model.npz", mean=mean, crop=227, classes=names)
    saved = minialex.load("model.npz")      # a SavedModel: .model, .mean, .crop, .classes
    logits = saved.model.forward(x)

A checkpoint (``checkpoint.py``) holds everything to continue training, the
momentum buffers included, so AlexNet's is about twice its weights. This file
holds only what *using* the network takes:

* ``layers``: the architecture, one ``[name, class, arguments]`` per layer,
  e.g. ``["conv1", "Conv2d", {"in_channels": 3, "out_channels": 96, ...}]``.
  Every layer keeps its constructor's arguments under the same names (PyTorch's
  convention: ``conv.in_channels``, ``pool.kernel_size``), so they are read back
  from the layers themselves (``architecture``), and ``build`` calls the
  constructors again. Only the classes of ``minialex.layers`` can be named.
* ``state_dict``: ``model.state_dict()``, ``{"conv1.W": array, ...}``;
  float16 with ``half=True`` (half the size; the weights keep about three
  significant digits, and ``load`` gives float32 back);
* what turns images into the network's input and its outputs into names:
  ``mean`` (the mean image subtracted from every input, float32 (C, H, W)),
  ``crop`` (the input's side) and ``classes``;
* and, for the weights of a training run, the run's options (``config``),
  ``epoch`` and ``trained_on``, so that ``--eval-only`` and ``visualize`` know
  its data set; ``source`` says where converted weights came from.

It is written and read by ``checkpoint.save`` and ``checkpoint.load``: an npz
of plain arrays and JSON, never a pickle, with the same SHA-256 check. Every
value is checked before a layer is built, so a damaged or hostile file is
refused with one line that names it.
"""
import inspect

import numpy as np

from . import checkpoint, layers as layer_classes
from .backend import to_numpy

FORMAT = "minialex weights 1"
RUN_FILE = "model.npz"  # a training run's weights file, beside its checkpoint.npz (--keep)
# The layer classes a weights file may name: the layers of minialex.layers that a network is made of.
LAYERS = {name: getattr(layer_classes, name) for name in layer_classes.__all__
          if name not in ("Layer", "Sequential", "SoftmaxCrossEntropy")}
# Constructor arguments that set only the initial values or the generator, which the saved weights replace.
INITIAL_ONLY = ("weight_std", "bias_init", "rng", "dtype")
SMALL = 64  # the largest integer argument (a window, a stride, a padding) a layer without weights may have


def architecture(model):
    """[[name, class name, {argument: value}], ...] of a Sequential: each layer's constructor arguments,
    read from the attributes of the same names. ``bias`` is whether the layer has a "b" parameter."""
    described = []
    for name, layer in zip(model.names, model.layers):
        kind = type(layer).__name__
        if kind not in LAYERS:
            raise ValueError(f"minialex.save: layer {name} is a {kind}, which a weights file cannot describe "
                             f"(it holds only the layers of minialex.layers: {', '.join(LAYERS)})")
        arguments = {}
        for argument in _arguments(LAYERS[kind]):
            if argument == "bias":
                arguments["bias"] = "b" in layer.params
            elif hasattr(layer, argument):
                arguments[argument] = _plain(getattr(layer, argument))
        described.append([name, kind, arguments])
    return described


def _arguments(cls):
    """The constructor arguments of a layer class that shape the network (not the initial values)."""
    return [p for p in list(inspect.signature(cls).parameters) if p not in INITIAL_ONLY]


def _plain(value):
    """An attribute as JSON-ready data: NumPy scalars become Python numbers, tuples lists."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def save(model, path, mean=None, crop=None, classes=None, half=False, config=None, epoch=None, trained_on=None,
         source=None):
    """Write ``model``'s architecture and weights to ``path`` (an .npz), with what using it takes:
    ``mean`` (C, H, W), ``crop``, ``classes`` (names by label). ``half``: the weights in float16.
    ``config`` (a TrainConfig as a dict), ``epoch``, ``trained_on``: a training run's; ``source``:
    where converted weights came from. Written atomically; returns ``path``."""
    write(path, architecture(model), model.state_dict(), mean, crop, classes, half, config, epoch, trained_on,
          source)
    return path


def write(path, layers, state_dict, mean=None, crop=None, classes=None, half=False, config=None, epoch=None,
          trained_on=None, source=None):
    """``save`` from the parts: the ``architecture`` of the whole network and its state dict (the
    trainer's model may be one process's half of it, so it passes both)."""
    dtype = np.float16 if half else None
    weights = {name: to_numpy(w).astype(dtype or to_numpy(w).dtype, copy=False) for name, w in state_dict.items()}
    checkpoint.save(path, {
        "format": FORMAT, "layers": layers, "state_dict": weights,
        "mean": None if mean is None else np.asarray(to_numpy(mean), np.float32),
        "crop": None if crop is None else int(crop),
        "classes": None if classes is None else [str(c) for c in classes], "half": bool(half),
        "config": config, "epoch": None if epoch is None else int(epoch), "trained_on": trained_on, "source": source})


def is_weights_file(state):
    """True for what ``checkpoint.load`` read from a weights file (rather than a run's checkpoint)."""
    return isinstance(state, dict) and state.get("format") == FORMAT


def check(state, path):
    """``state`` (read from ``path``) if it is a whole weights file, with float16 weights as float32;
    a ValueError naming the file and what is wrong otherwise."""
    def refuse(what):
        raise ValueError(f"{path} is not a usable minialex weights file: {what}")

    if not is_weights_file(state):
        refuse(f"its content is not marked {FORMAT!r}")
    weights = state.get("state_dict")
    if not isinstance(weights, dict) or not weights or not all(
            isinstance(k, str) and isinstance(v, np.ndarray) and v.dtype.kind == "f" for k, v in weights.items()):
        refuse("'state_dict' must map names to floating-point arrays")
    _check_layers(state.get("layers"), weights, refuse)
    mean, crop, classes = state.get("mean"), state.get("crop"), state.get("classes")
    if mean is not None and not (isinstance(mean, np.ndarray) and mean.ndim == 3 and mean.dtype.kind == "f"):
        refuse("'mean' must be a (C, H, W) floating-point image")
    if crop is not None and not (isinstance(crop, int) and 1 <= crop <= (min(mean.shape[1:]) if mean is not None
                                                                         else SMALL * SMALL)):
        refuse(f"'crop' {crop!r} is not a size that fits its mean image")
    if classes is not None:
        last = weights[list(weights)[-1]]
        if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)) or len(classes) != len(last):
            refuse(f"'classes' must be {len(last)} names, one per output of its last layer")
    if state.get("config") is not None and not isinstance(state["config"], dict):
        refuse("'config' must be a dict of a run's options")
    if state.get("half"):
        state["state_dict"] = {name: w.astype(np.float32) for name, w in weights.items()}
    return state


def _check_layers(layers, weights, refuse):
    """Every layer named with a class of minialex.layers and plain arguments it takes, and no integer
    argument larger than the largest dimension of the file's own arrays: a bound on what building a layer
    may ask for before its weights are compared with the file's (``build`` refuses one that still cannot
    be allocated)."""
    if not isinstance(layers, list) or not layers:
        refuse("'layers' must be a list of [name, class, arguments]")
    largest = max([max(w.shape, default=1) for w in weights.values()] + [SMALL])
    for entry in layers:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and entry[1] in LAYERS and isinstance(entry[2], dict)):
            refuse(f"layer {entry!r} is not [name, one of {', '.join(LAYERS)}, arguments]")
        name, kind, arguments = entry
        unknown = set(arguments) - set(_arguments(LAYERS[kind]))
        if unknown:
            refuse(f"layer {name} ({kind}) has no argument {', '.join(sorted(unknown))}")
        values = [v for value in arguments.values() for v in (value if isinstance(value, list) else [value])]
        if not all(v is None or isinstance(v, (bool, int, float)) for v in values):
            refuse(f"layer {name}'s arguments must be numbers, booleans or lists of numbers")
        if any(isinstance(v, int) and not isinstance(v, bool) and not 0 <= v <= largest for v in values):
            refuse(f"layer {name}'s arguments {arguments} are larger than its weights allow")
    names = {entry[0] for entry in layers}
    strays = sorted(k for k in weights if k.split(".")[0] not in names)
    if strays:
        refuse(f"its state_dict has {', '.join(strays)}, of no layer it describes")


def build(layers, dtype=np.float32):
    """The Sequential that ``layers`` (an ``architecture``) describes, with fresh initial weights in
    ``dtype``, ready for ``load_state_dict``."""
    built = []
    for name, kind, arguments in layers:
        cls = LAYERS[kind]
        extra = {"dtype": dtype} if "dtype" in inspect.signature(cls).parameters else {}
        try:
            built.append(cls(**arguments, **extra))
        except (TypeError, ValueError, MemoryError) as err:
            raise ValueError(f"layer {name} ({kind}) cannot be built with {arguments}: {err}") from err
    return layer_classes.Sequential(*built, names=[name for name, _, _ in layers])
