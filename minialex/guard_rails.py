"""The guard rails of a training run: warnings when it goes wrong, and a stop when it cannot recover.

A learner's first runs often fail quietly: a learning rate too high makes the loss climb and then turn
into NaN, and a network that answers one class for every image still prints errors that look like numbers.
These checks watch every batch and every validation and say, once, what happened and what to try:

* a loss far above ln(classes), the loss of guessing, for several batches: a warning (the updates
  overshoot);
* a loss that is NaN or infinite, or far above where it started for several batches, or weights that became
  NaN or infinite: ``TrainingDiverged``, raised before any checkpoint could hold such weights;
* (nearly) every validation image given the same class: a warning (``evaluation.one_class_warning``);
* before any work, a crop the network cannot take: refused, saying the smallest it accepts.
"""
import math

from .backend import get_array_module
from .config import input_problem, smallest_input
from .evaluation import ONE_CLASS_FRACTION, advise_caffe_init, one_class_warning
from .run_checkpoint import kept


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or stayed far above its starting value, or the weights became NaN or
    infinite."""


class GuardRails:
    """The warnings of one process's run (each given once) and the counts of bad batches in a row."""
    HIGH_LOSS_FACTOR = 3      # "far above chance": this many times ln(classes)
    HIGH_LOSS_BATCHES = 5     # for this many batches in a row
    DIVERGED_FACTOR = 10      # "diverged": this many times both the first recorded loss and ln(classes)
    DIVERGED_BATCHES = 10     # for this many batches in a row

    def __init__(self, config, classes, log):
        self.config, self.classes, self.log = config, classes, log
        self.warned = set()          # the keys of the warnings given
        self.high_loss_batches = 0   # consecutive batches with a loss far above chance's
        self.diverging_batches = 0   # consecutive batches with a loss far above its starting value

    def warn(self, key, message):
        if key not in self.warned:
            self.warned.add(key)
            self.log(f"\nwarning: {message}")

    def watch_loss(self, loss, first, lr, where):
        """A loss far above ln(classes), the loss of guessing, means the updates overshoot: a warning. Far
        above where it started (``first``, the first recorded point's loss, None before it) as well, for
        several batches, the run has diverged. Returns what went wrong when it has (the trainer raises
        ``diverged``), else None. ``lr``: the rate now; ``where`` ("epoch 2, batch 5"): for the messages."""
        chance = math.log(self.classes)
        if not math.isfinite(loss):
            return f"the loss became {loss} at {where}"
        self.high_loss_batches = self.high_loss_batches + 1 if loss > self.HIGH_LOSS_FACTOR * chance else 0
        if self.high_loss_batches == self.HIGH_LOSS_BATCHES:
            self.warn("high loss", (
                f"the training loss has been above {self.HIGH_LOSS_FACTOR} x ln({self.classes}) = "
                f"{self.HIGH_LOSS_FACTOR * chance:.1f} for {self.HIGH_LOSS_BATCHES} batches (now {loss:.1f}, "
                f"{where}): the updates overshoot. Try a lower --lr (now {lr:g}), a warm-up (--warmup 1)" +
                (", or --init caffe (see results/imagenette/README.md)" if advise_caffe_init(self.config) else "")))
        limit = self.DIVERGED_FACTOR * max(first, chance) if first is not None else math.inf
        self.diverging_batches = self.diverging_batches + 1 if loss > limit else 0
        if self.diverging_batches == self.DIVERGED_BATCHES:
            return (f"the training loss has been above {self.DIVERGED_FACTOR} x max(its first recorded value "
                    f"{first:.2f}, ln({self.classes}) = {chance:.2f}) = {limit:.1f} for {self.DIVERGED_BATCHES} "
                    f"batches (now {loss:.1f}, {where})")
        return None

    def after_validation(self, result, previous_share, last):
        """Early on a network may well answer one class for a while: warn when it persists (two epochs in a
        row: ``previous_share`` is the last epoch's top class share) or when the run ends that way (``last``)."""
        if min(previous_share, result["top_class_share"]) >= ONE_CLASS_FRACTION or last:
            self.warn_if_one_class(result)

    def warn_if_one_class(self, result):
        """Warn (once) if the network gives (nearly) every image the same class. ``result``: what
        ``evaluate`` returned."""
        message = one_class_warning(result, self.classes, self.config)
        if message:
            self.warn("one class", message)


def check_input_size(model, crop, config):
    """The network must take the crop (AlexNet's fc6 fixes its size); that the crop fits in the images
    is checked before the network is built."""
    problem = input_problem(model, crop)
    if problem:
        n = smallest_input(config.model, config.overlap)
        raise ValueError(f"{config.model} cannot take {crop}x{crop} inputs ({problem}); the smallest input it "
                         f"accepts is {n}x{n}: choose a --crop it takes")


def out_of_memory(where, batch_size):
    """The MemoryError to raise when the training step at ``where`` ran out of memory: what to do about it."""
    return MemoryError(f"out of memory in the training step ({where}) with --batch-size {batch_size}: start a new "
                       f"run with a smaller batch, e.g. --batch-size {max(1, batch_size // 2)} (a resumed run keeps "
                       "its batch size)")


def weights_finite(model):
    """Checked after every update, so that no checkpoint is ever saved with NaN or infinite weights."""
    return all(bool(get_array_module(w).isfinite(w).all()) for w in model.named_parameters().values())


def diverged(what, lr, run_dir, saved):
    """The TrainingDiverged error for ``what`` happened at learning rate ``lr``, saying truthfully what the
    run directory keeps (``saved``: the (epoch, batch) of its last checkpoint, None: none)."""
    lower = f"--lr {lr / 10:g}"
    advice = (f"Continue from it with a lower rate: python -m minialex.train --out {run_dir} --resume "
              f"{lower}" if saved else f"Start the run again with a lower rate, e.g. {lower}")
    return TrainingDiverged(f"{what}: the learning rate {lr:g} is probably too high. "
                            f"{kept(run_dir, saved)} {advice}.")
