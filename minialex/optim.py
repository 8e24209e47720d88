"""Stochastic gradient descent exactly as the paper writes it (section 5),
and the learning-rate schedules that go with it."""
from .backend import get_array_module, to_device, to_numpy


class SGD:
    """The paper's update, for every weight w with batch-mean gradient g:

        v <- momentum * v - weight_decay * lr * w - lr * g
        w <- w + v

    Note where weight decay sits: it is multiplied by the learning rate, and
    goes through the momentum like the gradient does.

    ``parameters``: the (name, owner, key) triples of ``model.parameters()``;
    the update is done in place on ``owner.params[key]``.
    """

    def __init__(self, parameters, lr=0.01, momentum=0.9, weight_decay=5e-4):
        self.parameters = list(parameters)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = {}

    def step(self, lr=None):
        """One update; ``lr`` overrides the rate for this step only (a warm-up)."""
        lr = self.lr if lr is None else lr
        for name, owner, key in self.parameters:
            w, g = owner.params[key], owner.grads[key]
            if name not in self.velocity:
                self.velocity[name] = get_array_module(w).zeros_like(w)
            v = self.velocity[name]
            v *= self.momentum
            v -= (self.weight_decay * lr) * w
            v -= lr * g
            w += v

    def state_dict(self):
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
                "velocity": {name: to_numpy(v) for name, v in self.velocity.items()}}

    def load_state_dict(self, state, device="cpu"):
        self.lr, self.momentum, self.weight_decay = state["lr"], state["momentum"], state["weight_decay"]
        self.velocity = {name: to_device(v, device) for name, v in state["velocity"].items()}


class _Schedule:
    """A schedule's state is its attributes: that is what a checkpoint saves."""

    def state_dict(self):
        return dict(vars(self))

    def load_state_dict(self, state):
        vars(self).update(state)


class ReduceOnPlateau(_Schedule):
    """Divide the learning rate by ``factor`` when the validation error has not
    improved for ``patience`` epochs, at most ``max_drops`` times (the paper
    divided by 10, three times, "when the validation error rate stopped
    improving")."""

    def __init__(self, patience=3, factor=10.0, max_drops=3, min_improvement=1e-4):
        self.patience, self.factor, self.max_drops = patience, factor, max_drops
        self.min_improvement = min_improvement
        self.best, self.bad_epochs, self.drops = float("inf"), 0, 0

    def step(self, optimizer, epoch, val_error):
        """Call once per epoch after validation; returns True if the rate dropped."""
        if val_error < self.best - self.min_improvement:
            self.best, self.bad_epochs = val_error, 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs < self.patience or self.drops >= self.max_drops:
            return False
        optimizer.lr /= self.factor
        self.drops, self.bad_epochs = self.drops + 1, 0
        return True


class StepSchedule(_Schedule):
    """Divide the learning rate by ``factor`` after each epoch listed in ``milestones``."""

    def __init__(self, milestones, factor=10.0):
        self.milestones, self.factor = sorted(milestones), factor

    def step(self, optimizer, epoch, val_error=None):
        """``epoch``: the 1-based number of the epoch that just finished."""
        if epoch in self.milestones:
            optimizer.lr /= self.factor
            return True
        return False


class ConstantSchedule(_Schedule):
    """Keep the learning rate fixed (the Figure 1 experiment)."""

    def step(self, optimizer, epoch, val_error=None):
        return False


def warmup_factor(step, warmup_steps):
    """The fraction of the learning rate for 0-based ``step`` of a linear warm-up
    over ``warmup_steps`` steps (Goyal et al. 2017; not in the paper): it rises
    from 1/warmup_steps to 1, then stays 1."""
    return 1.0 if step >= warmup_steps else (step + 1) / warmup_steps
