"""A PyTorch user's first ten minutes with minialex (issue 28): each thing they try first works, or says
in one line what to do instead."""
import configparser
import os

import numpy as np
import pytest

import minialex

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def alexnet():
    return minialex.alexnet()


def test_the_package_has_a_version_and_its_main_names():
    setup = configparser.ConfigParser()
    setup.read(os.path.join(ROOT, "setup.cfg"))
    assert minialex.__version__ == setup.get("metadata", "version")
    for name in ("alexnet", "figure1_net", "layers", "Sequential", "Conv2d", "Linear", "LocalResponseNorm",
                 "MaxPool2d", "Dropout", "SGD", "summary", "save", "load"):
        assert hasattr(minialex, name), name
    assert minialex.Conv2d is minialex.layers.Conv2d


def test_counting_parameters_as_in_pytorch(alexnet):
    assert sum(p.size for p in alexnet.parameters()) == 60_965_224  # the paper's "60 million"
    named = alexnet.named_parameters()
    assert named["conv1.W"].shape == (96, 3, 11, 11) and named["fc8.b"].shape == (1000,)


def test_state_dict_round_trip_and_clear_errors(alexnet):
    other = minialex.alexnet(seed=1)
    other.load_state_dict(alexnet.state_dict())
    assert all(np.array_equal(a, b) for a, b in zip(other.parameters(), alexnet.parameters()))
    broken = alexnet.state_dict()
    broken.pop("fc8.b")
    broken["fc9.W"] = np.zeros(3, np.float32)
    broken["conv1.W"] = np.zeros((1, 2), np.float32)
    with pytest.raises(ValueError) as err:
        other.load_state_dict(broken)
    message = str(err.value)
    assert "fc8.b" in message and "fc9.W" in message and "conv1.W" in message and "\n" not in message


def test_save_and_load_the_weights(tmp_path):
    model = minialex.figure1_net(input_size=31)
    minialex.save(model, tmp_path / "model.npz")
    loaded = minialex.load(tmp_path / "model.npz").model
    x = np.random.default_rng(0).standard_normal((2, 3, 31, 31)).astype(np.float32)
    assert np.array_equal(loaded.eval().forward(x), model.eval().forward(x))


def test_summary_takes_torchinfos_input_size_and_lines_up(alexnet):
    rows, text = minialex.summary(alexnet, (1, 3, 227, 227))  # torchinfo's (N, C, H, W); (C, H, W) works too
    assert "60,965,224" in text and len(rows) == len(alexnet.names)
    rows = [line for line in text.splitlines() if line.split(" ", 1)[0] in alexnet.names]
    assert len(rows) == len(alexnet.names)
    assert len({len(row) for row in rows}) == 1, "every row, LRN's included, has its columns in line"


def test_an_optimiser_from_parameters_or_the_model(alexnet):
    model = minialex.figure1_net(input_size=12)
    x = np.random.default_rng(0).standard_normal((4, 3, 12, 12)).astype(np.float32)
    loss = minialex.SoftmaxCrossEntropy()
    for optimizer in (minialex.SGD(model.parameters(), lr=0.1), minialex.SGD(model, lr=0.1)):
        before = [p.copy() for p in model.parameters()]
        loss.forward(model.forward(x), np.array([0, 1, 2, 3]))
        model.backward(loss.backward())
        optimizer.step()
        assert any(not np.array_equal(a, b) for a, b in zip(before, model.parameters()))
    with pytest.raises(TypeError, match="model.parameters\\(\\)"):
        minialex.SGD("conv1", lr=0.1)


def test_a_224_input_says_that_alexnet_needs_227(alexnet):
    with pytest.raises(ValueError, match="227") as err:
        alexnet.eval().forward(np.zeros((1, 3, 224, 224), np.float32))
    assert "\n" not in str(err.value)


def test_a_summary_prints_as_its_table_and_unpacks():
    net = minialex.alexnet()
    table = minialex.summary(net, (1, 3, 227, 227))
    rows, text = table
    assert str(table) == repr(table) == text and text.splitlines()[0].startswith("layer")
    assert len(rows) == len(net.layers) and "60,965,224" in text
