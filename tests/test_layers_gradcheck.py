"""Every layer's backward pass against centred finite differences, in float64,
on the cases where wrong backward passes hide."""
import numpy as np
import pytest

from minialex.gradcheck import check_layer, check_loss, check_model
from minialex.layers import (AvgPool2d, Conv2d, Dropout, Flatten, Linear, LocalResponseNorm, MaxPool2d,
                             ReLU, Sequential, SoftmaxCrossEntropy, Tanh)

TOL = 1e-6


def randn(on_device, *shape, seed=0):
    return on_device(np.random.default_rng(seed).standard_normal(shape))


def assert_small(errors):
    assert errors and max(errors.values()) <= TOL, errors


@pytest.mark.parametrize("shape, out_ch, kernel, stride, padding, groups", [
    ((2, 3, 7, 9), 4, 3, 1, 0, 1),   # non-square input
    ((2, 3, 9, 8), 5, 3, 2, 1, 1),   # strided and padded
    ((1, 4, 11, 10), 6, 5, 3, 2, 2),  # AlexNet-like large stride, two groups
    ((2, 8, 6, 7), 8, 3, 1, 1, 4),   # four groups
    ((2, 4, 8, 8), 4, (2, 3), 2, 0, 2),  # rectangular kernel
    ((2, 4, 7, 6), 6, (3, 2), 1, 1, 2),  # rectangular kernel, stride 1, padded
    ((3, 4, 6, 6), 4, 5, 1, 2, 2),   # AlexNet's conv2: 5x5, padding 2, two groups
])
def test_conv2d(on_device, device, conv_path, shape, out_ch, kernel, stride, padding, groups):
    rng = np.random.default_rng(1)
    layer = Conv2d(shape[1], out_ch, kernel, stride, padding, groups, weight_std=1.0, rng=rng)
    layer.params["b"] = rng.standard_normal(out_ch).astype(np.float32)
    layer.to(device, np.float64)
    assert_small(check_layer(layer, randn(on_device, *shape)))


def test_linear(on_device, device):
    layer = Linear(7, 5, weight_std=1.0, bias_init=0.3).to(device, np.float64)
    assert_small(check_layer(layer, randn(on_device, 4, 7)))


@pytest.mark.parametrize("layer", [ReLU(), Tanh(), Flatten()], ids=repr)
def test_elementwise_and_flatten(on_device, layer):
    assert_small(check_layer(layer, randn(on_device, 2, 3, 4, 5)))


@pytest.mark.parametrize("layer", [
    MaxPool2d(3, 2),                  # AlexNet's overlapping pooling
    MaxPool2d(3, 1),                  # heavy overlap: every input in up to 9 windows
    MaxPool2d(2, 2),
    MaxPool2d(3, 2, padding=1, ceil_mode=True),
    AvgPool2d(3, 2),
    AvgPool2d(3, 1),
    AvgPool2d(3, 2, ceil_mode=True),  # the Figure 1 net's pooling, partial last window
    AvgPool2d(3, 2, padding=1),
], ids=repr)
def test_pooling(on_device, layer):
    # Distinct values far further apart than the step h: no ties, so max is differentiable at x.
    n = 2 * 3 * 9 * 11
    x = np.random.default_rng(2).permutation(n).reshape(2, 3, 9, 11) / n - 0.5
    assert_small(check_layer(layer, on_device(x)))


@pytest.mark.parametrize("alpha, beta, k, size", [
    (1e-4, 0.75, 2.0, 5),   # the paper's values
    (0.5, 0.75, 2.0, 5),    # large alpha: the window term dominates, so a wrong window shows
    (1.0, 0.6, 1.0, 3),
])
def test_lrn(on_device, alpha, beta, k, size):
    x = randn(on_device, 2, 7, 3, 4) * 2
    assert_small(check_layer(LocalResponseNorm(size, alpha, beta, k), x))


def test_lrn_in_two_groups(on_device):
    """alexnet()'s LRN (groups=2) with a large alpha, so that a window reaching across a group's edge shows."""
    x = randn(on_device, 2, 8, 3, 4) * 2
    assert_small(check_layer(LocalResponseNorm(5, 0.5, 0.75, 2.0, groups=2), x))


def test_dropout_with_fixed_mask(on_device):
    layer = Dropout(0.5)
    fixed_mask = lambda: setattr(layer, "rng", np.random.default_rng(3))  # same mask every forward
    errors = check_layer(layer, randn(on_device, 4, 10), before_forward=fixed_mask)
    assert_small(errors)


def test_softmax_cross_entropy(on_device):
    rng = np.random.default_rng(4)
    logits = on_device(rng.standard_normal((6, 5)))
    labels = on_device(rng.integers(0, 5, 6))
    assert check_loss(SoftmaxCrossEntropy(), logits, labels) <= TOL


def test_softmax_cross_entropy_large_logits(on_device):
    """A shift of 1000 would overflow exp() without the max subtraction."""
    rng = np.random.default_rng(5)
    logits, labels = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    loss = SoftmaxCrossEntropy()
    small = float(loss.forward(on_device(logits), on_device(labels)))
    big = float(loss.forward(on_device(logits + 1000.0), on_device(labels)))
    assert np.isfinite(big) and abs(big - small) < 1e-9
    assert check_loss(loss, on_device(logits + 1000.0), on_device(labels)) <= TOL


def test_whole_stack_with_loss(on_device, device):
    """Backpropagation through a small AlexNet-shaped stack, into every parameter."""
    rng = np.random.default_rng(6)
    model = Sequential(
        Conv2d(3, 4, 3, stride=2, padding=1, groups=1, weight_std=0.5, rng=rng), ReLU(),
        LocalResponseNorm(3, alpha=0.3), MaxPool2d(3, 2),
        Conv2d(4, 4, 3, padding=1, groups=2, weight_std=0.5, bias_init=1.0, rng=rng), Tanh(),
        AvgPool2d(3, 2, ceil_mode=True), Flatten(), Linear(8, 3, weight_std=0.5, rng=rng),
    ).to(device, np.float64)
    x = randn(on_device, 2, 3, 15, 17)
    labels = on_device(np.array([0, 2]))
    errors = check_model(model, SoftmaxCrossEntropy(), x, labels)
    assert set(errors) >= {"x", "0.W", "0.b", "4.W", "8.W"}
    assert max(v for k, v in errors.items() if k != "x") <= TOL, errors
    # Some input pixels reach the loss only through attenuating paths (LRN, the
    # pools), so their gradients are ~1e-8 while others are ~1e-1. A difference
    # of two whole losses resolves such entries only to about 1e-4 relative in
    # float64; each layer's own input gradient is checked at 1e-6 above.
    assert errors["x"] <= 1e-4, errors
