"""The paper's SGD update, checked against a hand computation, and the schedules."""
import numpy as np
import pytest

from minialex.layers import Linear
from minialex.optim import SGD, ReduceOnPlateau, StepSchedule


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
