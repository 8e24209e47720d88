"""Does the paper's training recipe make AlexNet learn? Short runs of each recipe, side by side.

    python -m minialex.experiments.recipes --dataset imagenette --data-dir DIR --steps 24 --out runs/recipes

Section 5's recipe: SGD with batch 128, learning rate 0.01, momentum 0.9, weight
decay 5e-4; weights from N(0, 0.01^2), biases 1 in conv2, conv4, conv5, fc6 and
fc7. Each recipe below changes one thing and trains AlexNet from the same seed for
``--steps`` mini-batches of the real training set (random crops and flips, dropout,
as the paper), recording the loss and error of every batch, then tests on
``--test-images`` held-out photos. It writes ``recipes.json``, ``recipes.png``
(loss and running error against steps) and ``recipes.md`` (a table). Runs are
checkpointed: rerunning the command continues them (with a larger ``--steps``,
they train on from where they stopped).

Before training, ``init.md`` records why the initialisation matters: for each
initialisation, on 64 real training images (centre crops), the size of every
layer's output, its squared length per image, and how alike the images look to
the layer (the mean cosine similarity between two images' outputs).
"""
import argparse
import json
import math
import os
import time

from matplotlib.figure import Figure  # no pyplot: never touches the backend of a notebook
from matplotlib.ticker import FormatStrFormatter

import numpy as np

from ..data import load_dataset, mean_image
from ..data.batches import model_input
from ..models import INITS, alexnet
from ..run_files import CHECKPOINT
from ..config import HelpFormatter, add_options, given_options
from ..config import TrainConfig
from ..trainer import Trainer, TrainingDiverged

RECIPES = {  # name: (what changes against the paper, TrainConfig fields)
    "paper": ("nothing: section 5 as written", {}),
    "paper-lr0.001": ("learning rate 0.001 instead of 0.01", {"lr": 0.001}),
    "paper-warmup": ("the learning rate rises linearly to 0.01 over the first --warmup epochs", {"warmup": None}),
    "caffe-init": ("biases 0.1 instead of 1, fc6 and fc7 from N(0, 0.005^2) (Caffe's reference AlexNet)",
                   {"init": "caffe"}),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m minialex.experiments.recipes", description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    p.add_argument("--steps", type=int, default=24, help="mini-batches each recipe trains for")
    p.add_argument("--warmup", type=float, default=0.25, help="paper-warmup: epochs of warm-up")
    p.add_argument("--test-images", type=int, default=500, help="a stratified subset of the test set")
    add_options(p, OPTIONS, defaults=DEFAULTS)
    p.add_argument("--out", default="runs/recipes")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


# The command line's options (minialex.config) and what they start from.
OPTIONS = ("dataset", "data_dir", "download", "subset", "batch_size", "seed", "device")
DEFAULTS = {"dataset": "imagenette", "batch_size": 128, "seed": 0, "device": "cpu"}


def run_recipe(args, name, data):
    """Train one recipe for args.steps batches (or continue it); its result as a dict."""
    fields = dict(RECIPES[name][1])
    if "warmup" in fields:
        fields["warmup"] = args.warmup
    batches_per_epoch = math.ceil(len(data[0]) / args.batch_size)
    config = TrainConfig(**given_options(args, OPTIONS), model="alexnet", schedule="constant", validate=False,
                         epochs=math.ceil(args.steps / batches_per_epoch), points_per_epoch=batches_per_epoch,
                         **fields)
    run_dir = os.path.join(args.out, name)
    kwargs = dict(data=data, progress=not args.no_progress)
    resumed = os.path.exists(os.path.join(run_dir, CHECKPOINT))
    trainer = Trainer.resume(run_dir, **kwargs) if resumed else Trainer(config, run_dir, **kwargs)
    trainer.stopped = len(trainer.points) >= args.steps
    tick = time.perf_counter()
    diverged = None
    try:
        trainer.fit(stop=lambda t, point: len(t.points) >= args.steps)
    except TrainingDiverged as err:
        diverged = str(err)
    test = (data[1].subset(args.test_images, seed=0) if args.test_images < len(data[1]) else data[1])
    result = {"recipe": name, "change": RECIPES[name][0], "config": fields, "steps": len(trainer.points),
              "losses": [p["train_loss"] for p in trainer.points], "errors": [p["train_error"] for p in trainer.points],
              "diverged": diverged, "seconds": time.perf_counter() - tick}
    if diverged is None:
        result["test"] = trainer.evaluate(test)
        result["test_images"] = len(test)
    return result


def init_statistics(train, init, images=64, layers=("relu1", "relu3", "relu5", "relu6", "relu7", "fc8")):
    """{layer: {"std", "sq_length", "cosine"}} of AlexNet (``init``, seed 0, eval mode) on
    ``images`` training images spread over the set: the standard deviation of the layer's
    output, the mean squared length of one image's output vector, and the mean cosine
    similarity between the output vectors of two different images (1: all images look
    the same to the layer)."""
    pick = np.linspace(0, len(train) - 1, images).astype(int)
    x = model_input(train.images[pick], mean_image(train.images), 227)
    net = alexnet(len(train.classes), init=init).eval()
    out = {}
    for name, layer in zip(net.names, net.layers):
        x = layer.forward(x)
        if name in layers:
            v = x.reshape(len(x), -1).astype(np.float64)
            unit = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-300)
            cosine = (unit @ unit.T)[np.triu_indices(len(v), 1)].mean()
            out[name] = {"std": float(v.std()), "sq_length": float((v ** 2).sum(axis=1).mean()),
                         "cosine": float(cosine)}
    return out


def init_table(stats):
    rows = ["| layer | " + " | ".join(f"{init}: std, squared length, cosine" for init in stats) + " |",
            "|---|" + "---|" * len(stats)]
    for layer in next(iter(stats.values())):
        rows.append(f"| {layer} | " + " | ".join(
            f"{s[layer]['std']:.3g}, {s[layer]['sq_length']:.3g}, {s[layer]['cosine']:.4f}" for s in stats.values())
            + " |")
    return "\n".join(rows)


def plot(results, path, title):
    fig = Figure(figsize=(11, 4))
    ax_loss, ax_err = fig.subplots(1, 2)
    for r in results:
        steps = range(1, len(r["losses"]) + 1)
        ax_loss.plot(steps, r["losses"], label=r["recipe"])
        ax_err.plot(steps, r["errors"], label=r["recipe"])
    chance = math.log(10)
    ax_loss.axhline(chance, color="0.5", ls=":", label="ln 10 (guessing)")
    ax_loss.set(xlabel="mini-batch", ylabel="training loss (log scale)", yscale="log", title=title)
    for axis in (ax_loss.yaxis.set_major_formatter, ax_loss.yaxis.set_minor_formatter):
        axis(FormatStrFormatter("%g"))
    ax_err.axhline(0.9, color="0.5", ls=":", label="chance (90 %)")
    ax_err.set(xlabel="mini-batch", ylabel="training error of the batch", ylim=(0, 1))
    for ax in (ax_loss, ax_err):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def table(results):
    rows = ["| recipe | change against the paper | steps | first loss | last 5 losses (mean) | "
            "val top-1 error | val top-5 error |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        last = sum(r["losses"][-5:]) / len(r["losses"][-5:])
        test = r.get("test")
        rows.append(f"| {r['recipe']} | {r['change']} | {r['steps']} | {r['losses'][0]:.2f} | {last:.2f} | "
                    + (f"{test['top1_error']:.3f} | {test['top5_error']:.3f} |" if test else "diverged | |"))
    return "\n".join(rows)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    data = load_dataset(args.dataset, args.data_dir, args.download, args.subset, args.seed)
    stats = {init: init_statistics(data[0], init) for init in INITS}
    with open(os.path.join(args.out, "init.md"), "w") as f:
        f.write(f"AlexNet at initialisation (seed 0) on 64 images of {data[0].name}:\n\n{init_table(stats)}\n")
    print(init_table(stats))
    results = []
    try:
        for name in args.recipes:
            results.append(run_recipe(args, name, data))
            print(f"{name}: " + table(results[-1:]).splitlines()[-1])
    except KeyboardInterrupt:
        raise SystemExit(f"interrupted: the runs are checkpointed in {args.out}; rerun the same command to continue")
    with open(os.path.join(args.out, "recipes.json"), "w") as f:
        json.dump({"args": vars(args), "train_set": data[0].name, "results": results}, f, indent=1)
    plot(results, os.path.join(args.out, "recipes.png"),
         f"AlexNet on {data[0].name}, batch {args.batch_size}, seed {args.seed}")
    with open(os.path.join(args.out, "recipes.md"), "w") as f:
        f.write(table(results) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
