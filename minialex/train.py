"""``python -m minialex.train``: train a network of the paper, the way the paper did.

With no arguments it trains the Figure 1 network on the small Fashion-MNIST
sample embedded in the package, on the CPU, in a few minutes, with no network.

    python -m minialex.train                                   # the embedded sample
    python -m minialex.train --dataset cifar10 --data-dir ~/data --epochs 30
    python -m minialex.train --out runs/demo --resume --epochs 20   # continue a run
    python -m minialex.train --out runs/demo --eval-only --ten-crop

Every epoch writes ``checkpoint.npz``, ``metrics.jsonl`` and ``curves.png`` in
the run directory (``--out``). Ctrl-C saves a checkpoint and exits;
``--resume`` continues exactly where it stopped.
"""
import argparse
import os
import sys
import time

from .backend import default_device
from .data import DATASETS
from .trainer import CHECKPOINT, TrainConfig, Trainer, TrainingDiverged


def parse_args(argv=None):
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m minialex.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=["figure1", "alexnet"], default=d.model)
    g.add_argument("--activation", choices=["relu", "tanh"], default=d.activation)
    g.add_argument("--lrn", action=argparse.BooleanOptionalAction, default=None,
                   help="local response normalisation (default: on for alexnet, off for figure1)")
    g.add_argument("--pool", choices=["overlap", "plain"], default="overlap",
                   help="3x3 stride-2 (paper) or 2x2 stride-2 pooling")
    g.add_argument("--init", choices=["paper", "caffe"], default=d.init,
                   help="alexnet's initial weights: the paper's (biases 1) or Caffe's reference (biases 0.1)")
    g.add_argument("--dropout", type=float, default=None, help="dropout probability (default: 0.5 alexnet, 0 figure1)")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=DATASETS, default=d.dataset)
    g.add_argument("--data-dir", default=None, help="where the data set is (or goes, with --download)")
    g.add_argument("--val-dir", default=None,
                   help="--dataset folder: the test images' CLASS/IMAGE tree (default: DATA_DIR/val if DATA_DIR "
                        "holds train/ and val/, else a held-out 10%% of DATA_DIR)")
    g.add_argument("--download", action="store_true", help="download the data set if it is missing")
    g.add_argument("--subset", type=int, default=None, help="train on a stratified subset of N images")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=d.augment,
                   help="random crops and horizontal flips")
    g.add_argument("--pca-lighting", action=argparse.BooleanOptionalAction, default=d.pca_lighting,
                   help="the paper's PCA colour augmentation (RGB data only)")
    g.add_argument("--crop", type=int, default=None, help="input size (default: 227 for 256x256 images, else full)")
    g = p.add_argument_group("learning")
    g.add_argument("--epochs", type=int, default=None,
                   help=f"epochs in all (default: {d.epochs}; with --resume, the run's own)")
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--lr", type=float, default=d.lr)
    g.add_argument("--momentum", type=float, default=d.momentum)
    g.add_argument("--weight-decay", type=float, default=d.weight_decay)
    g.add_argument("--warmup", type=float, default=d.warmup,
                   help="epochs over which the learning rate rises linearly to --lr (not in the paper)")
    g.add_argument("--schedule", choices=["plateau", "step", "constant"], default=d.schedule,
                   help="plateau: divide lr by 10 when val error stops improving; step: at --milestones")
    g.add_argument("--patience", type=int, default=d.patience)
    g.add_argument("--max-drops", type=int, default=d.max_drops)
    g.add_argument("--milestones", type=int, nargs="*", default=[])
    g = p.add_argument_group("run")
    g.add_argument("--device", choices=["cpu", "gpu"], default=None, help="default: $MINIALEX_DEVICE or cpu")
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--out", default=None, help="run directory (default: runs/<model>-<dataset>-<time>)")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    g.add_argument("--eval-only", action="store_true", help="evaluate the checkpoint in --out and exit")
    g.add_argument("--ten-crop", action="store_true", help="with --eval-only: also the paper's ten-crop test")
    g.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")
    return p.parse_args(argv)


def config_from_args(a):
    d = TrainConfig()
    return TrainConfig(model=a.model, activation=a.activation, lrn=a.lrn, overlap=a.pool == "overlap",
                       dropout=a.dropout, dataset=a.dataset, data_dir=a.data_dir, val_dir=a.val_dir, download=a.download,
                       subset=a.subset, epochs=a.epochs or d.epochs, batch_size=a.batch_size, lr=a.lr, momentum=a.momentum,
                       weight_decay=a.weight_decay, warmup=a.warmup, init=a.init, schedule=a.schedule, patience=a.patience,
                       max_drops=a.max_drops, milestones=tuple(a.milestones), augment=a.augment,
                       pca_lighting=a.pca_lighting, crop=a.crop, device=a.device or default_device(), seed=a.seed)


def main(argv=None):
    a = parse_args(argv)
    try:
        if a.eval_only or a.resume:
            if a.out is None:
                raise ValueError("--resume and --eval-only need --out, the run directory")
            trainer = Trainer.resume(a.out, epochs=a.epochs if a.resume else None, device=a.device,
                                     progress=not a.no_progress, data_dir=a.data_dir)
        else:
            out = a.out or os.path.join("runs", f"{a.model}-{a.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
            if os.path.exists(os.path.join(out, CHECKPOINT)):
                raise ValueError(f"{out} already holds a run: add --resume to continue it, or choose another --out")
            trainer = Trainer(config_from_args(a), out, progress=not a.no_progress)
        if a.eval_only:
            return evaluate(trainer, a.ten_crop)
        describe(trainer)
        trainer.fit()
    except KeyboardInterrupt:
        return 130
    except (TrainingDiverged, FileNotFoundError, ValueError, RuntimeError, ConnectionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if trainer.history:
        last = trainer.history[-1]
        print(f"done: {trainer.epoch} epochs, final val top-1 error "
              f"{last.get('val_top1_error', float('nan')):.4f}; run directory {trainer.run_dir}")
    return 0


def describe(trainer):
    c = trainer.config
    print(f"{c.model} ({c.activation}) on {trainer.train_set.name}: {len(trainer.train_set)} training, "
          f"{len(trainer.test_set)} test images, input {trainer.crop}x{trainer.crop}, device {c.device}")
    print(f"SGD lr {c.lr:g} momentum {c.momentum:g} weight decay {c.weight_decay:g}, batch {c.batch_size}, "
          f"schedule {c.schedule}; run directory {trainer.run_dir}")
    if trainer.epoch:
        print(f"resuming after epoch {trainer.epoch}" + (f", batch {trainer.position['batch']}"
                                                        if trainer.position else ""))


def evaluate(trainer, ten_crops):
    views = [("centre crop", False)] + ([("ten crops", True)] if ten_crops else [])
    for name, flag in views:
        r = trainer.evaluate(ten_crops=flag)
        trainer.warn_if_one_class(r)
        print(f"{trainer.test_set.name} ({name}): top-1 error {r['top1_error']:.4f}  "
              f"top-5 error {r['top5_error']:.4f}  loss {r['loss']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
