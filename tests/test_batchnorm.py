"""Batch normalisation (Ioffe & Szegedy 2015; not in the paper): the functional pair against the naive
loops and finite differences, the layers' train/eval modes and running statistics, PyTorch parity,
and the --batch-norm networks."""
import numpy as np
import pytest

from minialex.functional import batch_statistics, batchnorm_backward, batchnorm_forward
from minialex.functional.naive import batchnorm_backward_naive, batchnorm_naive
from minialex.gradcheck import check_layer
from minialex.layers import BatchNorm1d, BatchNorm2d
from minialex.models import alexnet, figure1_net

SHAPES = [(3, 5, 4, 7), (5, 3)]  # odd, non-square: images (N, C, H, W) and features (N, D)


def layer_for(shape, seed=0):
    """A float64 BatchNorm layer for ``shape`` with gamma and beta away from 1 and 0."""
    rng = np.random.default_rng(seed)
    layer = (BatchNorm2d if len(shape) == 4 else BatchNorm1d)(shape[1], dtype=np.float64)
    layer.params["W"] = rng.uniform(0.5, 2.0, shape[1])
    layer.params["b"] = rng.standard_normal(shape[1])
    return layer


def data(shape, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) * 3 + 2


@pytest.mark.parametrize("shape", SHAPES)
def test_functional_pair_equals_the_naive_loops(shape):
    x, gamma, beta = data(shape), *(np.random.default_rng(2).standard_normal((2, shape[1])))
    dout = np.random.default_rng(3).standard_normal(shape)
    mean, var = batch_statistics(x)
    out, cache = batchnorm_forward(x, gamma, beta, mean, var)
    np.testing.assert_allclose(out, batchnorm_naive(x, gamma, beta), rtol=1e-12, atol=1e-12)
    for got, want in zip(batchnorm_backward(dout, cache), batchnorm_backward_naive(dout, x, gamma)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_gradient_check(shape, training):
    layer = layer_for(shape)
    layer.buffers["running_mean"] = np.linspace(-1, 1, shape[1])
    layer.buffers["running_var"] = np.linspace(0.5, 2, shape[1])
    layer.train() if training else layer.eval()
    errors = check_layer(layer, data(shape))
    assert set(errors) == {"x", "W", "b"} and max(errors.values()) < 1e-7, errors


def test_training_normalises_with_the_batch_and_eval_with_the_running_statistics():
    layer = BatchNorm2d(3, dtype=np.float64)
    x = data((4, 3, 5, 6))
    out = layer.forward(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-4)  # eps = 1e-5 takes a little
    m = 4 * 5 * 6
    np.testing.assert_allclose(layer.buffers["running_mean"], 0.1 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(layer.buffers["running_var"], 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1))
    layer.eval()
    one = layer.forward(x[:1])  # an image's output no longer depends on its batch
    np.testing.assert_allclose(one, layer.forward(x)[:1])
    running = layer.buffers["running_mean"].copy()
    layer.forward(x)
    np.testing.assert_array_equal(layer.buffers["running_mean"], running)  # eval leaves them alone


def test_bad_input_is_refused_with_the_layer_named():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3, .*\): input has 4 channels, expected 3"):
        BatchNorm2d(3).forward(np.zeros((2, 4, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3, .*\): expected a 2-D input \(N, D\)"):
        BatchNorm1d(3).forward(np.zeros((2, 3, 5, 5), np.float32))
    with pytest.raises(ValueError, match="more than one value per channel"):
        BatchNorm1d(3).forward(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="--parallel data"):
        BatchNorm1d(3).share_batch(0, 8)


def same_step_as_pytorch(ours, theirs, torch, shape, seed):
    """One forward and backward pass of both layers on the same data: outputs and gradients agree."""
    x, dout = data(shape, seed=seed), data(shape, seed=seed + 1)
    tx = torch.from_numpy(x).requires_grad_()
    tout = theirs(tx)
    tout.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(ours.forward(x), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.backward(dout), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.grads["W"], theirs.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.grads["b"], theirs.bias.grad.numpy(), rtol=1e-10)
    theirs.weight.grad = theirs.bias.grad = None


@pytest.mark.parametrize("shape", SHAPES)
def test_equals_pytorch_in_float64_train_and_eval_with_running_statistics(shape):
    torch = pytest.importorskip("torch")
    ours = layer_for(shape)
    theirs = (torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d)(shape[1], dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.params["W"]))
        theirs.bias.copy_(torch.from_numpy(ours.params["b"]))
    for step in range(4):  # several training steps: the running statistics accumulate
        same_step_as_pytorch(ours, theirs, torch, shape, seed=10 + 2 * step)
    np.testing.assert_allclose(ours.buffers["running_mean"], theirs.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.buffers["running_var"], theirs.running_var.numpy(), rtol=1e-12)
    ours.eval(), theirs.eval()
    same_step_as_pytorch(ours, theirs, torch, shape, seed=30)


def test_batch_norm_networks():
    net = alexnet(10, batch_norm=True)
    assert [n for n in net.names if n.startswith(("bn", "norm"))] == ["bn1", "bn2", "bn3", "bn4", "bn5", "bn6", "bn7"]
    assert "b" not in net["conv1"].params and "b" not in net["fc7"].params and "b" in net["fc8"].params
    plain = alexnet(10)
    for name in ("conv1", "conv5", "fc6", "fc8"):  # the other weights are drawn as without batch norm
        np.testing.assert_array_equal(net[name].params["W"], plain[name].params["W"])
    assert "norm1" in alexnet(10, batch_norm=True, lrn=True).names
    small = figure1_net(batch_norm=True).eval()
    assert [n for n in small.names if n.startswith("bn")] == ["bn1", "bn2", "bn3"]
    assert small.forward(np.zeros((2, 3, 32, 32), np.float32)).shape == (2, 10)
    assert set(small.state_dict()) >= {"bn1.running_mean", "bn3.running_var"}


def test_a_split_over_processes_normalises_each_process_own_channels():
    """Layer.split: process r's part computes the whole layer's channels r*C/2 .. (r+1)*C/2-1, and the
    parts' parameters and buffers join into the whole's along the axes it names (the model split)."""
    from minialex.distributed.model import split_alexnet

    whole = layer_for((4, 6, 3, 5))
    x = data((4, 6, 3, 5))
    out = whole.forward(x)
    for r in (0, 1):
        part, reads_all, axes = layer_for((4, 6, 3, 5)).split(r, 2)
        assert not reads_all and axes == {"W": 0, "b": 0, "running_mean": 0, "running_var": 0}
        np.testing.assert_allclose(part.forward(x[:, 3 * r:3 * r + 3]), out[:, 3 * r:3 * r + 3], rtol=1e-13)
        np.testing.assert_allclose(part.buffers["running_var"], whole.buffers["running_var"][3 * r:3 * r + 3])

    class Comm:  # split_alexnet only reads the rank and size
        size = 2

        def __init__(self, rank):
            self.rank = rank

    net = alexnet(10, batch_norm=True)
    halves = [split_alexnet(alexnet(10, batch_norm=True), Comm(r)) for r in (0, 1)]
    (half, axes), (other, _) = halves
    assert [n for n in half.names if n.startswith("bn")] == ["bn1", "bn2", "bn3", "bn4", "bn5", "bn6", "bn7"]
    assert half["bn6"].num_features == 2048 and axes["bn6.running_mean"] == 0
    for name, array in {**net.named_parameters(), **net.named_buffers()}.items():
        if axes[name] is not None:
            joined = np.concatenate([half.state_dict()[name], other.state_dict()[name]], axis=axes[name])
            np.testing.assert_array_equal(joined, array)
