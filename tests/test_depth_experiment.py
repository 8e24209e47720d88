"""minialex.experiments.depth (lesson 11's committed depth experiment): the network without conv2,
the paired difference and its standard error, the refusal of a single seed."""
import numpy as np
import pytest

from minialex.experiments import depth
from minialex.models import figure1_net


def test_without_conv2_drops_the_middle_convolution_and_its_relu_only():
    net = figure1_net(in_channels=1, input_size=depth.CROP, seed=0)
    shallow = depth.without_conv2(net)
    assert shallow.names == [n for n in net.names if n not in ("conv2", "act2")]
    assert shallow["conv1"] is net["conv1"] and shallow["fc"] is net["fc"]     # the same layers, not copies
    x = np.random.default_rng(0).standard_normal((3, 1, depth.CROP, depth.CROP)).astype(np.float32)
    assert shallow.forward(x).shape == (3, 10)


def test_paired_difference_and_its_standard_error():
    a = np.array([1, 1, 0, 0, 1, 0], bool)        # wrong with one network
    b = np.array([1, 0, 0, 1, 0, 0], bool)        # wrong with the other
    diff, se = depth.paired(a, b)
    d = np.array([0, 1, 0, -1, 1, 0], float)
    assert diff == pytest.approx(d.mean()) and se == pytest.approx(d.std(ddof=1) / np.sqrt(6))


def test_top_k_wrong_counts_an_image_wrong_only_when_its_label_is_outside_the_top_k():
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    assert depth.top_k_wrong(probs, np.array([1, 2]), 1).tolist() == [True, False]
    assert depth.top_k_wrong(probs, np.array([1, 0]), 2).tolist() == [False, True]


def test_probabilities_average_the_softmax_over_the_views_in_eval_mode():
    net = figure1_net(in_channels=1, input_size=depth.CROP, seed=0, dropout=0.5)
    views = np.random.default_rng(1).standard_normal((2, 4, 1, depth.CROP, depth.CROP)).astype(np.float32)
    probs = depth.probabilities(net, views)
    assert probs.shape == (4, 10) and np.allclose(probs.sum(axis=1), 1)
    assert np.allclose(probs, depth.probabilities(net, views))    # dropout off: the same twice
    assert net.training                                            # and back in training mode after


def test_one_seed_is_refused(capsys):
    with pytest.raises(SystemExit):
        depth.main(["--seeds", "1"])
    assert "at least 2" in capsys.readouterr().err
