"""The training loop: mini-batch SGD over a data set, with checkpoints that let a
run stop anywhere (Ctrl-C included) and continue bit for bit.

    trainer = Trainer(TrainConfig(epochs=5), run_dir="runs/demo")
    trainer.fit()
    Trainer.resume("runs/demo", epochs=10).fit()   # five more epochs

The loop is this file; the rest of a run has a file each: its options
(``config``), the files of its directory and their lock (``run_files``), where
it stands inside an epoch (``run_state``), continuing from its checkpoint
(``run_checkpoint``), the warnings and the stop when it goes wrong (``guard_rails``),
Ctrl-C and SIGTERM (``signals``), testing (``evaluation``), its network from
the checkpoint alone (``saved_model.load_model``).

Reproducibility: the shuffle and the augmentation of epoch e come from
generators seeded by (seed, e); dropout's generators, the momentum buffers and
the weights are saved in the checkpoint. So on the CPU, stopping and resuming
gives the same numbers as an uninterrupted run.

Nothing is lost on a signal, and every file of the run directory agrees with
its checkpoint (tests/test_reliability.py checks each point):

* Ctrl-C (SIGINT) or SIGTERM only asks ``fit`` to stop after the current batch;
  it saves a checkpoint there and raises ``TrainingInterrupted``. Further
  signals are ignored until then, so no checkpoint ever holds half an update
  (``signals``).
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
import os
import time

import numpy as np
from tqdm import tqdm

from . import run_checkpoint, weights
from .backend import to_device, to_numpy
from .config import TrainConfig  # noqa: F401  (``from minialex.trainer import TrainConfig`` still works: README)
from .config import SCHEDULES, check_config, input_size
from .data import TrainingInput, epoch_order, load_dataset
from .distributed import OneProcess
from .evaluation import evaluate
from .guard_rails import GuardRails, check_input_size, diverged, out_of_memory, weights_finite
from .layers import SoftmaxCrossEntropy
from .models import build_model
from .optim import OPTIMIZERS, warmup_factor
from .run_files import CHECKPOINT, run_lock, write_metrics, write_text
from .run_state import EpochProgress
from .signals import interrupted, stop_between_steps
# The errors fit() raises, importable from here beside Trainer (the experiments and older code do):
from .guard_rails import TrainingDiverged  # noqa: F401
from .signals import TrainingInterrupted  # noqa: F401


class Trainer:
    def __init__(self, config, run_dir, data=None, progress=True, log=print, parallel=None):
        check_config(config)
        self.config, self.run_dir, self.progress, self.log = config, run_dir, progress, log
        self.parallel = parallel or OneProcess()  # how processes share the work (minialex.distributed)
        if not self.parallel.is_main:  # one process prints, draws the progress bars and writes the files
            self.progress, self.log = False, lambda message: None
        if data is None:
            data = load_dataset(config.dataset, config.data_dir, config.download, config.subset, config.seed,
                                config.val_dir, log=log, progress=self.progress, skip_bad_images=config.skip_bad_images)
        elif config.subset:
            data = (data[0].subset(config.subset, seed=config.seed), data[1])
        self.train_set, self.test_set = data
        classes = len(self.train_set.classes)
        self.guard_rails = GuardRails(config, classes, self.log)  # after the log is chosen: one process warns
        if config.subset and config.subset < classes:
            self.guard_rails.warn("subset", f"--subset {config.subset} is smaller than the number of classes "
                                  f"({classes}): some classes get no training image, so the network cannot learn them")
        c, h, w = self.train_set.images.shape[1:]
        if input_size(config, h) > min(h, w):  # before anything is sized by the crop
            raise ValueError(f"--crop {config.crop} is larger than the {h}x{w} images of {self.train_set.name}")
        self.inputs = TrainingInput.of(self.train_set.images, input_size(config, h), config.augment,
                                       config.pca_lighting)
        self.mean, self.crop = self.inputs.mean, self.inputs.crop
        self.model = build_model(config, c, classes, self.crop)
        check_input_size(self.model, self.crop, config)
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
        self.signal_received = None  # set by Ctrl-C or SIGTERM (``signals``); honoured between two batches

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
            first = self.points[0]["train_loss"] if self.points else None  # the first epoch's first window
            problem = self.guard_rails.watch_loss(loss, first, self.optimizer.lr, where)
            if problem:
                raise diverged(problem, self.optimizer.lr, self.run_dir, self.saved)
            self.optimizer.step(lr)
        except MemoryError as err:  # NumPy's and CuPy's out-of-memory errors are both MemoryErrors
            raise out_of_memory(where, self.config.batch_size) from err
        if not weights_finite(self.model):
            raise diverged(f"the weights became NaN or infinite in the update of {where}", self.optimizer.lr,
                           self.run_dir, self.saved)
        return loss, errors

    # -- one epoch ----------------------------------------------------------------

    def train_epoch(self, stop=None):
        """Train one epoch (or the rest of an interrupted one). ``stop(trainer, point)`` is called at every
        recorded point; returning True ends training there. Returns the epoch's statistics, or None when a
        signal stopped it between two batches (``self.position`` says where)."""
        cfg, epoch = self.config, self.epoch
        order = epoch_order(len(self.train_set), cfg.seed, epoch)
        starts = list(range(0, len(self.train_set), cfg.batch_size))
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
                stop_between_steps(self):
            if writes:
                write_text(os.path.join(self.run_dir, "config.json"),
                            json.dumps(dataclasses.asdict(self.config), indent=1))
            if self.history or self.points:  # resumed: a kill -9 may have come between the checkpoint and these
                self.write_metrics()
            while self.epoch < self.config.epochs and not self.stopped and not self.parallel.agree(self):
                tick = time.perf_counter()
                stats = self.train_epoch(stop)
                if stats is None or self.stopped:  # stopped between two batches: save where the epoch stands
                    self.save()
                    self.write_metrics()
                    break
                self.epoch += 1
                self._end_epoch(stats, time.perf_counter() - tick)
            if self.epoch >= self.config.epochs and self.config.keep == "weights" and writes \
                    and not self.signal_received:
                os.remove(os.path.join(self.run_dir, CHECKPOINT))  # the run is over: model.npz stays
            if self.parallel.agree(self):
                raise interrupted(self.signal_received, self.log, run_checkpoint.kept(self.run_dir, self.saved),
                                  self.run_dir)
        return self.history

    def _end_epoch(self, stats, seconds):
        record = {"epoch": self.epoch, "lr": self.optimizer.lr, **stats, "seconds": seconds}
        if self.config.validate:
            val = self.evaluate()
            record.update(val_loss=val["loss"], val_top1_error=val["top1_error"], val_top5_error=val["top5_error"],
                          val_top_class_share=val["top_class_share"])
            previous = self.history[-1].get("val_top_class_share", 0) if self.history else 0
            self.guard_rails.after_validation(val, previous, self.epoch == self.config.epochs)
            self.schedule.step(self.optimizer, self.epoch, val["top1_error"])
        else:
            self.schedule.step(self.optimizer, self.epoch, None)
        self.history.append(record)
        self.log(format_epoch(record, self.config.epochs))
        self.save()  # the checkpoint first, then the files made from it
        self.write_metrics()

    def write_metrics(self):
        """metrics.jsonl and curves.png (``run_files.write_metrics``), from the main process."""
        if self.parallel.is_main:
            title = f"{self.config.model} ({self.config.activation}) on {self.train_set.name}"
            write_metrics(self.run_dir, self.history, self.points, title if self.config.validate else None)

    def save(self):
        """The checkpoint and model.npz (``run_checkpoint.save``)."""
        self.saved = run_checkpoint.save(self)

    @classmethod
    def resume(cls, run_dir, data=None, progress=True, log=print, parallel=None, **changes):
        """Rebuild a run from its checkpoint (``minialex.run_checkpoint``). ``changes``: TrainConfig fields, e.g.
        ``epochs=20`` to extend the run, ``data_dir=...`` where the data set is now; None keeps the run's
        value. Only the fields of CHANGEABLE_ON_RESUME and WHERE_IT_RUNS may change."""
        state, config, changed = run_checkpoint.read_run(run_dir, changes, log)
        trainer = cls(config, run_dir, data=data, progress=progress, log=log, parallel=parallel)
        run_checkpoint.restore(trainer, state, changed)
        return trainer

def format_epoch(h, total_epochs):
    line = (f"epoch {h['epoch']:>3}/{total_epochs}  lr {h['lr']:.2g}  train loss {h['train_loss']:.4f}  "
            f"train err {h['train_error']:.4f}")
    if "val_top1_error" in h:
        line += f"  val top-1 {h['val_top1_error']:.4f}  top-5 {h['val_top5_error']:.4f}"
    return line + f"  ({h['images_per_s']:.0f} img/s, {h['seconds']:.0f} s)"
