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
    pool = dict(size=3, stride=2, ceil_mode=True)
    conv5 = dict(stride=1, padding=2, groups=1)
    return [("conv1", "conv", conv5), ("pool1", "maxpool", pool), ("act1", activation, {}),
            ("conv2", "conv", conv5), ("act2", activation, {}), ("pool2", "avgpool", pool),
            ("conv3", "conv", conv5), ("act3", activation, {}), ("pool3", "avgpool", pool),
            ("flatten", "flatten", {}), ("fc", "linear", {})]


def alexnet():
    """Exercise 8.4. AlexNet (section 3.5, Figure 2), as minialex.models.alexnet() with its defaults."""
    lrn_options = dict(size=5, alpha=1e-4, beta=0.75, k=2.0, groups=2)
    pool = dict(size=3, stride=2, ceil_mode=False)
    layers = [("conv1", "conv", dict(stride=4, padding=0, groups=1)), ("relu1", "relu", {}),
              ("norm1", "lrn", lrn_options), ("pool1", "maxpool", pool),
              ("conv2", "conv", dict(stride=1, padding=2, groups=2)), ("relu2", "relu", {}),
              ("norm2", "lrn", lrn_options), ("pool2", "maxpool", pool),
              ("conv3", "conv", dict(stride=1, padding=1, groups=1)), ("relu3", "relu", {}),
              ("conv4", "conv", dict(stride=1, padding=1, groups=2)), ("relu4", "relu", {}),
              ("conv5", "conv", dict(stride=1, padding=1, groups=2)), ("relu5", "relu", {}),
              ("pool5", "maxpool", pool), ("flatten", "flatten", {})]
    for fc in ("fc6", "fc7"):
        layers += [(fc, "linear", {}), (f"relu{fc[-1]}", "relu", {}), (f"drop{fc[-1]}", "dropout", dict(p=0.5))]
    return layers + [("fc8", "linear", {})]


def _lrn_groups(a, o, backward_of=None):
    """LRN on each of o["groups"] blocks of channels on its own (each GPU's maps, section 3.2)."""
    parts = np.split(a, o["groups"], axis=1)
    if backward_of is None:
        return np.concatenate([lrn.lrn(p, o["size"], o["alpha"], o["beta"], o["k"]) for p in parts], axis=1)
    douts = np.split(backward_of, o["groups"], axis=1)
    return np.concatenate([lrn.lrn_backward(d, p, o["size"], o["alpha"], o["beta"], o["k"])
                           for d, p in zip(douts, parts)], axis=1)


def forward(layers, params, x, rng=None):
    """Exercise 8.5. -> (logits, caches). rng None: test mode (dropout off); else each dropout layer,
    in order, draws u = rng.random(its input's shape, dtype=its input's dtype)."""
    caches = []
    for name, kind, o in layers:
        cache = x                                   # most backward passes need the layer's input
        if kind == "conv":
            x = conv.conv2d(x, params[name + ".W"], params[name + ".b"], o["stride"], o["padding"], o["groups"])
        elif kind == "linear":
            x = linear.linear(x, params[name + ".W"], params[name + ".b"])
        elif kind == "relu":
            x = activations.relu(x)
        elif kind == "tanh":
            x = activations.tanh(x)
        elif kind == "maxpool":
            x = pooling.max_pool(x, o["size"], o["stride"], o["ceil_mode"])
        elif kind == "avgpool":
            cache = x.shape
            x = pooling.avg_pool(x, o["size"], o["stride"], o["ceil_mode"])
        elif kind == "lrn":
            x = _lrn_groups(x, o)
        elif kind == "flatten":
            cache = x.shape
            x = x.reshape(len(x), -1)
        elif kind == "dropout":
            cache = None if rng is None else rng.random(x.shape, dtype=x.dtype)
            x = x if cache is None else dropout.dropout(x, o["p"], cache)
        else:
            raise ValueError(f"layer {name}: unknown kind {kind!r}")
        caches.append(cache)
    return x, caches


def backward(layers, params, caches, dlogits):
    """Exercise 8.5. -> grads, a dict with params' keys."""
    grads, d = {}, dlogits
    for (name, kind, o), cache in reversed(list(zip(layers, caches))):
        if kind == "conv":
            d, grads[name + ".W"], grads[name + ".b"] = conv.conv2d_backward(
                d, cache, params[name + ".W"], o["stride"], o["padding"], o["groups"])
        elif kind == "linear":
            d, grads[name + ".W"], grads[name + ".b"] = linear.linear_backward(d, cache, params[name + ".W"])
        elif kind == "relu":
            d = activations.relu_backward(d, cache)
        elif kind == "tanh":
            d = activations.tanh_backward(d, cache)
        elif kind == "maxpool":
            d = pooling.max_pool_backward(d, cache, o["size"], o["stride"], o["ceil_mode"])
        elif kind == "avgpool":
            d = pooling.avg_pool_backward(d, cache, o["size"], o["stride"], o["ceil_mode"])
        elif kind == "lrn":
            d = _lrn_groups(cache, o, backward_of=d)
        elif kind == "flatten":
            d = d.reshape(cache)
        elif kind == "dropout":
            d = d if cache is None else dropout.dropout_backward(d, o["p"], cache)
    return grads


def loss_and_grads(layers, params, x, y, rng=None):
    """Exercise 8.5. -> (mean cross-entropy, grads)."""
    logits, caches = forward(layers, params, x, rng)
    value, dlogits = loss.softmax_cross_entropy(logits, y)
    return value, backward(layers, params, caches, dlogits)
