"""The training loop: mini-batch SGD over a data set, with checkpoints that let a
run stop anywhere (Ctrl-C included) and continue bit for bit.

    trainer = Trainer(TrainConfig(epochs=5), run_dir="runs/demo")
    trainer.fit()
    Trainer.resume("runs/demo", epochs=10).fit()   # five more epochs

The loop is this file; the rest of a run has a file each: its options
(``config``), the files of its directory and their lock (``run_files``), where
it stands inside an epoch (``run_state``), testing (``evaluation``), its
network from the checkpoint alone (``saved_model.load_model``).

Reproducibility: the shuffle and the augmentation of epoch e come from
generators seeded by (seed, e); dropout's generators, the momentum buffers and
the weights are saved in the checkpoint. So on the CPU, stopping and resuming
gives the same numbers as an uninterrupted run.

Nothing is lost on a signal, and every file of the run directory agrees with
its checkpoint (tests/test_reliability.py checks each point):

* Ctrl-C (SIGINT) or SIGTERM only asks ``fit`` to stop after the current batch;
  it saves a checkpoint there and raises ``TrainingInterrupted``. Further
  signals are ignored until then, so no checkpoint ever holds half an update.
* One process at a time trains in a run directory (``run_lock``). The lock
  dies with its process, kill -9 included, and whoever takes it next removes
  the temporary files of a write that a kill -9 cut short.
* Files are written to a temporary file and renamed (``files.atomic_write``),
  and ``fit`` rewrites metrics.jsonl and curves.png from the checkpoint when it
  starts, in case a kill -9 came between the checkpoint and them.
* Every option value is checked before any work (``check_config``).
"""
import contextlib
import dataclasses
import json
import math
import os
import signal
import threading
import time

import numpy as np
from tqdm import tqdm

from . import checkpoint, weights
from .backend import get_array_module, to_device, to_numpy
from .config import (CHANGEABLE_ON_RESUME, SCHEDULES, WHERE_IT_RUNS, TrainConfig, check_config, input_problem,
                     input_size, option_name, smallest_input)
from .data import TrainingInput, epoch_order, load_dataset
from .distributed import OneProcess
from .evaluation import ONE_CLASS_FRACTION, advise_caffe_init, evaluate, one_class_warning
from .layers import SoftmaxCrossEntropy
from .models import build_model
from .optim import OPTIMIZERS, warmup_factor
from .run_files import CHECKPOINT, check_config_json, run_lock, write_metrics, write_text
from .run_check import check_fits, load_run_state
from .run_state import EpochProgress


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or stayed far above its starting value, or the weights became NaN or
    infinite."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped ``fit`` between two batches, after it saved a checkpoint.
    ``signum`` says which signal (the command line exits with 128 + signum: 130 or 143)."""

    def __init__(self, signum):
        super().__init__(signal_name(signum))
        self.signum = signum


def signal_name(signum):
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


class Trainer:
    def __init__(self, config, run_dir, data=None, progress=True, log=print, parallel=None):
        check_config(config)
        self.config, self.run_dir, self.progress, self.log = config, run_dir, progress, log
        self.parallel = parallel or OneProcess()  # how processes share the work (minialex.distributed)
        if not self.parallel.is_main:  # one process prints, draws the progress bars and writes the files
            self.progress, self.log = False, lambda message: None
        self.warned = set()         # each guard-rail warning is given once per process
        if data is None:
            data = load_dataset(config.dataset, config.data_dir, config.download, config.subset, config.seed,
                                config.val_dir, log=log, progress=self.progress, skip_bad_images=config.skip_bad_images)
        elif config.subset:
            data = (data[0].subset(config.subset, seed=config.seed), data[1])
        self.train_set, self.test_set = data
        classes = len(self.train_set.classes)
        if config.subset and config.subset < classes:
            self._warn("subset", f"--subset {config.subset} is smaller than the number of classes ({classes}): "
                                 "some classes get no training image, so the network cannot learn them")
        c, h, w = self.train_set.images.shape[1:]
        if input_size(config, h) > min(h, w):  # before anything is sized by the crop
            raise ValueError(f"--crop {config.crop} is larger than the {h}x{w} images of {self.train_set.name}")
        self.inputs = TrainingInput.of(self.train_set.images, input_size(config, h), config.augment,
                                       config.pca_lighting)
        self.mean, self.crop = self.inputs.mean, self.inputs.crop
        self.model = build_model(config, c, classes, self.crop)
        self._check_input_size()
        self.architecture = weights.architecture(self.model)  # the whole network's, for model.npz
        self.model = self.parallel.model(self.model)  # the model split: this process's half of it
        self.model.to(config.device)
        self.loss_fn = SoftmaxCrossEntropy()
        self.optimizer = OPTIMIZERS[config.optimizer].from_options(self.model.parameters(), config)
        self.schedule = SCHEDULES[config.schedule](config)
        self.epoch = 0          # epochs completed
        self.history = []       # one dict per completed epoch
        self.points = []        # running training error, points_per_epoch per epoch
        self.position = None    # where an interrupted epoch stopped: an EpochProgress
        self.stopped = False
        self.saved = None       # (epoch, batch) that the last checkpoint holds; None: none saved
        self.signal_received = None  # set by Ctrl-C or SIGTERM; honoured between two batches
        self.high_loss_batches = 0   # consecutive batches with a loss far above chance's
        self.diverging_batches = 0   # consecutive batches with a loss far above its starting value

    def _check_input_size(self):
        """The network must take the crop (AlexNet's fc6 fixes its size); that the crop fits in the images
        is checked before the network is built."""
        problem = input_problem(self.model, self.crop)
        if problem:
            n = smallest_input(self.config.model, self.config.overlap)
            raise ValueError(f"{self.config.model} cannot take {self.crop}x{self.crop} inputs ({problem}); the "
                             f"smallest input it accepts is {n}x{n}: choose a --crop it takes")

    # -- batches ----------------------------------------------------------------

    def _train_batch(self, images, rng, rows=slice(None)):
        """uint8 images -> float input on the device (``TrainingInput``); only ``rows`` of it go to the
        device (data parallelism: all are augmented, so that the random numbers do not depend on how the
        processes share the batch)."""
        x = self.inputs(images, rng)
        return to_device(np.ascontiguousarray(x[rows]), self.config.device)

    def _step(self, x, y, lr, where):
        """One SGD update with learning rate ``lr`` on the batch (x, y); returns the batch's loss and number
        of errors. ``where`` ("epoch 2, batch 5") is for the messages."""
        try:
            logits = self.model.forward(x)
            loss = float(self.loss_fn.forward(logits, y))
            errors = int(to_numpy((logits.argmax(axis=1) != y).sum()))
            self.model.backward(self.loss_fn.backward())
            loss, errors = self.parallel.reduce(loss, errors)  # data parallelism: all processes' gradients averaged
            self._watch_loss(loss, where)
            self.optimizer.step(lr)
        except MemoryError as err:  # NumPy's and CuPy's out-of-memory errors are both MemoryErrors
            raise MemoryError(f"out of memory in the training step ({where}) with --batch-size "
                              f"{self.config.batch_size}: start a new run with a smaller batch, e.g. --batch-size "
                              f"{max(1, self.config.batch_size // 2)} (a resumed run keeps its batch size)") from err
        if not self._weights_finite():
            raise self._diverged(f"the weights became NaN or infinite in the update of {where}")
        return loss, errors

    def _weights_finite(self):
        """Checked after every update, so that no checkpoint is ever saved with NaN or infinite weights."""
        weights = list(self.model.named_parameters().values())
        return all(bool(get_array_module(w).isfinite(w).all()) for w in weights)

    # -- one epoch ----------------------------------------------------------------

    def train_epoch(self, stop=None):
        """Train one epoch (or the rest of an interrupted one). ``stop(trainer, point)`` is called at every
        recorded point; returning True ends training there. Returns the epoch's statistics, or None when a
        signal stopped it between two batches (``self.position`` says where)."""
        cfg, epoch = self.config, self.epoch
        n = len(self.train_set)
        order = epoch_order(n, cfg.seed, epoch)
        starts = list(range(0, n, cfg.batch_size))
        progress = self.position or EpochProgress.start(cfg.seed, epoch)
        rng = np.random.default_rng()
        rng.bit_generator.state = progress.rng_state
        bar = tqdm(total=len(starts), initial=progress.batch, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                   disable=None if self.progress else True, leave=False, dynamic_ncols=True)
        self.model.train()
        tick, trained = time.perf_counter(), 0  # images trained on in this call, for the speed
        try:
            for b in range(progress.batch, len(starts)):
                idx = order[starts[b]:starts[b] + cfg.batch_size]
                rows = self.parallel.shard(len(idx))  # this process's images of the batch (one process: all)
                x = self._train_batch(self.train_set.images[idx], rng, rows)
                y = to_device(self.train_set.labels[idx[rows]], cfg.device)
                lr = self.optimizer.lr * warmup_factor(epoch * len(starts) + b, round(cfg.warmup * len(starts)))
                loss, errors = self._step(x, y, lr, f"epoch {epoch + 1}, batch {b + 1}")
                progress.add(loss, errors, len(idx))
                progress.batch, progress.rng_state = b + 1, rng.bit_generator.state
                trained += len(idx)
                bar.update()
                bar.set_postfix(loss=f"{progress.loss_sum / progress.seen:.3f}",
                                err=f"{progress.error_sum / progress.seen:.3f}",
                                img_s=f"{trained / (time.perf_counter() - tick):.0f}")
                if self._record_point(progress, len(starts), stop):
                    self.stopped = True
                    break
                if self.parallel.agree(self):  # every process stops after the same batch
                    self.position = progress
                    return None
        finally:
            bar.close()
        self.position = progress if self.stopped else None
        return {"train_loss": progress.loss_sum / progress.seen, "train_error": progress.error_sum / progress.seen,
                "images_per_s": trained / (time.perf_counter() - tick)}

    # -- guard rails ----------------------------------------------------------------

    HIGH_LOSS_FACTOR = 3      # "far above chance": this many times ln(classes)
    HIGH_LOSS_BATCHES = 5     # for this many batches in a row
    DIVERGED_FACTOR = 10      # "diverged": this many times both the first recorded loss and ln(classes)
    DIVERGED_BATCHES = 10     # for this many batches in a row

    def _warn(self, key, message):
        if key not in self.warned:
            self.warned.add(key)
            self.log(f"\nwarning: {message}")

    def _watch_loss(self, loss, where):
        """A loss far above ln(classes), the loss of guessing, means the updates overshoot: a warning. Far
        above where it started as well, for several batches, the run has diverged: it stops."""
        classes = len(self.train_set.classes)
        chance = math.log(classes)
        if not math.isfinite(loss):
            raise self._diverged(f"the loss became {loss} at {where}")
        self.high_loss_batches = self.high_loss_batches + 1 if loss > self.HIGH_LOSS_FACTOR * chance else 0
        if self.high_loss_batches == self.HIGH_LOSS_BATCHES:
            self._warn("high loss", (
                f"the training loss has been above {self.HIGH_LOSS_FACTOR} x ln({classes}) = "
                f"{self.HIGH_LOSS_FACTOR * chance:.1f} for {self.HIGH_LOSS_BATCHES} batches (now {loss:.1f}, "
                f"{where}): the updates overshoot. Try a lower --lr (now {self.optimizer.lr:g}), a warm-up "
                "(--warmup 1)" +
                (", or --init caffe (see results/imagenette/README.md)" if advise_caffe_init(self.config) else "")))
        first = self.points[0]["train_loss"] if self.points else None  # the first epoch's first window
        limit = self.DIVERGED_FACTOR * max(first, chance) if first is not None else math.inf
        self.diverging_batches = self.diverging_batches + 1 if loss > limit else 0
        if self.diverging_batches == self.DIVERGED_BATCHES:
            raise self._diverged(
                f"the training loss has been above {self.DIVERGED_FACTOR} x max(its first recorded value "
                f"{first:.2f}, ln({classes}) = {chance:.2f}) = {limit:.1f} for {self.DIVERGED_BATCHES} batches "
                f"(now {loss:.1f}, {where})")

    def _diverged(self, what):
        """The TrainingDiverged error for ``what`` happened, saying truthfully what the run directory keeps."""
        lower = f"--lr {self.optimizer.lr / 10:g}"
        advice = (f"Continue from it with a lower rate: python -m minialex.train --out {self.run_dir} --resume "
                  f"{lower}" if self.saved else f"Start the run again with a lower rate, e.g. {lower}")
        return TrainingDiverged(f"{what}: the learning rate {self.optimizer.lr:g} is probably too high. "
                                f"{self._kept()} {advice}.")

    def _kept(self):
        """What the last checkpoint holds, in a sentence."""
        if self.saved is None:
            return f"No checkpoint was saved in {self.run_dir}: the run stopped before its first epoch ended."
        epoch, batch = self.saved
        return (f"The checkpoint in {self.run_dir} holds the run " +
                (f"at epoch {epoch + 1}, batch {batch}." if batch else f"after epoch {epoch}."))

    def warn_if_one_class(self, result):
        """Warn (once) if the network gives (nearly) every image the same class. ``result``: what
        ``evaluate`` returned."""
        message = one_class_warning(result, len(self.train_set.classes), self.config)
        if message:
            self._warn("one class", message)

    def _record_point(self, progress, num_batches, stop):
        """Every 1/points_per_epoch of an epoch, record the training error of the
        batches since the last point (the running error, as cuda-convnet printed it)."""
        due = round((progress.points + 1) * num_batches / self.config.points_per_epoch)  # the next point's batch
        if progress.batch < due and progress.batch < num_batches:
            return False
        loss, error = progress.close_window()
        point = {"epoch": self.epoch + progress.batch / num_batches, "train_loss": loss, "train_error": error}
        self.points.append(point)
        return bool(stop and stop(self, point))

    # -- evaluation ---------------------------------------------------------------

    def evaluate(self, dataset=None, ten_crops=False, batch_size=256):
        """``evaluation.evaluate`` of the network on ``dataset`` (the validation set by default): the
        loss and top-1 and top-5 errors of the centre crop, or of the paper's ten crops."""
        return evaluate(self.model, dataset or self.test_set, self.mean, self.crop, self.config.device, ten_crops,
                        batch_size, self.progress)

    # -- the whole run ------------------------------------------------------------

    def fit(self, stop=None):
        """Train until ``config.epochs`` epochs are done (or ``stop`` says so), checkpointing after every
        epoch. After Ctrl-C or SIGTERM it finishes the batch, saves, and raises TrainingInterrupted."""
        self.signal_received = None
        writes = self.parallel.is_main  # one process writes the run's files
        with run_lock(self.run_dir, self.log) if writes else contextlib.nullcontext(), \
                self._signals_stop_between_batches():
            if writes:
                write_text(os.path.join(self.run_dir, "config.json"),
                            json.dumps(dataclasses.asdict(self.config), indent=1))
            if self.history or self.points:  # resumed: a kill -9 may have come between the checkpoint and these
                self.write_metrics()
            while self.epoch < self.config.epochs and not self.stopped and not self.parallel.agree(self):
                tick = time.perf_counter()
                stats = self.train_epoch(stop)
                if stats is None or self.stopped:  # stopped between two batches: save where the epoch stands
                    self._save_all()
                    break
                self.epoch += 1
                self._end_epoch(stats, time.perf_counter() - tick)
            if self.epoch >= self.config.epochs and self.config.keep == "weights" and writes \
                    and not self.signal_received:
                os.remove(os.path.join(self.run_dir, CHECKPOINT))  # the run is over: model.npz stays
            if self.parallel.agree(self):
                self.log(f"\ninterrupted by {signal_name(self.signal_received)}. {self._kept()} "
                         f"Continue with: python -m minialex.train --out {self.run_dir} --resume")
                raise TrainingInterrupted(self.signal_received)
        return self.history

    @contextlib.contextmanager
    def _signals_stop_between_batches(self):
        """While training, Ctrl-C (SIGINT) and SIGTERM only ask the loop to stop after the current batch (or
        after the validation and checkpoint under way), where fit() saves. Further signals are ignored until
        then: a second Ctrl-C in the middle of an update or of the save would leave weights that no
        checkpoint describes. (kill -9 cannot be caught: the renamed writes and run_lock cover it.)"""
        if threading.current_thread() is not threading.main_thread():  # Python runs handlers in the main thread
            yield
            return

        def request_stop(signum, frame):
            if self.signal_received:
                return
            self.signal_received = signum
            try:
                self.log(f"\n{signal_name(signum)}: stopping after the current step (a batch, or the validation "
                         "and checkpoint under way) to save a checkpoint; until then further Ctrl-C and SIGTERM "
                         "are ignored")
            except RuntimeError:  # the signal came in the middle of a print, which cannot be re-entered
                pass

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _end_epoch(self, stats, seconds):
        record = {"epoch": self.epoch, "lr": self.optimizer.lr, **stats, "seconds": seconds}
        if self.config.validate:
            val = self.evaluate()
            record.update(val_loss=val["loss"], val_top1_error=val["top1_error"], val_top5_error=val["top5_error"],
                          val_top_class_share=val["top_class_share"])
            # Early on a network may well answer one class for a while: warn when it persists (two epochs
            # in a row) or when the run ends that way.
            previous = self.history[-1].get("val_top_class_share", 0) if self.history else 0
            if min(previous, val["top_class_share"]) >= ONE_CLASS_FRACTION or self.epoch == self.config.epochs:
                self.warn_if_one_class(val)
            self.schedule.step(self.optimizer, self.epoch, val["top1_error"])
        else:
            self.schedule.step(self.optimizer, self.epoch, None)
        self.history.append(record)
        self.log(format_epoch(record, self.config.epochs))
        self._save_all()

    def _save_all(self):
        """The checkpoint first, then the files made from it."""
        self.save()
        self.write_metrics()

    def write_metrics(self):
        """metrics.jsonl and curves.png (``run_files.write_metrics``), from the main process."""
        if self.parallel.is_main:
            title = f"{self.config.model} ({self.config.activation}) on {self.train_set.name}"
            write_metrics(self.run_dir, self.history, self.points, title if self.config.validate else None)

    def state(self):
        """What a checkpoint holds: everything to continue the run, and (mean, crop, classes, trained_on
        and the config's model options) everything to use its network without the training set
        (``load_model``)."""
        return {"config": dataclasses.asdict(self.config), "model": checkpoint.model_state(self.model),
                "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                "epoch": self.epoch, "history": self.history, "points": self.points,
                "position": dataclasses.asdict(self.position) if self.position else None, "stopped": self.stopped,
                "classes": self.train_set.classes, "mean": self.mean, "crop": self.crop,
                "trained_on": self.train_set.name}

    def save(self):
        state = self.parallel.full_state(self.state())  # the whole model's state, from every process
        if self.parallel.is_main:
            checkpoint.save(os.path.join(self.run_dir, CHECKPOINT), state)
            if self.config.keep != "checkpoint":
                self.export(state)
        self.saved = self._place()

    def export(self, state):
        """model.npz: the network's weights alone (``minialex.weights``), with the mean image, crop, class
        names and the run's options, which is what ``load_model`` needs to use it."""
        model = state["model"]  # checkpoint.model_state of the whole network: its state dict, in two parts
        weights.write(os.path.join(self.run_dir, weights.RUN_FILE), self.architecture,
                      {**model["params"], **model.get("buffers", {})}, self.mean, self.crop, self.train_set.classes,
                      self.config.half_weights, state["config"], self.epoch, self.train_set.name)

    def _place(self):
        """(epoch, batch): where the run stands (batch 0: between two epochs)."""
        return self.epoch, self.position.batch if self.position else 0

    @classmethod
    def resume(cls, run_dir, data=None, progress=True, log=print, parallel=None, **changes):
        """Rebuild a run from its checkpoint. ``changes``: TrainConfig fields, e.g. ``epochs=20`` to extend
        the run, ``data_dir=...`` where the data set is now; None keeps the run's value. The fields of
        CHANGEABLE_ON_RESUME and WHERE_IT_RUNS may change, and each change is logged; another value for any
        other field is refused, because the checkpoint is a state of the run that they define."""
        state = load_run_state(os.path.join(run_dir, CHECKPOINT))  # its structure checked (run_check)
        config = TrainConfig(**state["config"])
        check_config_json(run_dir, config)
        changed = {k: v for k, v in changes.items() if v is not None and v != getattr(config, k)}
        refused = [k for k in changed if k not in CHANGEABLE_ON_RESUME + WHERE_IT_RUNS]
        if refused:
            raise ValueError("a resumed run keeps its own " + ", ".join(
                f"{option_name(k)} (the run's {getattr(config, k)!r}, asked for {changed[k]!r})" for k in refused)
                + f": the checkpoint in {run_dir} is a state of the run they define. Leave them out, or start a "
                "new run (another --out) to train with them")
        for k, v in changed.items():
            was = state["optimizer"]["lr"] if k == "lr" else getattr(config, k)  # the rate may have dropped
            log(f"resuming with {option_name(k)} {v} (the run had {was})")
        config = dataclasses.replace(config, **changed)
        trainer = cls(config, run_dir, data=data, progress=progress, log=log, parallel=parallel)
        state = trainer.parallel.local_state(state)  # the model split: this process's half of the checkpoint
        check_fits(state, trainer, os.path.join(run_dir, CHECKPOINT))
        checkpoint.load_model_state(trainer.model, state["model"])
        trainer.optimizer.load_state_dict({**state["optimizer"], "lr": config.lr} if "lr" in changed
                                          else state["optimizer"], config.device)
        # The new schedule has the new options; the checkpoint gives it the rest (best error, drops so far).
        trainer.schedule.load_state_dict({k: v for k, v in state["schedule"].items() if k not in changed})
        for key in ("epoch", "history", "points", "stopped"):
            setattr(trainer, key, state[key])
        trainer.position = EpochProgress.from_state(state["position"]) if state["position"] else None
        trainer.saved = trainer._place()
        return trainer


def format_epoch(h, total_epochs):
    line = (f"epoch {h['epoch']:>3}/{total_epochs}  lr {h['lr']:.2g}  train loss {h['train_loss']:.4f}  "
            f"train err {h['train_error']:.4f}")
    if "val_top1_error" in h:
        line += f"  val top-1 {h['val_top1_error']:.4f}  top-5 {h['val_top5_error']:.4f}"
    return line + f"  ({h['images_per_s']:.0f} img/s, {h['seconds']:.0f} s)"
