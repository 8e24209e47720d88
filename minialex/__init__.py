"""minialex: AlexNet (Krizhevsky, Sutskever and Hinton, NIPS 2012) rebuilt from scratch in NumPy and CuPy.

The names a PyTorch user reaches for first are here at the top level:

    import minialex
    model = minialex.alexnet()                                 # section 3.5, Figure 2
    sum(p.size for p in model.parameters())                    # 60,965,224
    minialex.summary(model, (1, 3, 227, 227))                  # the layer table
    optimizer = minialex.SGD(model.parameters(), lr=0.01)      # section 5
    minialex.save(model, "model.npz")                          # the weights alone (no pickle)
    saved = minialex.load("model.npz")                         # .model, .mean, .crop, .classes

``minialex.layers`` holds the layers (also here: ``minialex.Conv2d``, ...),
``minialex.functional`` the maths as forward/backward pairs, and
``python -m minialex.train`` trains a network of the paper.
"""
import importlib
from importlib import metadata as _metadata

# Each top-level name and the module that defines it, imported on first use (PEP 562's module __getattr__):
# "import minialex.functional" must load the maths alone, without the layers or the fast paths
# (tests/test_fast_paths.py), and "import minialex" alone imports nothing else.
_WHERE = {**{name: "layers" for name in ("Layer", "Conv2d", "Linear", "ReLU", "Tanh", "MaxPool2d", "AvgPool2d",
                                         "LocalResponseNorm", "Dropout", "Flatten", "BatchNorm2d", "BatchNorm1d",
                                         "Sequential", "SoftmaxCrossEntropy")},
          "alexnet": "models", "figure1_net": "models", "SGD": "optim", "Adam": "optim", "AdamW": "optim",
          "save": "weights"}


def __getattr__(name):
    if name == "layers":
        return importlib.import_module(".layers", __name__)
    if name not in _WHERE:
        raise AttributeError(f"module 'minialex' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # found here from now on
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE) | {"layers"})


# summary is also the name of its module, which importing it (as Sequential.summary does) would put here in
# the function's place: so it is imported now (it needs only NumPy), and the function takes the name for good.
from .summary import summary  # noqa: E402


def load(path, device=None):
    """A ``SavedModel`` (.model, .mean, .crop, .classes, ...) from a weights file (``minialex.save``, a
    run's model.npz, a converted network), a checkpoint or a run directory; on ``device`` ("cpu"/"gpu";
    None: the run's own, else $MINIALEX_DEVICE or the CPU). See ``minialex.saved_model.load_model``."""
    from .saved_model import load_model  # here: it brings the data loaders, which most imports never need

    return load_model(path, device, log=None)


def _version():
    """The installed package's version, else (a clone used without ``pip install``) setup.cfg's."""
    try:
        return _metadata.version("minialex")
    except _metadata.PackageNotFoundError:
        import configparser
        import os

        parser = configparser.ConfigParser()
        parser.read(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "setup.cfg"))
        return parser.get("metadata", "version", fallback="unknown")


__version__ = _version()

__all__ = ["__version__", "layers", "load", "summary", *_WHERE]
