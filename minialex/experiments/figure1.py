"""Reproduce Figure 1: a four-layer CNN with ReLUs reaches 25 % training error on
CIFAR-10 about six times faster (in epochs) than the same network with tanh.

    python -m minialex.experiments.figure1 --data-dir DIR --out results/figure1-run
    python -m minialex.experiments.figure1 --subset 2000 --max-epochs 5 --out /tmp/f1   # small, for a lesson

As the caption says: no regularisation of any kind (no weight decay, dropout,
LRN or augmentation; the mean image is subtracted), and each network's
learning rate is chosen on its own to make it train as fast as possible:

1. Sweep. For each activation, train from the same initial weights with each
   rate in ``--lrs`` for ``--sweep-epochs`` epochs. The rate whose training error
   is lowest at the end of that budget wins (a diverging rate loses).
2. Run. The winner's run simply continues until its training error reaches
   ``--target`` or ``--max-epochs`` have passed.

How training error is measured: as the paper's own code reported it, on the
mini-batches as they are trained on. Every 1/``--points-per-epoch`` of an epoch
we record the fraction of misclassified images among the batches since the
last record. The epoch at which the target is reached is the end of the first
window whose error is at or below it (resolution 1/points-per-epoch epoch).

Every run has its own checkpointed directory under ``--out``, so the command
can be stopped and rerun: finished runs are skipped, a stopped run continues.
``--activations relu`` and ``--activations tanh`` can also run as two
processes into the same ``--out`` (give each ``MINIALEX_THREADS=1``, so that
they do not compete for the cores); the figure is drawn when both have
finished (or by ``--plot-only``).
"""
import argparse
import json
import os
import platform
import time

from matplotlib.figure import Figure  # no pyplot: never touches the backend of a notebook

from .. import checkpoint
from ..data import load_dataset
from ..run_files import CHECKPOINT
from ..config import HelpFormatter, add_options, given_options
from ..config import TrainConfig
from ..trainer import Trainer, TrainingDiverged

STYLE = {"relu": dict(ls="-", color="k", label="ReLU"), "tanh": dict(ls="--", color="k", label="tanh")}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m minialex.experiments.figure1", description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--out", default="runs/figure1")
    p.add_argument("--activations", nargs="+", choices=["relu", "tanh"], default=["relu", "tanh"])
    # The range that bracketed both winners on CIFAR-10 (results/README.md): ReLU 0.005, tanh 0.02.
    p.add_argument("--lrs", type=float, nargs="+", default=[0.002, 0.005, 0.01, 0.02, 0.04])
    p.add_argument("--sweep-epochs", type=float, default=0.5)
    p.add_argument("--max-epochs", type=int, default=100)
    p.add_argument("--target", type=float, default=0.25)
    add_options(p, OPTIONS, defaults=DEFAULTS)
    p.add_argument("--plot-only", action="store_true", help="draw the figure from the finished runs and exit")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


# The command line's options (minialex.config) and what they start from; FIXED: Figure 1's own conditions
# (the caption: no weight decay, no normalisation, no augmentation, no dropout).
OPTIONS = ("data_dir", "download", "subset", "batch_size", "points_per_epoch", "seed", "device")
DEFAULTS = {"batch_size": 128, "points_per_epoch": 10, "seed": 0, "device": "cpu"}
FIXED = {"model": "figure1", "lrn": False, "dropout": 0.0, "dataset": "cifar10", "momentum": 0.9,
         "weight_decay": 0.0, "schedule": "constant", "augment": False, "pca_lighting": False, "validate": False}


def run_config(args, activation, lr):
    return TrainConfig(**FIXED, **given_options(args, OPTIONS), activation=activation, lr=lr, epochs=args.max_epochs)


def run_dir(args, activation, lr):
    return os.path.join(args.out, f"{activation}-lr{lr:g}")


def open_run(args, activation, lr, data):
    """The run's Trainer, continued from its checkpoint if there is one; None if it diverged."""
    path = run_dir(args, activation, lr)
    if os.path.exists(os.path.join(path, "diverged.txt")):
        return None
    kwargs = dict(data=data, progress=not args.no_progress)
    if os.path.exists(os.path.join(path, CHECKPOINT)):
        return Trainer.resume(path, **kwargs)
    return Trainer(run_config(args, activation, lr), path, **kwargs)


def train_until(trainer, args, until_epoch, target):
    """Continue ``trainer`` to ``until_epoch`` epochs, or until the running training error reaches ``target``."""
    trainer.stopped = False
    trainer.config.epochs = args.max_epochs
    stop = lambda t, point: point["epoch"] >= until_epoch - 1e-9 or point["train_error"] <= target
    try:
        trainer.fit(stop=stop)
    except TrainingDiverged as err:
        with open(os.path.join(trainer.run_dir, "diverged.txt"), "w") as f:
            f.write(str(err) + "\n")
        print(f"  diverged: {err}")
        return False
    trainer.save()
    return True


def error_at(points, epoch):
    """The recorded training error at the last point no later than ``epoch``."""
    before = [p for p in points if p["epoch"] <= epoch + 1e-9]
    return before[-1]["train_error"] if before else float("inf")


def epochs_to(points, target):
    """(first window end with error <= target, linearly interpolated crossing) or (None, None)."""
    for prev, p in zip([None] + points[:-1], points):
        if p["train_error"] <= target:
            if prev is None:
                return p["epoch"], p["epoch"]
            frac = (prev["train_error"] - target) / (prev["train_error"] - p["train_error"])
            return p["epoch"], prev["epoch"] + frac * (p["epoch"] - prev["epoch"])
    return None, None


def sweep(args, activation, data):
    """Train each learning rate for the sweep budget; return the table and the winner."""
    table = []
    for lr in args.lrs:
        print(f"[{activation}] sweep: lr {lr:g} for {args.sweep_epochs:g} epochs")
        trainer = open_run(args, activation, lr, data)
        if trainer is not None and error_at(trainer.points, args.sweep_epochs) == float("inf"):
            trainer = trainer if train_until(trainer, args, args.sweep_epochs, -1.0) else None
        err = error_at(trainer.points, args.sweep_epochs) if trainer else float("inf")
        table.append({"lr": lr, "train_error_after_sweep": err, "diverged": trainer is None})
        print(f"[{activation}]   training error after {args.sweep_epochs:g} epochs: {err:.4f}")
    best = min(table, key=lambda row: row["train_error_after_sweep"])
    return table, best["lr"]


def run_activation(args, activation, data):
    table, lr = sweep(args, activation, data)
    print(f"[{activation}] chosen lr {lr:g}; training to {args.target:.0%} training error "
          f"or {args.max_epochs} epochs")
    trainer = open_run(args, activation, lr, data)
    tick = time.time()
    if trainer is None:
        raise SystemExit(f"[{activation}] every learning rate diverged; try smaller --lrs")
    if epochs_to(trainer.points, args.target)[0] is None and trainer.epoch < args.max_epochs:
        train_until(trainer, args, args.max_epochs, args.target)
    summary = summarise(trainer.points, trainer.history, lr, table, True, args.target)
    summary.update(max_epochs=args.max_epochs, device=args.device, machine=machine())
    with open(os.path.join(args.out, f"{activation}.json"), "w") as f:
        json.dump(summary, f, indent=1)
    first = summary["epochs_to_target"]
    print(f"[{activation}] {'reached' if first else 'did not reach'} {args.target:.0%} "
          f"{f'after {first:.2f} epochs' if first else f'in {args.max_epochs} epochs'} "
          f"({time.time() - tick:.0f} s this session)")
    return summary


def machine():
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
            f"{platform.python_version()}")


def summarise(points, history, lr, table, finished, target):
    """One run's result, as written to ACTIVATION.json. ``target`` has no default: it
    must be the run's own --target, not the paper's 25 %."""
    first, interpolated = epochs_to(points, target)
    return {"lr": lr, "sweep": table, "target_train_error": target, "epochs_to_target": first,
            "epochs_to_target_interpolated": interpolated, "reached_target": first is not None,
            "finished": finished, "epochs_trained": points[-1]["epoch"],
            "seconds_training": sum(h["seconds"] for h in history),
            "curve": [[round(p["epoch"], 4), round(p["train_error"], 5)] for p in points]}


def unfinished_summary(args, activation):
    """For --plot-only while a run is still going: the run that got furthest, from its checkpoint."""
    runs = [d for d in os.listdir(args.out) if d.startswith(f"{activation}-lr")]
    states = {d: checkpoint.load(os.path.join(args.out, d, CHECKPOINT)) for d in runs
              if os.path.exists(os.path.join(args.out, d, CHECKPOINT))}
    if not states:
        return None
    name, state = max(states.items(), key=lambda item: len(item[1]["points"]))
    table = [{"lr": s["config"]["lr"], "train_error_after_sweep": error_at(s["points"], args.sweep_epochs)}
             for s in sorted(states.values(), key=lambda s: s["config"]["lr"])]
    return summarise(state["points"], state["history"], state["config"]["lr"], table, False, args.target)


def plot(args):
    """figure1.png and figure1.json from the per-activation summaries in --out."""
    results = {}
    for act in ("relu", "tanh"):
        path = os.path.join(args.out, f"{act}.json")
        if os.path.exists(path):
            with open(path) as f:
                results[act] = json.load(f)
        elif args.plot_only and os.path.isdir(args.out):
            summary = unfinished_summary(args, act)
            if summary:
                results[act] = summary
    if not results:
        raise SystemExit(f"no finished runs in {args.out}")
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for act, r in results.items():
        xs, ys = zip(*r["curve"])
        style = dict(STYLE[act], label=f"{STYLE[act]['label']} (lr {r['lr']:g})")
        ax.plot(xs, ys, lw=1.8, **style)
    ax.axhline(args.target, color="0.5", lw=1, ls=":", label=f"{args.target:.0%} training error")
    ax.set(xlabel="Epochs", ylabel="Training error rate", ylim=(0, 0.75),
           title="Figure 1 reproduced: CIFAR-10, four-layer CNN")
    ax.set_xlim(0, max(r["curve"][-1][0] for r in results.values()))
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "figure1.png"), dpi=120)
    relu, tanh = results.get("relu", {}), results.get("tanh", {})
    ratio = None
    if relu.get("epochs_to_target") and tanh.get("epochs_to_target"):
        ratio = tanh["epochs_to_target"] / relu["epochs_to_target"]
    report = {"ratio_tanh_over_relu": ratio, "target_train_error": args.target,
              "ratio_is_lower_bound": bool(relu.get("epochs_to_target") and tanh and not tanh["reached_target"]),
              "tanh_epochs_over_relu_epochs_so_far": (tanh["epochs_trained"] / relu["epochs_to_target"]
                                                      if relu.get("epochs_to_target") and tanh
                                                      and not tanh["reached_target"] else None),
              "activations": results, "seed": args.seed, "subset": args.subset, "batch_size": args.batch_size,
              "points_per_epoch": args.points_per_epoch, "sweep_epochs": args.sweep_epochs,
              "data": "CIFAR-10 (cifar-10-batches-py)"}
    with open(os.path.join(args.out, "figure1.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {os.path.join(args.out, 'figure1.png')} and figure1.json; "
          f"ratio tanh/relu = {ratio if ratio is None else round(ratio, 2)}")
    return report


def main(argv=None):
    args = parse_args(argv)
    if not args.plot_only:
        os.makedirs(args.out, exist_ok=True)
        data = load_dataset("cifar10", args.data_dir, args.download)
        try:
            for activation in args.activations:
                run_activation(args, activation, data)
        except KeyboardInterrupt:
            raise SystemExit(f"interrupted: every run is checkpointed in {args.out}; "
                             "rerun the same command to continue")
    if all(os.path.exists(os.path.join(args.out, f"{a}.json")) for a in ("relu", "tanh")) or args.plot_only:
        plot(args)


if __name__ == "__main__":
    main()
