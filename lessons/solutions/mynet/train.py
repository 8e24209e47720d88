"""Lesson 8: the training loop (section 5): mini-batches, the paper's SGD, the test error."""
import numpy as np

from . import network, optim


def train_epoch(layers, params, velocity, images, labels, mean, batch_size, lr, momentum, weight_decay, rng):
    """Exercise 8.6. One pass over uint8 ``images`` in the order rng.permutation(N), batches of batch_size
    (the last may be short), each centred by ``mean`` and taken one SGD step on; params and velocity
    updated in place. -> the batch losses."""
    order = rng.permutation(len(images))
    dtype = next(iter(params.values())).dtype
    losses = []
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        x = images[batch].astype(dtype) - mean
        value, grads = network.loss_and_grads(layers, params, x, labels[batch], rng)
        for name in params:
            params[name], velocity[name] = optim.sgd_step(params[name], velocity[name], grads[name], lr,
                                                          momentum, weight_decay)
        losses.append(float(value))
    return losses


def error_rate(layers, params, images, labels, mean, batch_size=100):
    """Exercise 8.6. The top-1 error in test mode (no dropout), a batch at a time."""
    dtype = next(iter(params.values())).dtype
    wrong = 0
    for start in range(0, len(images), batch_size):
        logits, _ = network.forward(layers, params, images[start:start + batch_size].astype(dtype) - mean)
        wrong += int((logits.argmax(axis=1) != labels[start:start + batch_size]).sum())
    return wrong / len(images)
