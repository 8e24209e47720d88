"""The layers of AlexNet, each a small class with ``forward`` and ``backward``.

All image tensors are NCHW. Names and argument order follow PyTorch's.
"""
from .activations import ReLU, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .layer import Layer
from .linear import Linear
from .loss import SoftmaxCrossEntropy
from .lrn import LocalResponseNorm
from .pooling import AvgPool2d, MaxPool2d
from .sequential import Sequential

__all__ = ["Layer", "Conv2d", "Linear", "ReLU", "Tanh", "MaxPool2d", "AvgPool2d",
           "LocalResponseNorm", "Dropout", "Flatten", "Sequential", "SoftmaxCrossEntropy",
           "BatchNorm2d", "BatchNorm1d"]
