"""The training loop: mini-batch SGD over a data set, with checkpoints that let a
run stop anywhere (Ctrl-C included) and continue bit for bit.

    trainer = Trainer(TrainConfig(epochs=5), run_dir="runs/demo")
    trainer.fit()
    Trainer.resume("runs/demo", epochs=10).fit()   # five more epochs

Reproducibility: the shuffle and the augmentation of epoch e come from
generators seeded by (seed, e); dropout's generators, the momentum buffers and
the weights are saved in the checkpoint. So on the CPU, stopping and resuming
gives the same numbers as an uninterrupted run.
"""
import dataclasses
import json
import math
import os
import signal
import threading
import time

import numpy as np
from tqdm import tqdm

from . import checkpoint
from .backend import check_device, to_device, to_numpy
from .data import (center_crop, epoch_order, load_dataset, mean_image, pca_lighting, pca_lighting_basis,
                   random_crop_flip, ten_crop)
from .layers import SoftmaxCrossEntropy
from .models import alexnet, figure1_net
from .optim import SGD, ConstantSchedule, ReduceOnPlateau, StepSchedule, warmup_factor
from .plots import plot_learning_curves

CHECKPOINT = "checkpoint.npz"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a run; saved in its checkpoint and ``config.json``."""
    model: str = "figure1"            # "figure1" or "alexnet"
    activation: str = "relu"          # "relu" or "tanh"
    lrn: bool = None                  # None: the model's default (AlexNet yes, Figure 1 net no)
    overlap: bool = True              # 3x3 stride-2 pooling (paper) or 2x2 stride-2
    dropout: float = None             # None: the model's default (AlexNet 0.5, Figure 1 net 0)
    init: str = "paper"               # alexnet: "paper" (section 5) or "caffe" (biases 0.1; see models.alexnet)
    dataset: str = "embedded"         # see minialex.data.DATASETS
    data_dir: str = None
    val_dir: str = None               # "folder" only: the test images, when data_dir has no val/ beside train/
    download: bool = False
    subset: int = None                # train on a stratified subset of this many images
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup: float = 0.0               # epochs of linear learning-rate warm-up (not in the paper; 0: none)
    schedule: str = "plateau"         # "plateau", "step" or "constant"
    patience: int = 3                 # plateau: epochs without improvement before a drop
    max_drops: int = 3                # plateau: the paper dropped the rate three times
    milestones: tuple = ()            # step: epochs after which the rate is divided by 10
    augment: bool = True              # random crops and flips (section 4.1)
    pca_lighting: bool = False        # PCA colour augmentation (section 4.1), RGB only
    crop: int = None                  # None: 227 for 256x256 images, else the image size
    validate: bool = True             # evaluate the test set after every epoch
    device: str = "cpu"
    seed: int = 0
    points_per_epoch: int = 10        # how often the running training error is recorded


class Trainer:
    def __init__(self, config, run_dir, data=None, progress=True, log=print):
        check_device(config.device)
        if config.schedule == "plateau" and not config.validate:
            raise ValueError("schedule 'plateau' drops the learning rate when the validation error stops "
                             "improving, so it needs validate=True; use schedule 'step' or 'constant'")
        self.config, self.run_dir, self.progress, self.log = config, run_dir, progress, log
        if data is None:
            data = load_dataset(config.dataset, config.data_dir, config.download, config.subset, config.seed,
                                config.val_dir, log=log)
        elif config.subset:
            data = (data[0].subset(config.subset, seed=config.seed), data[1])
        self.train_set, self.test_set = data
        c, h, w = self.train_set.images.shape[1:]
        self.crop = config.crop or (227 if h >= 256 else h)
        # Small images keep their size when augmented: pad by 1/8, then crop back.
        self.pad = h // 8 if (config.augment and self.crop == h) else 0
        self.mean = mean_image(self.train_set.images)
        self.pca = pca_lighting_basis(self.train_set.images) if config.pca_lighting else None
        self.model = self._build_model(c, len(self.train_set.classes)).to(config.device)
        self.loss_fn = SoftmaxCrossEntropy()
        self.optimizer = SGD(self.model.parameters(), config.lr, config.momentum, config.weight_decay)
        self.schedule = {"plateau": lambda: ReduceOnPlateau(config.patience, 10.0, config.max_drops),
                         "step": lambda: StepSchedule(config.milestones),
                         "constant": ConstantSchedule}[config.schedule]()
        self.epoch = 0          # epochs completed
        self.history = []       # one dict per completed epoch
        self.points = []        # running training error, points_per_epoch per epoch
        self.position = None    # where an interrupted epoch stopped
        self.stopped = False
        self.interrupt_requested = False  # set by Ctrl-C; honoured between two batches
        self.high_loss_batches = 0  # consecutive batches with a loss far above chance's
        self.warned = set()         # each guard-rail warning is given once per process

    def _build_model(self, channels, classes):
        cfg = self.config
        options = {k: v for k, v in (("lrn", cfg.lrn), ("dropout", cfg.dropout)) if v is not None}
        if cfg.model == "alexnet":
            return alexnet(classes, cfg.activation, overlap=cfg.overlap, seed=cfg.seed, init=cfg.init, **options)
        if cfg.init != "paper":
            raise ValueError(f"init {cfg.init!r} is for alexnet; the Figure 1 network has its own initial scales")
        if cfg.model == "figure1":
            return figure1_net(cfg.activation, channels, classes, self.crop, overlap=cfg.overlap, seed=cfg.seed,
                               **options)
        raise ValueError(f"unknown model {cfg.model!r}; choose 'figure1' or 'alexnet'")

    # -- batches ----------------------------------------------------------------

    def _train_batch(self, images, rng):
        """uint8 images -> float input on the device, centred, augmented as configured."""
        x = images.astype(np.float32) - self.mean
        if self.config.augment:
            x = random_crop_flip(x, self.crop, rng, flip=True, pad=self.pad)
        elif self.crop != x.shape[2]:
            x = center_crop(x, self.crop)
        if self.pca is not None:
            x = pca_lighting(x, *self.pca, rng)
        return to_device(np.ascontiguousarray(x), self.config.device)

    # -- one epoch ----------------------------------------------------------------

    def train_epoch(self, stop=None):
        """Train one epoch (or the rest of an interrupted one). ``stop(trainer, point)``
        is called at every recorded point; returning True ends training there."""
        cfg, epoch = self.config, self.epoch
        n = len(self.train_set)
        order = epoch_order(n, cfg.seed, epoch)
        starts = list(range(0, n, cfg.batch_size))
        pos = self.position or {"batch": 0, "rng": np.random.default_rng([cfg.seed, epoch, 1]).bit_generator.state,
                                "sums": [0.0, 0.0, 0], "window": [0.0, 0.0, 0], "points": 0}
        rng = np.random.default_rng()
        rng.bit_generator.state = pos["rng"]
        bar = tqdm(total=len(starts), initial=pos["batch"], desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                   disable=None if self.progress else True, leave=False, dynamic_ncols=True)
        self.model.train()
        tick, seen = time.perf_counter(), 0
        try:
            for b in range(pos["batch"], len(starts)):
                idx = order[starts[b]:starts[b] + cfg.batch_size]
                x = self._train_batch(self.train_set.images[idx], rng)
                y = to_device(self.train_set.labels[idx], cfg.device)
                logits = self.model.forward(x)
                loss = float(self.loss_fn.forward(logits, y))
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"the loss became {loss} at epoch {epoch + 1}, batch {b + 1}: the learning rate "
                        f"{self.optimizer.lr:g} is probably too high; try --lr {self.optimizer.lr / 10:g}. "
                        f"The last good checkpoint is kept in {self.run_dir}.")
                self._watch_loss(loss, epoch, b)
                self.model.backward(self.loss_fn.backward())
                self.optimizer.step(self.optimizer.lr * warmup_factor(epoch * len(starts) + b,
                                                                      round(cfg.warmup * len(starts))))
                errors = int(to_numpy((logits.argmax(axis=1) != y).sum()))
                for acc in (pos["sums"], pos["window"]):
                    acc[0] += loss * len(idx)
                    acc[1] += errors
                    acc[2] += len(idx)
                pos["batch"], pos["rng"] = b + 1, rng.bit_generator.state
                seen += len(idx)
                bar.update()
                bar.set_postfix(loss=f"{pos['sums'][0] / pos['sums'][2]:.3f}",
                                err=f"{pos['sums'][1] / pos['sums'][2]:.3f}",
                                img_s=f"{seen / (time.perf_counter() - tick):.0f}")
                if self._record_point(pos, len(starts), stop):
                    self.stopped = True
                    break
                if self.interrupt_requested:
                    self.position = pos
                    raise KeyboardInterrupt
        finally:
            bar.close()
        self.position = pos if self.stopped else None
        return {"train_loss": pos["sums"][0] / pos["sums"][2], "train_error": pos["sums"][1] / pos["sums"][2],
                "images_per_s": seen / (time.perf_counter() - tick)}

    # -- guard rails ----------------------------------------------------------------

    HIGH_LOSS_FACTOR = 3      # "far above chance": this many times ln(classes)
    HIGH_LOSS_BATCHES = 5     # for this many batches in a row
    ONE_CLASS_FRACTION = 0.9  # "predicts one class": this share of the test images

    def _warn(self, key, message):
        if key not in self.warned:
            self.warned.add(key)
            self.log(f"\nwarning: {message}")

    def _watch_loss(self, loss, epoch, batch):
        """A loss far above ln(classes), the loss of guessing, means the updates overshoot."""
        chance = math.log(len(self.train_set.classes))
        self.high_loss_batches = self.high_loss_batches + 1 if loss > self.HIGH_LOSS_FACTOR * chance else 0
        if self.high_loss_batches == self.HIGH_LOSS_BATCHES:
            self._warn("high loss", (
                f"the training loss has been above {self.HIGH_LOSS_FACTOR} x ln({len(self.train_set.classes)}) = "
                f"{self.HIGH_LOSS_FACTOR * chance:.1f} for {self.HIGH_LOSS_BATCHES} batches (now {loss:.1f}, "
                f"epoch {epoch + 1}, batch {batch + 1}): the updates overshoot. Try a lower --lr (now "
                f"{self.optimizer.lr:g}), a warm-up (--warmup 1)" +
                (", or --init caffe (see results/imagenette/README.md)" if self.config.model == "alexnet" else "")))

    def warn_if_one_class(self, result):
        """A network that gives (nearly) every image the same class has learned nothing about the images.
        ``result``: what ``evaluate`` returned."""
        share, top, n = result["top_class_share"], result["top_class"], result["images"]
        if n >= 20 and len(self.train_set.classes) > 1 and share >= self.ONE_CLASS_FRACTION:
            chance = math.log(len(self.train_set.classes))
            self._warn("one class", (
                f"the network predicts '{top}' for {share:.0%} of the {n} test images: it has not learned to "
                f"tell the images apart. If the training loss stays near ln({len(self.train_set.classes)}) = "
                f"{chance:.2f}, train longer or change the learning rate; if it rose far above that, lower --lr "
                f"or add --warmup 1" + (" or --init caffe" if self.config.model == "alexnet" else "")))

    def _record_point(self, pos, num_batches, stop):
        """Every 1/points_per_epoch of an epoch, record the training error of the
        batches since the last point (the running error, as cuda-convnet printed it)."""
        k = pos["points"] + 1
        if pos["batch"] < round(k * num_batches / self.config.points_per_epoch) and pos["batch"] < num_batches:
            return False
        loss_sum, err_sum, count = pos["window"]
        point = {"epoch": self.epoch + pos["batch"] / num_batches, "train_loss": loss_sum / count,
                 "train_error": err_sum / count}
        self.points.append(point)
        pos["window"], pos["points"] = [0.0, 0.0, 0], k
        return bool(stop and stop(self, point))

    # -- evaluation ---------------------------------------------------------------

    def evaluate(self, dataset=None, ten_crops=False, batch_size=256):
        """{"loss", "top1_error", "top5_error"} on ``dataset`` (the test set by
        default), centre crop, or the paper's ten-crop average of softmax outputs."""
        dataset = dataset or self.test_set
        self.model.eval()
        totals = np.zeros(3)
        predicted = []
        batches = tqdm(range(0, len(dataset), batch_size), desc=f"testing on {dataset.name}", unit="batch",
                       disable=None if self.progress else True, leave=False, dynamic_ncols=True)
        for start in batches:
            x = dataset.images[start:start + batch_size].astype(np.float32) - self.mean
            y = dataset.labels[start:start + batch_size]
            views = ten_crop(x, self.crop) if ten_crops else center_crop(x, self.crop)[None]
            probs = sum(self._softmax(to_device(np.ascontiguousarray(v), self.config.device)) for v in views)
            probs = to_numpy(probs) / len(views)
            top5 = np.argsort(-probs, axis=1)[:, :5]
            predicted.append(top5[:, 0])
            totals += [-np.log(probs[np.arange(len(y)), y] + 1e-12).sum(),
                       (top5[:, 0] != y).sum(), (top5 != y[:, None]).all(axis=1).sum()]
        self.model.train()
        counts = np.bincount(np.concatenate(predicted), minlength=len(dataset.classes))
        loss, top1, top5 = totals / len(dataset)
        return {"loss": float(loss), "top1_error": float(top1), "top5_error": float(top5), "images": len(dataset),
                "top_class": dataset.classes[int(counts.argmax())], "top_class_share": float(counts.max() / len(dataset))}

    def _softmax(self, x):
        logits = self.model.forward(x)
        e = np.exp(to_numpy(logits - logits.max(axis=1, keepdims=True)).astype(np.float64))
        return e / e.sum(axis=1, keepdims=True)

    # -- the whole run ------------------------------------------------------------

    def fit(self, stop=None):
        """Train until ``config.epochs`` epochs are done (or ``stop`` says so),
        checkpointing after every epoch and on Ctrl-C."""
        os.makedirs(self.run_dir, exist_ok=True)
        with open(os.path.join(self.run_dir, "config.json"), "w") as f:
            json.dump(dataclasses.asdict(self.config), f, indent=1)
        with self._ctrl_c_finishes_the_batch():
            while self.epoch < self.config.epochs and not self.stopped:
                tick = time.perf_counter()
                try:
                    stats = self.train_epoch(stop)
                except KeyboardInterrupt:
                    if self.interrupt_requested:  # stopped between two batches: the state is consistent
                        self.save()
                        self.log(f"\ninterrupted: saved a checkpoint in {self.run_dir} (epoch {self.epoch + 1}, "
                                 f"batch {self.position['batch']}); continue with --resume")
                    raise
                if self.stopped:
                    self.save()
                    break
                self.epoch += 1
                self._end_epoch(stats, time.perf_counter() - tick)
        return self.history

    def _ctrl_c_finishes_the_batch(self):
        """While training, the first Ctrl-C only asks the loop to stop after the
        current batch (so the checkpoint never holds half an update); a second
        one stops at once, keeping the last checkpoint."""
        trainer = self

        class Handler:
            def __enter__(self):
                self.previous = None
                if threading.current_thread() is threading.main_thread():
                    self.previous = signal.signal(signal.SIGINT, self.first_ctrl_c)

            def first_ctrl_c(self, signum, frame):
                trainer.interrupt_requested = True
                trainer.log("\nCtrl-C: stopping after this batch (press again to stop at once)")
                signal.signal(signal.SIGINT, signal.default_int_handler)

            def __exit__(self, *exc):
                if self.previous is not None:
                    signal.signal(signal.SIGINT, self.previous)

        return Handler()

    def _end_epoch(self, stats, seconds):
        record = {"epoch": self.epoch, "lr": self.optimizer.lr, **stats, "seconds": seconds}
        if self.config.validate:
            val = self.evaluate()
            record.update(val_loss=val["loss"], val_top1_error=val["top1_error"], val_top5_error=val["top5_error"],
                          val_top_class_share=val["top_class_share"])
            # Early on a network may well answer one class for a while: warn when it persists (two epochs
            # in a row) or when the run ends that way.
            previous = self.history[-1].get("val_top_class_share", 0) if self.history else 0
            if min(previous, val["top_class_share"]) >= self.ONE_CLASS_FRACTION or self.epoch == self.config.epochs:
                self.warn_if_one_class(val)
            self.schedule.step(self.optimizer, self.epoch, val["top1_error"])
        else:
            self.schedule.step(self.optimizer, self.epoch, None)
        self.history.append(record)
        self.log(format_epoch(record, self.config.epochs))
        self.save()
        self.write_metrics()

    def write_metrics(self):
        """metrics.jsonl (one line per epoch, then one per recorded point) and curves.png."""
        lines = [json.dumps({"kind": "epoch", **h}) for h in self.history]
        lines += [json.dumps({"kind": "point", **p}) for p in self.points]
        with open(os.path.join(self.run_dir, "metrics.jsonl"), "w") as f:
            f.write("\n".join(lines) + "\n")
        if self.history and self.config.validate:
            plot_learning_curves(self.history, self.points, os.path.join(self.run_dir, "curves.png"),
                                 f"{self.config.model} ({self.config.activation}) on {self.train_set.name}")

    def state(self):
        return {"config": dataclasses.asdict(self.config), "model": checkpoint.model_state(self.model),
                "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                "epoch": self.epoch, "history": self.history, "points": self.points,
                "position": self.position, "stopped": self.stopped, "classes": self.train_set.classes}

    def save(self):
        checkpoint.save(os.path.join(self.run_dir, CHECKPOINT), self.state())

    @classmethod
    def resume(cls, run_dir, epochs=None, device=None, data=None, progress=True, log=print, data_dir=None):
        """Rebuild a run from its checkpoint; ``epochs`` may extend it, ``data_dir``
        says where the data set is now if it has moved."""
        state = checkpoint.load(os.path.join(run_dir, CHECKPOINT))
        config = TrainConfig(**state["config"])
        config.epochs = epochs or config.epochs
        config.device = device or config.device
        config.data_dir = data_dir or config.data_dir
        trainer = cls(config, run_dir, data=data, progress=progress, log=log)
        checkpoint.load_model_state(trainer.model, state["model"], config.device)
        trainer.optimizer.load_state_dict(state["optimizer"], config.device)
        trainer.schedule.load_state_dict(state["schedule"])
        for key in ("epoch", "history", "points", "position", "stopped"):
            setattr(trainer, key, state[key])
        return trainer


def format_epoch(h, total_epochs):
    line = (f"epoch {h['epoch']:>3}/{total_epochs}  lr {h['lr']:.2g}  train loss {h['train_loss']:.4f}  "
            f"train err {h['train_error']:.4f}")
    if "val_top1_error" in h:
        line += f"  val top-1 {h['val_top1_error']:.4f}  top-5 {h['val_top5_error']:.4f}"
    return line + f"  ({h['images_per_s']:.0f} img/s, {h['seconds']:.0f} s)"
