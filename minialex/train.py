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
import signal
import sys

if __name__ == "__main__":
    def _interrupted_while_starting(signum, frame):
        """Ctrl-C in the second that the modules below take to import: one line, not a traceback."""
        print("\ninterrupted while starting: nothing was done", file=sys.stderr)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, _interrupted_while_starting)

import argparse
import contextlib
import dataclasses
import os
import time

from . import dispatch
from .backend import default_device
from .config import (WHERE_IT_RUNS, TrainConfig, add_options, check_config, check_values, given_options,
                     option_name)
from .distributed import KINDS, leave, make_parallel
from .data import load_dataset
from .evaluation import evaluate, load_validation_set, one_class_warning
from .fast.chunks import threads
from .run_files import CHECKPOINT, check_run_dir, run_lock
from .saved_model import load_model
from .signals import TrainingInterrupted
from .trainer import Trainer


def build_parser():
    """The options of TrainConfig (minialex.config: defaults, help and checks are written there), then
    those of the command itself."""
    p = argparse.ArgumentParser(prog="python -m minialex.train",  # the description: the docstring's, after the name
                                description=__doc__.split("\n\n")[0].split(": ", 1)[1].capitalize(),
                                epilog="exit codes: 0 done, 1 error, 2 bad command line, 130 stopped by Ctrl-C, "
                                       "143 stopped by SIGTERM (both after saving a checkpoint)")
    groups = add_options(p)
    g = groups["run"]

    def flag(name, help, default="off", **kwargs):
        g.add_argument(name, default=None, help=f"{help} (default: {default})", **kwargs)

    flag("--out", "the run directory", "runs/<model>-<dataset>-<time>")
    flag("--resume", "continue the run in --out from its checkpoint; --epochs, --lr, --patience, --max-drops, "
         "--milestones and where it runs (--device, --data-dir, --val-dir, --download) may change, other options "
         "not", action="store_true")
    flag("--eval-only", "test the network in --out (its checkpoint, else its model.npz; or a model.npz given as "
         "--out) on the validation set and exit", action="store_true")
    flag("--ten-crop", "with --eval-only: also the paper's ten-crop test", action="store_true")
    flag("--train-error", "with --eval-only: also the error on the training images themselves (centre crops, "
         "dropout off), to see how much the network overfits them", action="store_true")
    flag("--no-progress", "no progress bars (for logs)", action="store_true")
    flag("--parallel", "share the training among the processes that mpiexec starts: data (each computes part "
         "of every batch) or model (AlexNet split over two, as in the paper, section 3.2)", "none",
         choices=list(KINDS))
    return p


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None):
    try:
        return run(parse_args(argv))
    except KeyboardInterrupt as stop:  # TrainingInterrupted has saved and said so; a plain one came before training
        if not isinstance(stop, TrainingInterrupted):
            print("\ninterrupted before training began: nothing was saved", file=sys.stderr)
        return 128 + getattr(stop, "signum", signal.SIGINT)
    except (ValueError, RuntimeError, OSError, MemoryError) as err:  # TrainingDiverged is a RuntimeError
        print(f"error: {err}", file=sys.stderr)
        return 1


def check_environment():
    """A bad MINIALEX_THREADS or MINIALEX_PATH (read when first used) stops the command before any work."""
    threads()
    dispatch.path()


def run(a):
    check_environment()
    given = given_options(a)
    parallel = make_parallel(a.parallel or "none")
    if not parallel.is_main:  # one process prints
        sys.stdout = open(os.devnull, "w")
    for option, given_it in (("--ten-crop", a.ten_crop), ("--train-error", a.train_error)):
        if given_it and not a.eval_only:
            raise ValueError(f"{option} is a test of a trained run: use it with --eval-only")
    if (a.eval_only or a.resume) and a.out is None:
        raise ValueError("--resume and --eval-only need --out, the run directory")
    if a.eval_only:
        unused = [option_name(k) for k in given if k not in WHERE_IT_RUNS]
        if unused:
            raise ValueError(f"--eval-only evaluates the run as it was saved, so {', '.join(unused)} cannot apply")
        return evaluate_run(a.out, given, a.ten_crop, parallel, progress=not a.no_progress,
                            train_error=a.train_error)
    out = a.out or parallel.from_main(os.path.join("runs", f"{given.get('model', 'figure1')}-"
                                                           f"{given.get('dataset', 'embedded')}-"
                                                           f"{time.strftime('%Y%m%d-%H%M%S')}"))
    check_run_dir(out)
    # Every value is checked before the lock makes the folder; a resumed run's own values come with its checkpoint.
    if a.resume:
        check_values(given)
    else:
        check_config(TrainConfig(**{"device": default_device(), **given}))
    # The lock, before the data loads: a second run into the same folder, new or not, is refused at once,
    # and cannot replace this one's files. (fit() locks again: the lock is re-entrant.)
    with run_lock(out) if parallel.is_main else contextlib.nullcontext():
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
        print(f"done: {trainer.epoch} epoch{'' if trainer.epoch == 1 else 's'}, final val top-1 error "
              f"{last.get('val_top1_error', float('nan')):.4f}; run directory {trainer.run_dir}")
    return 0


def describe(trainer):
    c = trainer.config
    print(f"{c.model} ({c.activation}) on {trainer.train_set.name}: {len(trainer.train_set)} training, "
          f"{len(trainer.test_set)} validation images, input {trainer.crop}x{trainer.crop}, device {c.device}")
    print(f"{trainer.optimizer}, batch {c.batch_size}, schedule {c.schedule}; run directory {trainer.run_dir}")
    if trainer.position:
        print(f"resuming in epoch {trainer.epoch + 1}, after batch {trainer.position.batch}")
    elif trainer.epoch:
        print(f"resuming after epoch {trainer.epoch}")


def evaluate_run(run_dir, where, ten_crops, parallel, progress=True, train_error=False):
    """--eval-only: the network of a run directory (its checkpoint, else its model.npz), or of a run's
    model.npz given as --out, on the validation set. It needs that file and the validation images, no
    training image. ``where``: the options given of WHERE_IT_RUNS (--device, and where the data set is now)."""
    saved = load_model(run_dir, where.get("device"))
    if saved.config is None:
        raise ValueError(f"{run_dir} holds weights that no run of python -m minialex.train made ({saved.source}), "
                         "so it names no data set to test on: --eval-only tests a run's network")
    config = dataclasses.replace(saved.config, **where)
    check_config(config)  # --data-dir for the embedded sample, say
    test = load_validation_set(config, saved.classes, progress=progress)
    model = parallel.model(saved.model)  # the model split: this process's half
    views = [("centre crop", False)] + ([("ten crops", True)] if ten_crops else [])
    for name, flag in views:
        r = evaluate(model, test, saved.mean, saved.crop, config.device, flag, progress=progress)
        warning = None if flag else one_class_warning(r, len(saved.classes), config)  # the centre crop's
        if warning:
            print(f"\nwarning: {warning}")
        print(f"{test.name} (validation, {name}): top-1 error {r['top1_error']:.4f}  "
              f"top-5 error {r['top5_error']:.4f}  loss {r['loss']:.4f}")
    if train_error:  # the training images as the network saw none of them: no random crop, flip or dropout
        train = load_dataset(config.dataset, config.data_dir, config.download, seed=config.seed,
                             val_dir=config.val_dir, subset=config.subset, progress=progress,
                             skip_bad_images=config.skip_bad_images)[0]
        r = evaluate(model, train, saved.mean, saved.crop, config.device, False, progress=progress)
        print(f"{train.name} (training images, centre crop): top-1 error {r['top1_error']:.4f}  "
              f"top-5 error {r['top5_error']:.4f}  loss {r['loss']:.4f}")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on, main() handles Ctrl-C
    sys.exit(leave(main()))  # a parallel run that fails on one process stops them all
