"""The paper's SGD update and Adam, checked against hand computations (and Adam against PyTorch), and the schedules."""
import numpy as np
import pytest

from minialex.layers import Linear
from minialex.optim import OPTIMIZERS, SGD, Adam, ReduceOnPlateau, StepSchedule, parameter_state


def test_sgd_matches_the_papers_update_by_hand():
    layer = Linear(2, 1, bias=False)
    layer.params["W"] = np.array([[1.0, -2.0]])
    sgd = SGD(layer.parameters(), lr=0.1, momentum=0.9, weight_decay=0.5)
    layer.grads["W"] = np.array([[0.2, 0.4]])
    sgd.step()
    # v1 = 0.9*0 - 0.5*0.1*w - 0.1*g = [-0.05 - 0.02, 0.1 - 0.04] = [-0.07, 0.06]
    np.testing.assert_allclose(layer.params["W"], [[0.93, -1.94]])
    layer.grads["W"] = np.array([[-1.0, 0.0]])
    sgd.step()
    # v2 = 0.9*v1 - 0.05*w1 - 0.1*g = [-0.063 - 0.0465 + 0.1, 0.054 + 0.097] = [-0.0095, 0.151]
    np.testing.assert_allclose(layer.params["W"], [[0.9205, -1.789]])


def test_sgd_updates_in_place_and_state_round_trips():
    layer = Linear(3, 2)
    w = layer.params["W"]
    sgd = SGD(layer.parameters())
    layer.grads = {"W": np.ones_like(w), "b": np.ones(2, np.float32)}
    sgd.step()
    assert layer.params["W"] is w  # the layer sees the update without re-binding
    other = SGD(layer.parameters())
    other.load_state_dict(sgd.state_dict())
    np.testing.assert_array_equal(other.velocity["W"], sgd.velocity["W"])


def test_reduce_on_plateau_divides_by_ten_at_most_max_drops_times():
    sgd = SGD([], lr=0.01)
    schedule = ReduceOnPlateau(patience=2, max_drops=2)
    errors = [0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]
    drops = [schedule.step(sgd, e + 1, err) for e, err in enumerate(errors)]
    assert drops == [False, False, False, True, False, True, False, False, False, False]
    assert sgd.lr == pytest.approx(1e-4)


def test_step_schedule():
    sgd = SGD([], lr=0.01)
    schedule = StepSchedule([2, 4])
    for epoch in range(1, 6):
        schedule.step(sgd, epoch)
    assert sgd.lr == pytest.approx(1e-4)


def test_warmup_factor_rises_linearly_then_stays_one():
    from minialex.optim import warmup_factor
    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0


def test_sgd_step_with_a_rate_for_this_step_only():
    from minialex.layers import Linear
    layer = Linear(2, 1, bias=False)
    layer.params["W"][:] = 1.0
    layer.grads["W"] = np.ones_like(layer.params["W"])
    sgd = SGD([("w", layer, "W")], lr=0.1, momentum=0.0, weight_decay=0.0)
    sgd.step(lr=0.01)
    assert np.allclose(layer.params["W"], 0.99) and sgd.lr == 0.1


def test_adam_first_steps_by_hand():
    layer = Linear(2, 1, bias=False)
    layer.params["W"] = np.array([[1.0, -2.0]])
    adam = Adam(layer, lr=0.1, weight_decay=0.5)
    layer.grads["W"] = np.array([[0.2, -0.4]])
    adam.step()
    # step 1: g = [0.2 + 0.5, -0.4 - 1.0]; m/(1-b1) = g and v/(1-b2) = g^2, so w moves by lr * g/(|g| + eps)
    np.testing.assert_allclose(layer.params["W"], [[0.9, -1.9]], rtol=1e-7)
    layer.grads["W"] = np.array([[0.0, 0.0]])
    adam.step()
    g1 = np.array([0.7, -1.4])
    w1 = np.array([1.0, -2.0]) - 0.1 * g1 / (np.abs(g1) + 1e-8)
    g2 = 0.5 * w1  # the gradient is 0: only the weight decay's term
    m = (0.9 * 0.1 * g1 + 0.1 * g2) / (1 - 0.9 ** 2)
    v = (0.999 * 0.001 * g1 ** 2 + 0.001 * g2 ** 2) / (1 - 0.999 ** 2)
    np.testing.assert_allclose(layer.params["W"], [w1 - 0.1 * m / (np.sqrt(v) + 1e-8)], rtol=1e-12)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_and_adamw_equal_pytorch_in_float64(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    layer = Linear(5, 3).to(dtype=np.float64)
    layer.params["W"], layer.params["b"] = rng.standard_normal((3, 5)), rng.standard_normal(3)
    ours = OPTIMIZERS[name](layer.parameters(), lr=0.01, weight_decay=0.1)
    tensors = [torch.tensor(layer.params[k], requires_grad=True) for k in ("W", "b")]
    theirs = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name](tensors, lr=0.01, weight_decay=0.1)
    for step in range(5):
        grads = {k: rng.standard_normal(layer.params[k].shape) for k in ("W", "b")}
        layer.grads = grads
        for t, k in zip(tensors, ("W", "b")):
            t.grad = torch.tensor(grads[k])
        ours.step(lr=0.01 * (step + 1) / 5)  # a warm-up's rate, for this step only
        theirs.param_groups[0]["lr"] = 0.01 * (step + 1) / 5
        theirs.step()
    for t, k in zip(tensors, ("W", "b")):
        np.testing.assert_allclose(layer.params[k], t.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_adam_state_round_trips_and_describes_itself():
    layer = Linear(3, 2)
    adam = Adam(layer.parameters(), lr=0.001, weight_decay=5e-4)
    layer.grads = {"W": np.ones((2, 3), np.float32), "b": np.ones(2, np.float32)}
    adam.step()
    other = Adam(layer.parameters())
    other.load_state_dict(adam.state_dict())
    assert other.steps == 1 and other.lr == 0.001 and other.betas == (0.9, 0.999)
    np.testing.assert_array_equal(other.exp_avg_sq["W"], adam.exp_avg_sq["W"])
    assert sorted(parameter_state(adam.state_dict())) == ["exp_avg", "exp_avg_sq"]
    assert sorted(parameter_state(SGD(layer).state_dict())) == ["velocity"]
    assert str(adam) == "Adam lr 0.001 betas (0.9, 0.999) eps 1e-08 weight decay 0.0005"
    assert str(SGD(layer)) == "SGD lr 0.01 momentum 0.9 weight decay 0.0005"
