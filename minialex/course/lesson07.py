"""Checks for lesson 07, learning: the paper's momentum update and learning-rate drops."""
from types import SimpleNamespace

import numpy as np

from minialex.optim import StepSchedule

from . import ExerciseFailed


def _paper_steps(w, grads, lr, momentum, weight_decay):
    """(w, v) after one step of section 5's update per gradient in ``grads``, from v = 0."""
    v = np.zeros_like(w)
    for g in grads:
        v = momentum * v - weight_decay * lr * w - lr * g
        w = w + v
    return w, v


def check_sgd_step(my_sgd_step):
    """my_sgd_step(w, v, grad, lr, momentum=0.9, weight_decay=5e-4) -> (new w, new v), section 5:
    v <- momentum * v - weight_decay * lr * w - lr * grad;  w <- w + v."""
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(3)]
    for lr, momentum, wd in [(0.01, 0.9, 5e-4), (0.5, 0.5, 0.1)]:
        w, v = w0.copy(), np.zeros_like(w0)
        for step, g in enumerate(grads, 1):
            out = my_sgd_step(w.copy(), v.copy(), g.copy(), lr, momentum, wd)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise ExerciseFailed("return a pair (new w, new v)")
            w, v = (np.asarray(a, dtype=np.float64) for a in out)
            want_w, want_v = _paper_steps(w0, grads[:step], lr, momentum, wd)
            if w.shape != w0.shape or v.shape != w0.shape:
                raise ExerciseFailed(f"w and v should keep the shape {w0.shape}")
            if not np.allclose(v, want_v, rtol=1e-10, atol=1e-12):
                hint = ""
                if step == 1 and np.allclose(v, -wd * w0 - lr * g):
                    hint = " (the weight-decay term is multiplied by the learning rate too: -wd * lr * w)"
                raise ExerciseFailed(f"lr={lr}, momentum={momentum}, weight decay={wd}: the velocity after "
                                     f"step {step} differs from section 5's update by "
                                     f"{np.abs(v - want_v).max():.3g}{hint}")
            if not np.allclose(w, want_w, rtol=1e-10, atol=1e-12):
                raise ExerciseFailed(f"the velocity is right but w is not after step {step}: w <- w + v, "
                                     "with the NEW v")


def check_lr_at(my_lr_at):
    """my_lr_at(epoch, base_lr, milestones) -> the learning rate used during epoch ``epoch``
    (counted from 1) when the rate is divided by 10 after each epoch listed in ``milestones``."""
    for base_lr, milestones in [(0.01, (30, 60, 80)), (0.1, (1, 2)), (0.05, ())]:
        schedule, optimizer = StepSchedule(milestones), SimpleNamespace(lr=base_lr)
        for epoch in range(1, 91):
            got = my_lr_at(epoch, base_lr, milestones)
            if not np.isclose(got, optimizer.lr, rtol=1e-12):
                raise ExerciseFailed(f"base lr {base_lr}, drops after epochs {milestones}: epoch {epoch} "
                                     f"should use lr {optimizer.lr:g}, got {got}")
            schedule.step(optimizer, epoch)  # after the epoch has finished
