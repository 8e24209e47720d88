"""Lesson 8: the training loop (section 5): mini-batches, the paper's SGD, the test error."""
import numpy as np
from . import network, optim


def train_epoch(layers, params, velocity, images, labels, mean, batch_size, lr, momentum, weight_decay, rng):
    """Exercise 8.6. One pass over uint8 ``images`` in the order rng.permutation(N), batches of batch_size
    (the last may be short), each centred by ``mean`` and taken one SGD step on; params and velocity
    updated in place. -> the batch losses."""
    raise NotImplementedError("Exercise 8.6: train_epoch in mynet/train.py")  # your code here


def error_rate(layers, params, images, labels, mean, batch_size=100):
    """Exercise 8.6. The top-1 error in test mode (no dropout), a batch at a time."""
    raise NotImplementedError("Exercise 8.6: error_rate in mynet/train.py")  # your code here
