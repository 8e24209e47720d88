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
from importlib import metadata as _metadata

from . import layers
from .layers import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, Layer, Linear, LocalResponseNorm,
                     MaxPool2d, ReLU, Sequential, SoftmaxCrossEntropy, Tanh)
from .models import alexnet, figure1_net
from .optim import SGD, Adam, AdamW
from .summary import summary
from .weights import save


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

__all__ = ["__version__", "layers", "alexnet", "figure1_net", "Sequential", "Conv2d", "Linear", "ReLU", "Tanh",
           "MaxPool2d", "AvgPool2d", "LocalResponseNorm", "Dropout", "Flatten", "BatchNorm2d", "BatchNorm1d", "Layer",
           "SoftmaxCrossEntropy", "SGD", "Adam", "AdamW", "summary", "save", "load"]
