"""Lesson 8: the paper's networks assembled from your own layers.

A network is a list of layers ``(name, kind, options)``; its weights are a dict
``params`` keyed "conv1.W", "conv1.b", ... as ``minialex.models`` names them, so a network
of minialex's and one of yours can start from the same weights."""
import numpy as np
from . import activations, conv, dropout, linear, loss, lrn, pooling


def figure1(activation="relu"):
    """Exercise 8.3. The Figure 1 network (minialex.models.figure1_net): conv1 5x5 pad 2 -> max-pool
    3/2 -> act; conv2 5x5 pad 2 -> act -> avg-pool 3/2; conv3 5x5 pad 2 -> act -> avg-pool 3/2;
    flatten -> fc. Pools round up (ceil mode)."""
    raise NotImplementedError("Exercise 8.3: figure1 in mynet/network.py")  # your code here


def alexnet():
    """Exercise 8.4. AlexNet (section 3.5, Figure 2), as minialex.models.alexnet() with its defaults."""
    raise NotImplementedError("Exercise 8.4: alexnet in mynet/network.py")  # your code here


def forward(layers, params, x, rng=None):
    """Exercise 8.5. -> (logits, caches). rng None: test mode (dropout off); else each dropout layer,
    in order, draws u = rng.random(its input's shape, dtype=its input's dtype)."""
    raise NotImplementedError("Exercise 8.5: forward in mynet/network.py")  # your code here


def backward(layers, params, caches, dlogits):
    """Exercise 8.5. -> grads, a dict with params' keys."""
    raise NotImplementedError("Exercise 8.5: backward in mynet/network.py")  # your code here


def loss_and_grads(layers, params, x, y, rng=None):
    """Exercise 8.5. -> (mean cross-entropy, grads)."""
    raise NotImplementedError("Exercise 8.5: loss_and_grads in mynet/network.py")  # your code here
