"""``python -m minialex.train``: train a network of the paper, the way the paper did.

With no arguments it trains the Figure 1 network on the small Fashion-MNIST
sample embedded in the package, on the CPU, in a few minutes, with no network.

    python -m minialex.train                                   # the embedded sample
    python -m minialex.train --dataset cifar10 --data-dir ~/data --epochs 30
    python -m minialex.train --out runs/demo --resume --epochs 20   # continue a run
    python -m minialex.train --out runs/demo --resume --lr 0.001    # continue with a lower rate
    python -m minialex.train --out runs/demo --eval-only --ten-crop

Every epoch writes ``checkpoint.npz``, ``metrics.jsonl`` and ``curves.png`` in
the run directory (``--out``). Ctrl-C or SIGTERM finishes the current batch,
saves a checkpoint and exits; ``--resume`` continues exactly where it stopped.
Exit codes: 0 done, 1 an error (one line on stderr), 2 a command line that
argparse cannot read, 130 stopped by Ctrl-C, 143 stopped by SIGTERM.
"""
import argparse
import contextlib
import dataclasses
import os
import signal
import sys
import time

from .backend import default_device
from .data import DATASETS
from .distributed import KINDS, leave, make_parallel
from .evaluation import evaluate, load_validation_set, one_class_warning
from .models import ACTIVATIONS, INITS, MODELS
from .trainer import (CHECKPOINT, SCHEDULES, WHERE_IT_RUNS, TrainConfig, Trainer, TrainingInterrupted, check_config,
                      check_run_dir, load_model, option_name, run_lock)


def device_name(name):
    """--device: "cuda" is PyTorch's name for the GPU."""
    return "gpu" if name == "cuda" else name


def build_parser():
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m minialex.train", description=__doc__.split("\n\n")[0],
                                epilog="exit codes: 0 done, 1 error, 2 bad command line, 130 stopped by Ctrl-C, "
                                       "143 stopped by SIGTERM (both after saving a checkpoint)")

    def option(group, flag, default, help, **kwargs):
        """Every option is None unless it is given, so that --resume can tell what was asked for; ``default``
        is what a new run uses, shown in --help."""
        group.add_argument(flag, default=None, help=f"{help} (default: {default})", **kwargs)

    g = p.add_argument_group("model")
    option(g, "--model", d.model, "the network", choices=list(MODELS))
    option(g, "--activation", d.activation, "the non-linearity, section 3.1", choices=list(ACTIVATIONS))
    option(g, "--lrn", "on for alexnet, off for figure1", "local response normalisation, section 3.3",
           action=argparse.BooleanOptionalAction)
    option(g, "--pool", "overlap", "3x3 stride-2 pooling (overlap: the paper's, section 3.4) or 2x2 stride-2 (plain)",
           choices=["overlap", "plain"])
    option(g, "--init", d.init, "alexnet's initial weights: the paper's (biases 1) or Caffe's reference (biases 0.1)",
           choices=list(INITS))
    option(g, "--dropout", "0.5 for alexnet, 0 for figure1", "dropout probability, in [0, 1)", type=float, metavar="P")
    g = p.add_argument_group("data")
    option(g, "--dataset", d.dataset, "the images; the README's Data section lists them", choices=DATASETS)
    option(g, "--data-dir", "$MINIALEX_DATA, else ~/.cache/minialex",
           "where the data set is (or goes, with --download)")
    option(g, "--val-dir", "DATA_DIR/val if DATA_DIR holds train/ and val/, else a held-out 10%% of DATA_DIR",
           "--dataset folder: the validation images' CLASS/IMAGE tree")
    option(g, "--download", "off", "download the data set if it is missing", action="store_true")
    option(g, "--subset", "all images", "train on a stratified subset of N images", type=int, metavar="N")
    option(g, "--augment", "on", "random crops and horizontal flips, section 4.1",
           action=argparse.BooleanOptionalAction)
    option(g, "--pca-lighting", "off", "the paper's PCA colour augmentation, section 4.1; RGB data only",
           action=argparse.BooleanOptionalAction)
    option(g, "--crop", "227 for 256x256 images, else the image size", "input size in pixels", type=int,
           metavar="PIXELS")
    g = p.add_argument_group("learning")
    option(g, "--epochs", f"{d.epochs}; with --resume, the run's own", "epochs in all", type=int)
    option(g, "--batch-size", d.batch_size, "images per SGD step", type=int)
    option(g, "--lr", d.lr, "learning rate", type=float)
    option(g, "--momentum", d.momentum, "SGD momentum, in [0, 1)", type=float)
    option(g, "--weight-decay", d.weight_decay, "weight decay, section 5", type=float)
    option(g, "--warmup", d.warmup, "epochs over which the learning rate rises linearly to --lr; not in the paper",
           type=float)
    option(g, "--schedule", d.schedule, "plateau: divide lr by 10 when the val error stops improving; step: "
           "at --milestones; constant: never", choices=list(SCHEDULES))
    option(g, "--patience", d.patience, "plateau: epochs without improvement before a drop", type=int)
    option(g, "--max-drops", d.max_drops, "plateau: drops at most", type=int)
    option(g, "--milestones", "none", "step: the epochs after which lr is divided by 10, e.g. --milestones 20 30",
           type=int, nargs="*", metavar="EPOCH")
    g = p.add_argument_group("run")
    option(g, "--device", "$MINIALEX_DEVICE, else cpu", "cpu or gpu (cuda is accepted for gpu)", type=device_name,
           choices=["cpu", "gpu"])
    option(g, "--seed", d.seed, "seed of the initial weights, the shuffle, the augmentation and dropout", type=int)
    option(g, "--out", "runs/<model>-<dataset>-<time>", "the run directory")
    option(g, "--resume", "off", "continue the run in --out from its checkpoint; --epochs, --lr, --patience, "
           "--max-drops, --milestones and where it runs (--device, --data-dir, --val-dir, --download) may change, "
           "other options not",
           action="store_true")
    option(g, "--eval-only", "off", "evaluate the checkpoint in --out and exit", action="store_true")
    option(g, "--ten-crop", "off", "with --eval-only: also the paper's ten-crop test", action="store_true")
    option(g, "--no-progress", "off", "no progress bars (for logs)", action="store_true")
    option(g, "--parallel", "none", "share the training among the processes that mpiexec starts: data (each "
           "computes part of every batch) or model (AlexNet split over two, as in the paper, section 3.2)",
           choices=list(KINDS))
    return p


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def given_options(a):
    """{TrainConfig field: value} for the options given on the command line (the others are None)."""
    fields = {f.name: getattr(a, f.name, None) for f in dataclasses.fields(TrainConfig)}
    fields["overlap"] = None if a.pool is None else a.pool == "overlap"
    fields["milestones"] = None if a.milestones is None else tuple(a.milestones)
    return {k: v for k, v in fields.items() if v is not None}


def main(argv=None):
    a = parse_args(argv)
    try:
        return run(a)
    except KeyboardInterrupt as stop:  # TrainingInterrupted has saved and said so; a plain one came before training
        if not isinstance(stop, TrainingInterrupted):
            print("\ninterrupted before training began: nothing was saved", file=sys.stderr)
        return 128 + getattr(stop, "signum", signal.SIGINT)
    except (ValueError, RuntimeError, OSError, MemoryError) as err:  # TrainingDiverged is a RuntimeError
        print(f"error: {err}", file=sys.stderr)
        return 1


def run(a):
    given = given_options(a)
    parallel = make_parallel(a.parallel or "none")
    if not parallel.is_main:  # one process prints
        sys.stdout = open(os.devnull, "w")
    if a.ten_crop and not a.eval_only:
        raise ValueError("--ten-crop is a test of a trained run: use it with --eval-only")
    if (a.eval_only or a.resume) and a.out is None:
        raise ValueError("--resume and --eval-only need --out, the run directory")
    if a.eval_only:
        unused = [option_name(k) for k in given if k not in WHERE_IT_RUNS]
        if unused:
            raise ValueError(f"--eval-only evaluates the run as it was saved, so {', '.join(unused)} cannot apply")
        return evaluate_run(a.out, given, a.ten_crop, parallel, progress=not a.no_progress)
    out = a.out or parallel.from_main(os.path.join("runs", f"{given.get('model', 'figure1')}-"
                                                           f"{given.get('dataset', 'embedded')}-"
                                                           f"{time.strftime('%Y%m%d-%H%M%S')}"))
    check_run_dir(out)
    # A folder that exists may be another process's run: refuse before loading the data. (fit() locks again,
    # and locks a new folder.)
    with run_lock(out) if os.path.isdir(out) and parallel.is_main else contextlib.nullcontext():
        if a.resume:
            trainer = Trainer.resume(out, progress=not a.no_progress, parallel=parallel, **given)
        elif os.path.exists(os.path.join(out, CHECKPOINT)):
            raise ValueError(f"{out} already holds a run: add --resume to continue it, or choose another --out")
        else:
            trainer = Trainer(TrainConfig(**{"device": default_device(), **given}), out, progress=not a.no_progress,
                              parallel=parallel)
        describe(trainer)
        trainer.fit()
    if trainer.history:
        last = trainer.history[-1]
        print(f"done: {trainer.epoch} epochs, final val top-1 error "
              f"{last.get('val_top1_error', float('nan')):.4f}; run directory {trainer.run_dir}")
    return 0


def describe(trainer):
    c = trainer.config
    print(f"{c.model} ({c.activation}) on {trainer.train_set.name}: {len(trainer.train_set)} training, "
          f"{len(trainer.test_set)} validation images, input {trainer.crop}x{trainer.crop}, device {c.device}")
    print(f"SGD lr {trainer.optimizer.lr:g} momentum {c.momentum:g} weight decay {c.weight_decay:g}, batch "
          f"{c.batch_size}, schedule {c.schedule}; run directory {trainer.run_dir}")
    if trainer.position:
        print(f"resuming in epoch {trainer.epoch + 1}, after batch {trainer.position.batch}")
    elif trainer.epoch:
        print(f"resuming after epoch {trainer.epoch}")


def evaluate_run(run_dir, where, ten_crops, parallel, progress=True):
    """--eval-only: the checkpoint's network on the validation set. It needs the checkpoint and the
    validation images, no training image. ``where``: the options given of WHERE_IT_RUNS (--device, and
    where the data set is now)."""
    saved = load_model(run_dir, where.get("device"))
    config = dataclasses.replace(saved.config, **where)
    check_config(config)  # --data-dir for the embedded sample, say
    test = load_validation_set(config, saved.classes)
    model = parallel.model(saved.model)  # the model split: this process's half
    views = [("centre crop", False)] + ([("ten crops", True)] if ten_crops else [])
    for name, flag in views:
        r = evaluate(model, test, saved.mean, saved.crop, config.device, flag, progress=progress)
        warning = None if flag else one_class_warning(r, len(saved.classes), config.model)  # the centre crop's
        if warning:
            print(f"\nwarning: {warning}")
        print(f"{test.name} (validation, {name}): top-1 error {r['top1_error']:.4f}  "
              f"top-5 error {r['top5_error']:.4f}  loss {r['loss']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(leave(main()))  # a parallel run that fails on one process stops them all
