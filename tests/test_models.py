"""The paper's networks: shapes, parameter counts, initialisation, switches."""
import numpy as np
import pytest

from minialex.layers import Dropout, LocalResponseNorm, MaxPool2d
from minialex.models import alexnet, build_model, figure1_net
from minialex.config import TrainConfig
from minialex.summary import summary


@pytest.fixture(scope="module")
def net():
    return alexnet()


def test_alexnet_has_the_papers_parameter_count(net):
    assert sum(w.size for w in net.named_parameters().values()) == 60_965_224


def test_parameters_are_reached_by_layer_name(net):
    assert net["conv1"].params["W"].shape == (96, 3, 11, 11)
    assert net["fc8"].params["b"].shape == (1000,)
    params = net.named_parameters()
    assert list(params)[:4] == ["conv1.W", "conv1.b", "conv2.W", "conv2.b"]
    assert params["conv2.W"] is net["conv2"].params["W"]  # the arrays themselves: an update is seen everywhere
    with pytest.raises(KeyError, match="no layer named 'conv9'.*conv1, "):
        net["conv9"]


def test_named_grads_are_the_last_backward_pass():
    model = figure1_net(in_channels=1, input_size=28)
    out = model.forward(np.random.default_rng(1).standard_normal((2, 1, 28, 28)).astype(np.float32))
    model.backward(np.ones_like(out))
    grads = model.named_grads()
    assert list(grads) == list(model.named_parameters())
    assert grads["fc.b"] is model["fc"].grads["b"] and np.allclose(grads["fc.b"], 2)  # d(sum of out)/db: 2 images


def test_alexnet_layer_table(net):
    rows, text = summary(net, (3, 227, 227))
    shapes = {name: shape for name, _, shape, *_ in rows}
    assert shapes["conv1"] == (96, 55, 55) and shapes["pool1"] == (96, 27, 27)
    assert shapes["conv2"] == (256, 27, 27) and shapes["pool2"] == (256, 13, 13)
    assert shapes["conv5"] == (256, 13, 13) and shapes["pool5"] == (256, 6, 6)
    assert shapes["fc8"] == (1000,)
    params = {name: p for name, _, _, p, *_ in rows}
    assert params["conv2"] == 307_456 and params["fc6"] == 37_752_832
    assert "60,965,224" in text
    flops = {name: f for name, _, _, _, f, *_ in rows}
    assert flops["conv1"] == 2 * 96 * 55 * 55 * 11 * 11 * 3


def test_alexnet_architecture_details(net):
    assert [net[n].groups for n in ("conv1", "conv2", "conv3", "conv4", "conv5")] == [1, 2, 1, 2, 2]
    for name, bias in [("conv1", 0), ("conv2", 1), ("conv3", 0), ("conv4", 1), ("conv5", 1),
                       ("fc6", 1), ("fc7", 1), ("fc8", 0)]:
        assert np.all(net[name].params["b"] == bias), name
    w = net["fc6"].params["W"]
    assert w.dtype == np.float32 and abs(float(w.std()) - 0.01) < 1e-4 and abs(float(w.mean())) < 1e-4
    norm = net["norm1"]
    assert (norm.size, norm.alpha, norm.beta, norm.k) == (5, 1e-4, 0.75, 2.0)
    assert net.names.index("norm1") == net.names.index("relu1") + 1  # LRN after the ReLU
    assert (net["pool1"].kernel_size, net["pool1"].stride) == (3, 2)
    assert net["drop6"].p == 0.5 and net["drop7"].p == 0.5


def test_alexnet_forward_backward_small_batch():
    net = alexnet(num_classes=10, seed=1)
    x = np.random.default_rng(0).standard_normal((2, 3, 227, 227)).astype(np.float32)
    out = net.forward(x)
    assert out.shape == (2, 10) and out.dtype == np.float32
    assert net.backward(np.ones_like(out)) is None  # the first layer skips its input gradient
    assert net["conv1"].grads["W"].shape == (96, 3, 11, 11)


def test_alexnet_ablation_switches():
    plain = alexnet(num_classes=10, lrn=False, overlap=False, dropout=0)
    kinds = [type(layer) for layer in plain.layers]
    assert LocalResponseNorm not in kinds and Dropout not in kinds
    assert all(layer.kernel_size == 2 for layer in plain.layers if isinstance(layer, MaxPool2d))
    assert sum(w.size for w in plain.named_parameters().values()) == \
        60_965_224 - 4096 * 990 - 990  # only fc8 shrinks: same pooled shapes with 2x2 pools


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_figure1_net(activation):
    net = figure1_net(activation)
    rows, _ = summary(net, (3, 32, 32))
    shapes = {name: shape for name, _, shape, *_ in rows}
    assert shapes["pool1"] == (32, 16, 16) and shapes["pool2"] == (32, 8, 8) and shapes["pool3"] == (64, 4, 4)
    assert net["fc"].in_features == 1024
    assert type(net["act1"]).__name__.lower() == activation
    assert abs(float(net["conv1"].params["W"].std()) - 1e-4) < 2e-5
    grey = figure1_net(activation, in_channels=1, input_size=28)
    assert grey.forward(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)


def test_same_seed_same_weights():
    a, b = figure1_net(seed=3), figure1_net(seed=3)
    assert all(np.array_equal(pa, pb) for pa, pb in zip(a.parameters(), b.parameters()))


def test_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of"):
        figure1_net("sigmoid")


def test_alexnet_caffe_initialisation():
    net = alexnet(num_classes=10, init="caffe")
    for name, bias in [("conv1", 0), ("conv2", 0.1), ("conv3", 0), ("conv4", 0.1), ("conv5", 0.1),
                       ("fc6", 0.1), ("fc7", 0.1), ("fc8", 0)]:
        assert np.allclose(net[name].params["b"], bias), name
    for name, std in [("conv1", 0.01), ("conv3", 0.01), ("fc6", 0.005), ("fc7", 0.005), ("fc8", 0.01)]:
        assert abs(float(net[name].params["W"].std()) - std) < 0.02 * std, name
    with pytest.raises(ValueError, match="init must be one of paper, caffe"):
        alexnet(init="he")


def test_the_papers_biases_make_every_image_look_alike():
    """The measurement behind results/imagenette: with biases of 1 the top features barely depend on
    the image, with Caffe's 0.1 they are also much shorter (the step an SGD update takes scales with
    their squared length)."""
    x = np.random.default_rng(0).standard_normal((4, 3, 227, 227)).astype(np.float32) * 60
    lengths = {}
    for init in ("paper", "caffe"):
        net = alexnet(num_classes=10, init=init).eval()
        h = x
        for name, layer in zip(net.names, net.layers):
            h = layer.forward(h)
            if name == "relu7":
                break
        unit = h / np.linalg.norm(h, axis=1, keepdims=True)
        cosine = (unit @ unit.T)[np.triu_indices(4, 1)]
        lengths[init] = float((h ** 2).sum(axis=1).mean())
        if init == "paper":
            assert cosine.min() > 0.999
    assert lengths["paper"] > 50 * lengths["caffe"]


def test_alexnet_lrn_within_each_gpu_or_across_both():
    assert alexnet(num_classes=10)["norm1"].groups == 2, "the paper's: each GPU normalises its own maps"
    earlier = alexnet(num_classes=10, lrn_groups=1)
    assert earlier["norm1"].groups == 1 and earlier["norm2"].groups == 1


def weights(model):
    return model.named_parameters()


@pytest.mark.parametrize("options, expected", [
    ({}, lambda: figure1_net("relu", 1, 10, 28)),
    ({"activation": "tanh", "lrn": True, "dropout": 0.5, "overlap": False, "seed": 3},
     lambda: figure1_net("tanh", 1, 10, 28, lrn=True, overlap=False, dropout=0.5, seed=3)),
    ({"model": "alexnet", "init": "caffe", "lrn_groups": 1},
     lambda: alexnet(10, init="caffe", lrn_groups=1)),
    ({"model": "alexnet", "lrn": False, "dropout": 0.0}, lambda: alexnet(10, lrn=False, dropout=0.0)),
], ids=["figure1", "figure1-switches", "alexnet-caffe", "alexnet-plain"])
def test_build_model_is_the_network_of_the_options(options, expected):
    built, reference = build_model(TrainConfig(**options), 1, 10, 28), expected()
    assert built.names == reference.names
    assert [repr(layer) for layer in built.layers] == [repr(layer) for layer in reference.layers]
    assert all(np.array_equal(a, b) for a, b in zip(weights(built).values(), weights(reference).values()))


def test_summary_takes_torchinfos_input_size_lines_up_and_is_a_method_too():
    net = alexnet(num_classes=10)
    rows, text = summary(net, (1, 3, 227, 227))  # torchinfo's (N, C, H, W)
    assert rows == summary(net, (3, 227, 227))[0] == net.summary((8, 3, 227, 227))[0]
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1  # every row as wide as the header: the LRN rows line up
    norm1 = next(line for line in lines if line.startswith("norm1"))
    assert lines[0].index("output") + len("output") == norm1.index("96x55x55") + len("96x55x55")
    with pytest.raises(ValueError, match=r"input_size is \(C, H, W\) or \(N, C, H, W\), got \(227, 227\)"):
        summary(net, (227, 227))


def test_an_input_of_the_wrong_size_says_which_sizes_the_network_takes():
    with pytest.raises(ValueError, match=r"input has 6400 features, expected 9216 .*This network takes 227x227 to "
                                         r"258x258 inputs; with 224x224, fc6's input would have 6400 features"):
        alexnet(num_classes=10).forward(np.zeros((1, 3, 224, 224), np.float32))
    with pytest.raises(ValueError, match=r"input has 4 channels, expected 3 \(shape \(1, 4, 32, 32\)\)$"):
        figure1_net().forward(np.zeros((1, 4, 32, 32), np.float32))  # the size fits: no advice about it
