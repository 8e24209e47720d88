"""Checks for lesson 08, AlexNet assembled: counting parameters and FLOPs, and the capstone,
the Figure 1 network built from the learner's own layers."""
import numpy as np

from minialex.data import load_dataset, mean_image
from minialex.gradcheck import rel_error
from minialex.layers import AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, SoftmaxCrossEntropy
from minialex.summary import layer_flops

from . import ExerciseFailed

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


# The capstone: the Figure 1 network (minialex.models.figure1_net) on 28x28 grey images, with the
# exercises' pools (3x3 stride 2, rounding down: 28 -> 13 -> 6 -> 2, where figure1_net rounds up)
FIGURE1_LAYOUT = "conv1 -> max-pool -> ReLU -> conv2 -> ReLU -> avg-pool -> conv3 -> ReLU -> avg-pool -> fc"
# He et al.'s sqrt(2 / fan-in) for the convolutions, 1/sqrt(fan-in) for fc: with these the 50
# images are learnt by heart in about 50 steps (cuda-convnet's stds need hundreds)
WEIGHT_STDS = {"conv1": 0.28, "conv2": 0.05, "conv3": 0.05, "fc": 0.06}
OVERFIT = dict(images=50, lr=0.01, momentum=0.9, max_steps=100, target=0.05)


def figure1_reference(dtype, seed=0):
    """The capstone's network from the library's layers (names as in figure1_net)."""
    rng = np.random.default_rng(seed)
    conv = lambda name, cin, cout: Conv2d(cin, cout, 5, padding=2, weight_std=WEIGHT_STDS[name], rng=rng, dtype=dtype)
    named = [("conv1", conv("conv1", 1, 32)), ("pool1", MaxPool2d(3, 2)), ("act1", ReLU()),
             ("conv2", conv("conv2", 32, 32)), ("act2", ReLU()), ("pool2", AvgPool2d(3, 2)),
             ("conv3", conv("conv3", 32, 64)), ("act3", ReLU()), ("pool3", AvgPool2d(3, 2)), ("flatten", Flatten()),
             ("fc", Linear(64 * 2 * 2, 10, weight_std=WEIGHT_STDS["fc"], rng=rng, dtype=dtype))]
    return Sequential(*[layer for _, layer in named], names=[name for name, _ in named])


def _params(net):
    return {name: w.copy() for name, w in net.named_parameters().items()}


def fifty_images():
    """50 Fashion-MNIST training images (5 per class), centred by their mean image, scaled to about +-2."""
    train, _ = load_dataset("embedded")
    sample = train.subset(OVERFIT["images"], seed=0)
    return (sample.images.astype(np.float32) - mean_image(sample.images)) / 64, sample.labels


def _call(my_figure1, params, x, y):
    result = my_figure1({k: v.copy() for k, v in params.items()}, x.copy(), y.copy())
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        raise ExerciseFailed("return (loss, grads): the mean cross-entropy and a dict of gradients")
    loss, grads = result
    missing = sorted(set(params) - set(grads))
    if missing:
        raise ExerciseFailed(f"grads has no {', '.join(missing)}: give one gradient per parameter, keyed by its name")
    for name, value in params.items():
        if getattr(grads[name], "shape", None) != value.shape:
            raise ExerciseFailed(f"grads[{name!r}] should have shape {value.shape}, "
                                 f"got {getattr(grads[name], 'shape', type(grads[name]).__name__)}")
    return float(loss), grads


def _sampled_gradient(my_figure1, params, x, y, name, indices, h=1e-5):
    """Centred differences of the learner's own loss at a few entries of params[name]."""
    numeric = []
    for index in indices:
        shifted = {k: v.copy() for k, v in params.items()}
        values = []
        for step in (h, -h):
            shifted[name][index] = params[name][index] + step
            values.append(float(my_figure1(shifted, x, y)[0]))
        numeric.append((values[0] - values[1]) / (2 * h))
    return np.array(numeric)


def check_figure1(my_figure1):
    """my_figure1(params, x, y) -> (loss, grads): the Figure 1 network (FIGURE1_LAYOUT) built from
    your own layers; params and grads are dicts keyed "conv1.W", "conv1.b", ..., "fc.b";
    x (N, 1, 28, 28), y (N,) labels; loss is the mean cross-entropy."""
    images, labels = fifty_images()
    # 1. the same network: its loss and gradients in float64, on 3 images (a little noise breaks ties)
    net = figure1_reference(np.float64)
    params = _params(net)
    rng = np.random.default_rng(20)
    for name in params:
        if name.endswith(".b"):
            params[name] = rng.normal(0, 0.1, params[name].shape)  # no exact zeros at the ReLUs
    for (name, owner, key) in net.parameters():
        owner.params[key] = params[name].copy()
    x = images[:3].astype(np.float64) + rng.normal(0, 0.01, images[:3].shape)
    y = labels[:3]
    loss, grads = _call(my_figure1, params, x, y)
    criterion = SoftmaxCrossEntropy()
    want = criterion.forward(net.forward(x), y)
    if not np.isclose(loss, want, rtol=1e-6):
        raise ExerciseFailed(f"the loss is {loss:.6f}, the Figure 1 network's with the same weights {want:.6f}: "
                             f"check the order of the layers ({FIGURE1_LAYOUT}) and that loss is the mean")
    # 2. a gradient check of the whole stack: finite differences of your loss, at 4 entries of each parameter
    for name, value in params.items():
        indices = [tuple(int(i) for i in np.unravel_index(k, value.shape))
                   for k in rng.choice(value.size, size=min(4, value.size), replace=False)]
        numeric = _sampled_gradient(my_figure1, params, x, y, name, indices)
        analytic = np.array([grads[name][i] for i in indices])
        if rel_error(analytic, numeric) > 1e-5:
            raise ExerciseFailed(f"grads[{name!r}] disagrees with finite differences of your loss "
                                 f"(relative error {rel_error(analytic, numeric):.1e}): the backward pass of "
                                 f"{name.split('.')[0]} or of a layer above it is wrong")
    # 3. training: the network must learn 50 real images by heart (float32, the paper's SGD)
    net = figure1_reference(np.float32)
    params = _params(net)
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    losses = []
    while len(losses) < OVERFIT["max_steps"] and (not losses or losses[-1] > OVERFIT["target"]):
        loss, grads = my_figure1(params, images, labels)
        losses.append(float(loss))
        if not np.isfinite(losses[-1]):
            raise ExerciseFailed(f"the loss became {losses[-1]} at step {len(losses)}")
        for k in params:
            velocity[k] = OVERFIT["momentum"] * velocity[k] - OVERFIT["lr"] * grads[k]
            params[k] += velocity[k]
    if losses[-1] > OVERFIT["target"]:
        raise ExerciseFailed(f"after {len(losses)} steps the loss on the 50 images is {losses[-1]:.3f} "
                             f"(from {losses[0]:.3f}); the library's layers reach {OVERFIT['target']} in about 50")
    print(f"your Figure 1 network learnt the 50 images: loss {losses[0]:.3f} -> {losses[-1]:.3f} "
          f"in {len(losses)} steps")
