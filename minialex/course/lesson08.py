"""Checks for lesson 08, AlexNet assembled: counting parameters and FLOPs, then the capstone:
the Figure 1 network and AlexNet built from the learner's own layers (``mynet.network``),
checked against ``minialex.models`` with the same weights on real photos, and the learner's
own training loop (``mynet.train``) against the same loop run with the library's layers."""
import numpy as np

from minialex.data import center_crop, decode_image, load_dataset, mean_image
from minialex.gradcheck import rel_error
from minialex.layers import (AvgPool2d, Conv2d, Dropout, Flatten, Linear, LocalResponseNorm, MaxPool2d, ReLU,
                             Sequential, SoftmaxCrossEntropy, Tanh)
from minialex.models import alexnet, figure1_net
from minialex.summary import layer_flops

from . import CIFAR10_SAMPLE, ExerciseFailed
from .watch import run_watched

# (in_channels, out_channels, kernel_size, groups): AlexNet's five convolutions and two odd ones
CONVS = [(3, 96, 11, 1), (96, 256, 5, 2), (256, 384, 3, 1), (384, 384, 3, 2), (384, 256, 3, 2),
         (1, 32, 5, 1), (12, 8, 3, 4)]


def check_conv_params(my_conv_params):
    """my_conv_params(in_channels, out_channels, kernel_size, groups) -> number of weights
    plus biases of that convolution."""
    for cin, cout, k, g in CONVS:
        want = sum(int(np.prod(p.shape)) for p in Conv2d(cin, cout, k, groups=g).params.values())
        got = my_conv_params(cin, cout, k, g)
        if got == want:
            continue
        if got == cin * cout * k * k + cout:
            raise ExerciseFailed(f"conv({cin}, {cout}, {k}x{k}, groups={g}): with groups each kernel sees only "
                                 f"in_channels / groups = {cin // g} channels")
        if got == want - cout:
            raise ExerciseFailed(f"conv({cin}, {cout}, {k}x{k}, groups={g}): add one bias per kernel")
        raise ExerciseFailed(f"conv({cin}, {cout}, {k}x{k}, groups={g}): expected {want:,}, got {got}")


def check_conv_flops(my_conv_flops):
    """my_conv_flops(in_channels, out_channels, kernel_size, groups, out_h, out_w) -> forward
    floating-point operations for one image (a multiply-add counts as 2; biases not counted)."""
    sizes = [55, 27, 13, 13, 13, 28, 6]
    for (cin, cout, k, g), size in zip(CONVS, sizes):
        conv = Conv2d(cin, cout, k, groups=g)
        out_shape = (1, cout, size, size)
        want = layer_flops(conv, None, out_shape)
        got = my_conv_flops(cin, cout, k, g, size, size)
        if got == want:
            continue
        if got * 2 == want:
            raise ExerciseFailed("half the answer: a multiply-add is 2 operations")
        if got == want * g and g > 1:
            raise ExerciseFailed("with groups, each output sees only in_channels / groups input channels")
        raise ExerciseFailed(f"conv({cin}, {cout}, {k}x{k}, groups={g}) to {size}x{size}: "
                             f"expected {want:,}, got {got}")


# ---- the layer lists (exercises 8.3 and 8.4) ----

def describe(model):
    """A minialex Sequential as the layer list of ``mynet.network``: [(name, kind, options)]."""
    layers = []
    for name, layer in zip(model.names, model.layers):
        if isinstance(layer, Conv2d):
            layers.append((name, "conv", dict(stride=layer.stride, padding=layer.padding, groups=layer.groups)))
        elif isinstance(layer, (MaxPool2d, AvgPool2d)):
            if layer.padding:
                raise ValueError(f"{name}: mynet's pools take no padding")
            kind = "maxpool" if isinstance(layer, MaxPool2d) else "avgpool"
            layers.append((name, kind, dict(size=layer.kernel_size, stride=layer.stride, ceil_mode=layer.ceil_mode)))
        elif isinstance(layer, LocalResponseNorm):
            layers.append((name, "lrn", dict(size=layer.size, alpha=layer.alpha, beta=layer.beta, k=layer.k,
                                             groups=layer.groups)))
        elif isinstance(layer, Dropout):
            layers.append((name, "dropout", dict(p=layer.p)))
        else:
            kinds = {Linear: "linear", ReLU: "relu", Tanh: "tanh", Flatten: "flatten"}
            layers.append((name, kinds[type(layer)], {}))
    return layers


def _expect_layers(got, want, what):
    if not isinstance(got, list) or not all(isinstance(e, tuple) and len(e) == 3 for e in got):
        raise ExerciseFailed(f"{what} should return a list of (name, kind, options) tuples")
    for i, ((name, kind, options), (w_name, w_kind, w_options)) in enumerate(zip(got, want)):
        if (name, kind) != (w_name, w_kind):
            raise ExerciseFailed(f"{what}: layer {i} is ({name!r}, {kind!r}); expected ({w_name!r}, {w_kind!r}) "
                                 f"(the layers before it are right)")
        if dict(options) != w_options:
            raise ExerciseFailed(f"{what}: layer {name!r} has options {dict(options)}; expected {w_options}")
    if len(got) != len(want):
        extra = got[len(want):] or want[len(got):]
        raise ExerciseFailed(f"{what}: {len(got)} layers, expected {len(want)} "
                             f"({'extra' if len(got) > len(want) else 'missing'}: {[e[0] for e in extra]})")


def check_figure1_layers(my_figure1):
    """my_figure1(activation="relu") -> the layer list of the Figure 1 network (minialex.models.figure1_net)."""
    for activation in ("relu", "tanh"):
        _expect_layers(my_figure1(activation), describe(figure1_net(activation=activation)),
                       f"figure1({activation!r})")


def check_alexnet_layers(my_alexnet):
    """my_alexnet() -> the layer list of AlexNet (minialex.models.alexnet(), sections 3.1-3.5 and 4.2)."""
    _expect_layers(my_alexnet(), describe(alexnet(num_classes=10)), "alexnet()")


# ---- forward and backward through a layer list (exercise 8.5) ----

GRADIENT_TOLERANCE = 1e-7  # float64, the same operations in another order: agree to ~1e-12


def small_net(dtype=np.float64, seed=0, dropout=0.5):
    """A small network with every kind of layer: grouped, strided, padded, non-square convolutions; LRN in
    two groups; both pools in ceil mode; tanh and ReLU; dropout; 1x13x11 images, 5 classes."""
    rng = np.random.default_rng(seed)
    layers = [("conv1", Conv2d(1, 4, (3, 4), stride=2, padding=1, rng=rng, weight_std=0.5, dtype=dtype)),
              ("relu1", ReLU()), ("norm1", LocalResponseNorm(3, 0.1, 0.75, 2.0, groups=2)),
              ("pool1", MaxPool2d(3, 2, ceil_mode=True)),
              ("conv2", Conv2d(4, 6, 3, padding=1, groups=2, rng=rng, weight_std=0.5, dtype=dtype)),
              ("act2", Tanh()), ("pool2", AvgPool2d(2, 2, ceil_mode=True)), ("flatten", Flatten()),
              ("fc1", Linear(6 * 2 * 1, 16, rng=rng, weight_std=0.3, dtype=dtype)), ("relu3", ReLU()),
              ("drop", Dropout(dropout, rng=rng) if dropout else None), ("fc2", Linear(16, 5, rng=rng, dtype=dtype))]
    layers = [(n, l) for n, l in layers if l is not None]
    return Sequential(*[l for _, l in layers], names=[n for n, _ in layers])


def _library_loss_and_grads(model, x, y, rng):
    """The library's loss and gradients; its dropout layers draw from ``rng`` (None: test mode)."""
    for layer in model.layers:
        if isinstance(layer, Dropout):
            layer.rng = rng
    model.train() if rng is not None else model.eval()
    criterion = SoftmaxCrossEntropy()
    loss = criterion.forward(model.forward(x), y)
    model.backward(criterion.backward())
    return float(loss), {k: g.copy() for k, g in model.named_grads().items()}


def _compare_with_library(my_loss_and_grads, layers, model, x, y, seed, what):
    """Your loss_and_grads(layers, params, x, y, rng) against the library's, same weights, same dropout draws."""
    params = {k: v.copy() for k, v in model.named_parameters().items()}
    rng = None if seed is None else np.random.default_rng(seed)
    result = run_watched(my_loss_and_grads, (layers, params, x.copy(), y.copy(), rng), what)
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        raise ExerciseFailed(f"{what}: return (loss, grads): the mean cross-entropy and a dict of gradients")
    loss, grads = result
    want_loss, want = _library_loss_and_grads(model, x, y, None if seed is None else np.random.default_rng(seed))
    mode = "test mode (rng None: no dropout)" if seed is None else "training mode (dropout drawing from rng)"
    if not np.isclose(float(loss), want_loss, rtol=1e-9):
        raise ExerciseFailed(f"{what}, {mode}: the loss is {float(loss):.8f}, the library's network with the same "
                             f"weights gives {want_loss:.8f}")
    missing = sorted(set(want) - set(grads))
    if missing:
        raise ExerciseFailed(f"{what}: grads has no {', '.join(missing)}: one gradient per parameter, by its name")
    for name in want:  # from the top of the network down: the first wrong one names the layer to look at
        got = grads[name]
        if getattr(got, "shape", None) != want[name].shape:
            raise ExerciseFailed(f"{what}: grads[{name!r}] should have shape {want[name].shape}, "
                                 f"got {getattr(got, 'shape', type(got).__name__)}")
    for name in reversed(list(want)):
        error = rel_error(grads[name], want[name])
        if error > GRADIENT_TOLERANCE:
            raise ExerciseFailed(f"{what}, {mode}: grads[{name!r}] differs from the library's (relative error "
                                 f"{error:.1e}); the layers above {name.split('.')[0]} pass the right gradient down")
    return float(loss)


def _images(n, shape, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n,) + shape), rng.integers(0, 5, size=n)


def check_network(my_loss_and_grads):
    """my_loss_and_grads(layers, params, x, y, rng=None) -> (mean cross-entropy, grads) through a layer list,
    with forward and backward; rng None: test mode; else each dropout layer draws
    u = rng.random(its input's shape, dtype=its input's dtype), in order."""
    model = small_net()
    x, y = _images(3, (1, 13, 11), 21)
    for seed in (None, 5):
        _compare_with_library(my_loss_and_grads, describe(model), model, x, y, seed, "loss_and_grads on a small net")


# ---- the capstone: the paper's networks from your layers, on real photos (exercises 8.3-8.5 together) ----

def cifar10_photos(size=32):
    """The 20 CIFAR-10 photos that ship with the course, (20, 3, size, size) uint8 and their labels: at 32 as
    they are, at 227 as section 2 prepares ImageNet (the shorter side to 256, then the central patch)."""
    classes = sorted(p.name for p in CIFAR10_SAMPLE.iterdir() if p.is_dir())
    files = [(f, label) for label, c in enumerate(classes) for f in sorted((CIFAR10_SAMPLE / c).glob("*.jpg"))]
    images = np.stack([decode_image(f, 32 if size == 32 else 256) for f, _ in files])
    if size != 32:
        images = center_crop(images, size)
    return images, np.array([label for _, label in files])


def _centred(images):
    return images.astype(np.float64) - mean_image(images)


def check_figure1(my_network):
    """my_network (your mynet.network module): its figure1() list, forward and backward give the loss and
    gradients of minialex.models.figure1_net with the same weights, on the 20 CIFAR-10 photos."""
    images, labels = cifar10_photos(32)
    for activation in ("relu", "tanh"):
        model = figure1_net(activation=activation, seed=1, dtype=np.float64)
        layers = run_watched(my_network.figure1, (activation,), "figure1")
        _expect_layers(layers, describe(model), f"figure1({activation!r})")
        loss = _compare_with_library(my_network.loss_and_grads, layers, model, _centred(images), labels, None,
                                     f"your Figure 1 network ({activation})")
        print(f"your Figure 1 network ({activation}) on 20 CIFAR-10 photos: loss {loss:.6f}, the same as "
              "minialex's, and the same gradients")


def check_alexnet(my_network):
    """my_network (your mynet.network module): its alexnet() list, forward and backward give the loss and
    gradients of minialex.models.alexnet (10 classes) with the same weights on 2 real photos at 227x227,
    in training mode: dropout drawing the same numbers."""
    images, labels = cifar10_photos(227)
    pick = [4, 15]
    model = alexnet(num_classes=10, init="caffe", seed=2, dtype=np.float64)
    layers = run_watched(my_network.alexnet, (), "alexnet")
    _expect_layers(layers, describe(model), "alexnet()")
    loss = _compare_with_library(my_network.loss_and_grads, layers, model, _centred(images)[pick], labels[pick], 3,
                                 "your AlexNet")
    print(f"your AlexNet on 2 CIFAR-10 photos at 227x227, dropout on: loss {loss:.6f}, the same as minialex's, and "
          "the same gradients for all 16 parameter arrays")


# ---- the training loop (exercise 8.6) ----

def library_epoch(model, velocity, images, labels, mean, batch_size, lr, momentum, weight_decay, rng):
    """What mynet.train.train_epoch does, with the library's layers: rng.permutation(N) first, batches in that
    order (the last may be short), each centred by ``mean``, one step of section 5's update per batch
    (velocity: a dict by parameter name, updated in place, as are the model's weights); dropout draws
    from ``rng``. -> the batch losses."""
    for layer in model.layers:
        if isinstance(layer, Dropout):
            layer.rng = rng
    model.train()
    criterion = SoftmaxCrossEntropy()
    order = rng.permutation(len(images))
    losses = []
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        weights = model.named_parameters()
        x = images[batch].astype(next(iter(weights.values())).dtype) - mean
        losses.append(float(criterion.forward(model.forward(x), labels[batch])))
        model.backward(criterion.backward())
        for name, grad in model.named_grads().items():
            velocity[name] = momentum * velocity[name] - weight_decay * lr * weights[name] - lr * grad
            weights[name] += velocity[name]
    return losses


def _fashion(n, seed=0):
    """n Fashion-MNIST training images cut to 13x11 (uint8) and their labels mod 5, and their mean image."""
    train, _ = load_dataset("embedded")
    sample = train.subset(n, seed=seed)
    images = np.ascontiguousarray(sample.images[:, :, 8:21, 9:20])
    return images, sample.labels % 5, mean_image(images)


def check_train_epoch(my_train_epoch):
    """my_train_epoch(layers, params, velocity, images, labels, mean, batch_size, lr, momentum, weight_decay, rng)
    -> batch losses; params and velocity (dicts) updated: two epochs give the weights of the same loop run
    with the library's layers."""
    images, labels, mean = _fashion(37)
    model = small_net()
    layers = describe(model)
    params = {k: v.copy() for k, v in model.named_parameters().items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    want_velocity = {k: np.zeros_like(v) for k, v in params.items()}
    mine, library = np.random.default_rng(8), np.random.default_rng(8)
    for epoch in (1, 2):
        args = (layers, params, velocity, images, labels, mean.astype(np.float64), 10, 0.02, 0.9, 5e-4, mine)
        losses = run_watched(my_train_epoch, args, "train_epoch")
        want = library_epoch(model, want_velocity, images, labels, mean.astype(np.float64), 10, 0.02, 0.9, 5e-4,
                             library)
        if not isinstance(losses, list) or len(losses) != len(want):
            raise ExerciseFailed(f"37 images in batches of 10: return the list of the {len(want)} batch losses "
                                 f"(the last batch has 7), got {losses if not isinstance(losses, list) else len(losses)}")
        wrong = [i for i, (a, b) in enumerate(zip(losses, want)) if not np.isclose(a, b, rtol=1e-9)]
        if wrong and wrong[0] == 0:
            raise ExerciseFailed(f"epoch {epoch}: the first batch's loss is {losses[0]:.8f}, the loop with the "
                                 f"library's layers gives {want[0]:.8f}: same batches (order = rng.permutation(N), "
                                 "drawn first), each centred by the mean image, dropout drawing from the same rng")
        if wrong:
            raise ExerciseFailed(f"epoch {epoch}: batch {wrong[0] + 1}'s loss is {losses[wrong[0]]:.8f}, the library "
                                 f"loop's {want[wrong[0]]:.8f}, and the batches before agree: the update after a "
                                 "batch differs. Every parameter takes optim.sgd_step with the lr, momentum and "
                                 "weight decay given, keeping params[name] and velocity[name]")
        for name, w in model.named_parameters().items():
            if rel_error(params[name], w) > 1e-9:
                raise ExerciseFailed(f"epoch {epoch}: {name} differs from the library loop's after the update "
                                     f"(relative error {rel_error(params[name], w):.1e}): update every parameter with "
                                     "optim.sgd_step, keeping params[name] and velocity[name]")


def check_error_rate(my_error_rate):
    """my_error_rate(layers, params, images, labels, mean, batch_size=100) -> the top-1 error in test mode."""
    images, labels, mean = _fashion(53, seed=1)
    model = small_net(seed=3)
    params = {k: v.copy() for k, v in model.named_parameters().items()}
    model.eval()
    want = float((model.forward(images.astype(np.float64) - mean).argmax(axis=1) != labels).mean())
    got = run_watched(my_error_rate, (describe(model), params, images, labels, mean.astype(np.float64), 20),
                      "error_rate")
    if np.isclose(got, 1 - want):
        raise ExerciseFailed("that is the accuracy: the error is the fraction of images classified WRONG")
    if not np.isclose(got, want, rtol=0, atol=1e-12):
        raise ExerciseFailed(f"53 images in batches of 20: error {got}, expected {want} (test mode: no dropout; "
                             "every image counted once, the last batch too)")
