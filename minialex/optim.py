"""The optimisers, behind one interface, and the learning-rate schedules.

``SGD`` is exactly the paper's update (section 5); ``Adam`` and ``AdamW`` are
not in the paper (Kingma & Ba 2015; Loshchilov & Hutter 2019), here to show
what another optimiser takes: one class and a line in ``OPTIMIZERS``.

Every optimiser

* is built from what ``model.parameters()`` returns, or the model itself, or
  ``model.parameter_slots()`` (where each array lives: the update is made in
  place on ``layer.params[key]``);
* has ``step(lr=None)`` (``lr``: the rate for this step only, a warm-up) and an
  ``lr`` attribute, which the schedules change;
* has ``state_dict()`` / ``load_state_dict()``: its hyper-parameters as plain
  numbers, and its state per parameter as {parameter name: array} dicts
  (SGD's ``velocity``, Adam's ``exp_avg`` and ``exp_avg_sq``), which is how
  a checkpoint saves it and the distributed code splits and joins it
  (``parameter_state``) without knowing which optimiser it is;
* describes itself for the training log (``str(optimizer)``).
"""
import math

from .backend import get_array_module, to_device, to_numpy


def parameter_slots(parameters, who):
    """[(name, layer, key)] from what an optimiser was given: ``model.parameters()``, a model or
    layer, or a list of such triples; a clear error for anything else."""
    if hasattr(parameters, "parameter_slots"):  # a model or a layer
        return parameters.parameter_slots()
    if hasattr(parameters, "slots"):  # what parameters() returns
        return list(parameters.slots)
    if isinstance(parameters, (list, tuple)) and all(
            isinstance(s, tuple) and len(s) == 3 and hasattr(s[1], "params") for s in parameters):
        return list(parameters)
    raise TypeError(f"{who}: pass model.parameters(), the model itself, or model.parameter_slots(); got "
                    f"{type(parameters).__name__}" + (f" of {len(parameters)} items" if hasattr(parameters, "__len__")
                                                      else "") +
                    ". A plain list of arrays does not say which layer holds each one, and the update must go into "
                    "the layer's own arrays")


def parameter_state(state):
    """{key: {parameter name: array}}: the per-parameter entries of an optimiser's ``state_dict``."""
    return {key: value for key, value in state.items() if isinstance(value, dict)}


class SGD:
    """The paper's update, for every weight w with batch-mean gradient g:

        v <- momentum * v - weight_decay * lr * w - lr * g
        w <- w + v

    Note where weight decay sits: it is multiplied by the learning rate, and
    goes through the momentum like the gradient does.
    """

    def __init__(self, parameters, lr=0.01, momentum=0.9, weight_decay=5e-4):
        self.parameters = parameter_slots(parameters, "SGD")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = {}

    @classmethod
    def from_options(cls, parameters, options):
        """From a run's options (a TrainConfig): --lr, --momentum, --weight-decay."""
        return cls(parameters, options.lr, options.momentum, options.weight_decay)

    def __str__(self):
        return f"SGD lr {self.lr:g} momentum {self.momentum:g} weight decay {self.weight_decay:g}"

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


class Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1; not in the paper), as PyTorch's ``torch.optim.Adam``
    computes it, defaults included. For every weight w with batch-mean gradient g, at step t = 1, 2, ...:

        g <- g + weight_decay * w                      (L2 weight decay, through the moments)
        m <- beta1 * m + (1 - beta1) * g               the mean of the gradients (exp_avg)
        v <- beta2 * v + (1 - beta2) * g^2             the mean of their squares (exp_avg_sq)
        w <- w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    Each weight gets its own step size: about lr where its gradient is steady, less where it
    is noisy. The division by 1 - beta^t undoes the moments' start at zero.
    """

    def __init__(self, parameters, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.parameters = parameter_slots(parameters, type(self).__name__)
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay
        self.steps = 0
        self.exp_avg, self.exp_avg_sq = {}, {}

    @classmethod
    def from_options(cls, parameters, options):
        """From a run's options: --lr and --weight-decay; betas and eps are PyTorch's defaults."""
        return cls(parameters, options.lr, weight_decay=options.weight_decay)

    def __str__(self):
        b1, b2 = self.betas
        return (f"{type(self).__name__} lr {self.lr:g} betas ({b1:g}, {b2:g}) eps {self.eps:g} "
                f"weight decay {self.weight_decay:g}")

    def step(self, lr=None):
        """One update; ``lr`` overrides the rate for this step only (a warm-up)."""
        lr = self.lr if lr is None else lr
        (b1, b2), self.steps = self.betas, self.steps + 1
        size = lr / (1 - b1 ** self.steps)          # the step size with the first moment's correction
        root = math.sqrt(1 - b2 ** self.steps)      # the second moment's correction, under the root
        for name, owner, key in self.parameters:
            w, g = owner.params[key], owner.grads[key]
            if name not in self.exp_avg:
                xp = get_array_module(w)
                self.exp_avg[name], self.exp_avg_sq[name] = xp.zeros_like(w), xp.zeros_like(w)
            m, v = self.exp_avg[name], self.exp_avg_sq[name]
            g = self._decay(w, g, lr)
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            w -= size * m / (get_array_module(v).sqrt(v) / root + self.eps)

    def _decay(self, w, g, lr):
        """Adam's weight decay: an L2 term added to the gradient."""
        return g + self.weight_decay * w if self.weight_decay else g

    def state_dict(self):
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay,
                "steps": self.steps, "exp_avg": {name: to_numpy(m) for name, m in self.exp_avg.items()},
                "exp_avg_sq": {name: to_numpy(v) for name, v in self.exp_avg_sq.items()}}

    def load_state_dict(self, state, device="cpu"):
        self.lr, self.betas, self.eps = state["lr"], tuple(state["betas"]), state["eps"]
        self.weight_decay, self.steps = state["weight_decay"], state["steps"]
        self.exp_avg = {name: to_device(m, device) for name, m in state["exp_avg"].items()}
        self.exp_avg_sq = {name: to_device(v, device) for name, v in state["exp_avg_sq"].items()}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``: the
    weights shrink by lr * weight_decay * w outside the moments, so a weight with large gradients
    is decayed as much as one with small ones (in Adam the L2 term is divided by sqrt(v) too)."""

    def _decay(self, w, g, lr):
        w *= 1 - lr * self.weight_decay
        return g


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}


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
