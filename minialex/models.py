"""The paper's two networks, built from ``minialex.layers``.

``alexnet``      the ImageNet network of section 3.5 / Figure 2 (60,965,224 parameters).
``figure1_net``  the four-layer CIFAR-10 network of Figure 1 (ReLU against tanh).
``build_model``  either, from the options of a run (a ``TrainConfig``).

Both take the paper's ablation switches: ``lrn`` (section 3.3), ``overlap``
(3x3 stride-2 pooling instead of 2x2 stride-2, section 3.4), ``dropout``
(section 4.2) and ``activation`` ("relu" or "tanh", section 3.1); and one
that is not the paper's: ``batch_norm`` (Ioffe & Szegedy 2015), a BatchNorm
layer after every convolution and hidden fully connected layer, before its
activation. Those layers then lose their biases (the BatchNorm's beta takes
their place: a bias before it is subtracted again with the mean, Ioffe &
Szegedy section 3.2), and AlexNet its LRN unless ``lrn=True`` (their network
dropped LRN, section 4.2.1). The other weights are drawn as without it.
"""
import numpy as np

from .layers import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, LocalResponseNorm,
                     MaxPool2d, ReLU, Sequential, Tanh)
from .functional.sizes import pool_output_size

ACTIVATIONS = {"relu": ReLU, "tanh": Tanh}


def _activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def _pool(kind, overlap, ceil_mode=False):
    """3x3 windows with stride 2 (overlapping, the paper's) or 2x2 with stride 2."""
    size = 3 if overlap else 2
    return kind(size, 2, ceil_mode=ceil_mode)


INITS = ("paper", "caffe")


def alexnet(num_classes=1000, activation="relu", lrn=None, overlap=True, dropout=0.5, seed=0, dtype=np.float32,
            init="paper", lrn_groups=2, batch_norm=False):
    """AlexNet exactly as the paper describes it (section 3.5, Figure 2).

    Input (N, 3, 227, 227) -> logits (N, num_classes). Layers 2, 4 and 5 are
    grouped convolutions (groups=2): the two-GPU split. So are the response
    normalisations after conv1 and conv2 (``LocalResponseNorm(groups=2)``):
    in the paper each GPU normalises over its own 48 or 128 kernel maps, so a
    window stops at the middle. (This changes alexnet() from earlier versions,
    whose window crossed the middle; only the two maps on either side of it
    are affected; ``lrn_groups=1`` gives the earlier network.) With it, the
    two-process split of ``minialex.distributed.split_alexnet`` is exactly this
    network.

    init="paper" (section 5): weights from N(0, 0.01^2); biases 1 in conv2, conv4,
    conv5, fc6 and fc7 (to give the ReLUs positive inputs early), 0 elsewhere.
    init="caffe" (not the paper's; the reference AlexNet that BVLC's Caffe trained
    on ImageNet): those biases 0.1 instead of 1, and fc6 and fc7 from N(0, 0.005^2).

    Why it matters (measured in ``results/imagenette/README.md``): at the start,
    every image gives nearly the same fc7 features (cosine similarity 0.9998 with
    the paper's initialisation, 0.9987 with Caffe's), so one SGD step moves all
    images' logits together, by about lr * |fc7|^2 * (the batch's mean of
    softmax - onehot). With the paper's
    biases |fc7|^2 is about 7,450, a step of 74 times that mean at lr 0.01: the
    logits overshoot and the run collapses. With Caffe's it is about 47.

    ``lrn``: None (the default) is on, unless ``batch_norm`` (see the module's docstring).
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    rng = np.random.default_rng(seed)
    one = 1.0 if init == "paper" else 0.1
    fc_std = 0.01 if init == "paper" else 0.005
    lrn = not batch_norm if lrn is None else lrn
    conv = lambda *a, bias=0.0, **k: Conv2d(*a, bias=not batch_norm, bias_init=bias, rng=rng, dtype=dtype, **k)
    fc = lambda *a, bias=0.0, std=0.01: Linear(*a, bias=not batch_norm, weight_std=std, bias_init=bias, rng=rng,
                                                dtype=dtype)
    act = lambda: _activation(activation)
    norm = lambda: LocalResponseNorm(5, 1e-4, 0.75, 2.0, groups=lrn_groups) if lrn else None  # each GPU's maps
    bn = _batch_norm(batch_norm, dtype)
    drop = lambda: Dropout(dropout, rng=rng) if dropout else None
    named = [
        ("conv1", conv(3, 96, 11, stride=4)), ("bn1", bn(BatchNorm2d, 96)), ("relu1", act()), ("norm1", norm()),
        ("pool1", _pool(MaxPool2d, overlap)),
        ("conv2", conv(96, 256, 5, padding=2, groups=2, bias=one)), ("bn2", bn(BatchNorm2d, 256)), ("relu2", act()),
        ("norm2", norm()), ("pool2", _pool(MaxPool2d, overlap)),
        ("conv3", conv(256, 384, 3, padding=1)), ("bn3", bn(BatchNorm2d, 384)), ("relu3", act()),
        ("conv4", conv(384, 384, 3, padding=1, groups=2, bias=one)), ("bn4", bn(BatchNorm2d, 384)), ("relu4", act()),
        ("conv5", conv(384, 256, 3, padding=1, groups=2, bias=one)), ("bn5", bn(BatchNorm2d, 256)), ("relu5", act()),
        ("pool5", _pool(MaxPool2d, overlap)),
        ("flatten", Flatten()),
        ("fc6", fc(256 * 6 * 6, 4096, bias=one, std=fc_std)), ("bn6", bn(BatchNorm1d, 4096)), ("relu6", act()),
        ("drop6", drop()),
        ("fc7", fc(4096, 4096, bias=one, std=fc_std)), ("bn7", bn(BatchNorm1d, 4096)), ("relu7", act()),
        ("drop7", drop()),
        ("fc8", Linear(4096, num_classes, rng=rng, dtype=dtype)),
    ]
    return _sequential(named)


def figure1_net(activation="relu", in_channels=3, num_classes=10, input_size=32, lrn=False, overlap=True,
                dropout=0.0, seed=0, dtype=np.float32, batch_norm=False):
    """The four-layer CIFAR-10 network of Figure 1 (cuda-convnet's "19pct" net,
    without weight decay or normalisation, as the caption demands).

    Input (N, in_channels, input_size, input_size) -> logits (N, num_classes).
    conv1 32 5x5 -> max-pool -> act; conv2 32 5x5 -> act -> avg-pool;
    conv3 64 5x5 -> act -> avg-pool; fc. Pools round up (cuda-convnet), so a
    32x32 image shrinks 32 -> 16 -> 8 -> 4 and fc sees 64*4*4 = 1024 values.
    As in cuda-convnet, the first activation comes after its max-pool: the
    same result (both are increasing functions) on a quarter of the pixels.
    ``lrn``, ``dropout``: the ablation switches (LRN after the first two
    layers; dropout before the classifier); ``batch_norm``: after each convolution.
    """
    rng = np.random.default_rng(seed)
    conv = lambda cin, cout, std: Conv2d(cin, cout, 5, padding=2, bias=not batch_norm, weight_std=std, rng=rng,
                                         dtype=dtype)
    act = lambda: _activation(activation)
    norm = lambda: LocalResponseNorm(5, 1e-4, 0.75, 2.0) if lrn else None
    bn = _batch_norm(batch_norm, dtype)
    size = input_size
    for _ in range(3):  # the three pools; the convolutions keep the size
        size = pool_output_size(size, 3 if overlap else 2, 2, 0, ceil_mode=True)
    named = [
        ("conv1", conv(in_channels, 32, 1e-4)), ("bn1", bn(BatchNorm2d, 32)), ("pool1", _pool(MaxPool2d, overlap, True)),
        ("act1", act()), ("norm1", norm()),
        ("conv2", conv(32, 32, 0.01)), ("bn2", bn(BatchNorm2d, 32)), ("act2", act()),
        ("pool2", _pool(AvgPool2d, overlap, True)), ("norm2", norm()),
        ("conv3", conv(32, 64, 0.01)), ("bn3", bn(BatchNorm2d, 64)), ("act3", act()),
        ("pool3", _pool(AvgPool2d, overlap, True)),
        ("flatten", Flatten()),
        ("drop", Dropout(dropout, rng=rng) if dropout else None),
        ("fc", Linear(64 * size * size, num_classes, rng=rng, dtype=dtype)),
    ]
    return _sequential(named)


def _batch_norm(on, dtype):
    """kind, features -> a BatchNorm layer of that kind, or None (not in the network) when not ``on``."""
    return lambda kind, features: kind(features, dtype=dtype) if on else None


def _sequential(named):
    """A Sequential of the layers that are switched on; the first convolution
    skips its input gradient, which nobody needs."""
    named = [(name, layer) for name, layer in named if layer is not None]
    model = Sequential(*[layer for _, layer in named], names=[name for name, _ in named])
    model.layers[0].needs_input_grad = False
    return model


MODELS = {"alexnet": alexnet, "figure1": figure1_net}


def build_model(options, channels, classes, input_size):
    """The network of a run, with its initial weights. ``options``: a TrainConfig, or anything with its
    fields model, activation, lrn, lrn_groups, overlap, dropout, batch_norm, init and seed (lrn, lrn_groups and dropout
    None: the network's default). ``channels``, ``classes`` and ``input_size`` (pixels a side) come from the
    data: the Figure 1 net sizes its classifier to the input, AlexNet's is fixed (227).

    The Trainer builds its network here, and so does whatever rebuilds a trained one from its checkpoint,
    so both get the same network from the same options."""
    if options.model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {options.model!r}")
    chosen = {key: getattr(options, key) for key in ("lrn", "dropout") if getattr(options, key) is not None}
    common = dict(activation=options.activation, overlap=options.overlap, seed=options.seed,
                  batch_norm=options.batch_norm, **chosen)
    if options.model == "alexnet":
        groups = {} if options.lrn_groups is None else {"lrn_groups": options.lrn_groups}
        return alexnet(classes, init=options.init, **common, **groups)
    return figure1_net(in_channels=channels, num_classes=classes, input_size=input_size, **common)
