"""The paper's other claims, as on/off ablations of the CIFAR-10 network.

    python -m minialex.experiments.ablations lrn --data-dir DIR --epochs 10 --out runs/ablations
    python -m minialex.experiments.ablations all --data-dir DIR --subset 10000 --epochs 4

Claims (paper section): ``lrn`` local response normalisation lowers test
error (3.3); ``overlap`` 3x3 stride-2 pooling beats 2x2 stride-2 (3.4);
``dropout`` reduces over-fitting (4.2); ``pca`` PCA lighting lowers test
error (4.1). Each trains the Figure 1 network (``figure1_net``) twice, switch on
and switch off (the plain network, trained once and shared by the claims),
from the same seed, with the paper's training recipe (SGD,
momentum 0.9, weight decay 5e-4, random crops and flips, constant learning
rate), and records the test error after every epoch. It writes
``CLAIM.png`` (test and training error against epochs), ``CLAIM.json`` and the
table ``ablations.md`` with every claim finished so far. Runs are checkpointed:
rerunning the command continues them.
"""
import argparse
import json
import os

from matplotlib.figure import Figure  # no pyplot: never touches the backend of a notebook

from ..data import load_dataset
from ..run_files import CHECKPOINT
from ..config import HelpFormatter, add_options, given_options
from ..config import TrainConfig
from ..trainer import Trainer

CLAIMS = {  # claim: (what it tests, paper section, config when on, config when off)
    "lrn": ("local response normalisation", "3.3", {"lrn": True}, {"lrn": False}),
    "overlap": ("overlapping 3x3/2 pooling against 2x2/2", "3.4", {"overlap": True}, {"overlap": False}),
    "dropout": ("dropout 0.5 before the classifier", "4.2", {"dropout": 0.5}, {"dropout": 0.0}),
    "pca": ("PCA lighting augmentation", "4.1", {"pca_lighting": True}, {"pca_lighting": False}),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m minialex.experiments.ablations", description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("claims", nargs="+", choices=list(CLAIMS) + ["all"])
    p.add_argument("--out", default="runs/ablations")
    add_options(p, OPTIONS, defaults=DEFAULTS)
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


# The command line's options (minialex.config) and what they start from; FIXED: every variant's.
OPTIONS = ("dataset", "data_dir", "download", "subset", "epochs", "lr", "batch_size", "seed", "device")
DEFAULTS = {"dataset": "cifar10", "epochs": 10, "lr": 0.005, "batch_size": 128, "seed": 0, "device": "cpu"}
FIXED = {"model": "figure1", "activation": "relu", "momentum": 0.9, "weight_decay": 5e-4, "schedule": "constant",
         "augment": True}
BASELINE = {"lrn": False, "overlap": True, "dropout": 0.0, "pca_lighting": False}


def train_variant(args, claim, variant, switches, data):
    # The plain network is the "off" side of most claims: train it once, share it.
    is_baseline = all(BASELINE[key] == value for key, value in switches.items())
    path = os.path.join(args.out, "baseline" if is_baseline else f"{claim}-{variant}")
    kwargs = dict(data=data, progress=not args.no_progress)
    if os.path.exists(os.path.join(path, CHECKPOINT)):
        trainer = Trainer.resume(path, epochs=args.epochs, **kwargs)
    else:
        config = TrainConfig(**FIXED, **given_options(args, OPTIONS), **switches)
        trainer = Trainer(config, path, **kwargs)
    print(f"[{claim}] {variant} ({os.path.basename(path)}): {trainer.epoch}/{args.epochs} epochs done")
    trainer.fit()
    return trainer.history


def run_claim(args, claim, data):
    what, section, on, off = CLAIMS[claim]
    histories = {variant: train_variant(args, claim, variant, switches, data)
                 for variant, switches in (("on", on), ("off", off))}
    result = {"claim": claim, "what": what, "paper_section": section, "epochs": args.epochs, "subset": args.subset,
              "dataset": args.dataset, "lr": args.lr, "seed": args.seed, "device": args.device, "variants": {}}
    for variant, history in histories.items():
        result["variants"][variant] = {
            "final_test_top1_error": history[-1]["val_top1_error"],
            "best_test_top1_error": min(h["val_top1_error"] for h in history),
            "final_train_error": history[-1]["train_error"],
            "seconds": sum(h["seconds"] for h in history),
            "curve": [[h["epoch"], h["train_error"], h["val_top1_error"]] for h in history]}
    with open(os.path.join(args.out, f"{claim}.json"), "w") as f:
        json.dump(result, f, indent=1)
    plot_claim(result, os.path.join(args.out, f"{claim}.png"))
    return result


def plot_claim(result, path):
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for variant, color in (("on", "C0"), ("off", "C3")):
        epochs, train, test = zip(*result["variants"][variant]["curve"])
        ax.plot(epochs, test, "o-", color=color, label=f"{variant}: test error")
        ax.plot(epochs, train, "--", color=color, alpha=0.6, label=f"{variant}: training error")
    images = f"{result['subset']:,} training images" if result.get("subset") else "all training images"
    ax.set(xlabel="epoch", ylabel="top-1 error", title=f"{result['what']} (section {result['paper_section']})")
    ax.text(0.01, 0.01, f"{result.get('dataset', 'cifar10')}, {images}, {result['epochs']} epochs, seed "
            f"{result['seed']}, {result.get('device', 'cpu')}", transform=ax.transAxes, fontsize=7, color="0.3")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_table(out):
    rows = ["| claim (paper section) | variant | final test error | best test error | final training error | "
            "epochs | training images | seconds |", "|---|---|---|---|---|---|---|---|"]
    for claim in CLAIMS:
        path = os.path.join(out, f"{claim}.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            r = json.load(f)
        for variant in ("on", "off"):
            v = r["variants"][variant]
            rows.append(f"| {r['what']} ({r['paper_section']}) | {variant} | {v['final_test_top1_error']:.4f} | "
                        f"{v['best_test_top1_error']:.4f} | {v['final_train_error']:.4f} | {r['epochs']} | "
                        f"{r['subset'] or 'all'} | {v['seconds']:.0f} |")
    with open(os.path.join(out, "ablations.md"), "w") as f:
        f.write("\n".join(rows) + "\n")
    return "\n".join(rows)


def main(argv=None):
    args = parse_args(argv)
    claims = list(CLAIMS) if "all" in args.claims else args.claims
    if "pca" in claims and args.dataset != "cifar10":
        raise SystemExit("the pca claim needs colour images: use --dataset cifar10")
    os.makedirs(args.out, exist_ok=True)
    data = load_dataset(args.dataset, args.data_dir, args.download)
    try:
        for claim in claims:
            run_claim(args, claim, data)
    except KeyboardInterrupt:
        raise SystemExit(f"interrupted: the runs are checkpointed in {args.out}; rerun the same command to continue")
    print(write_table(args.out))


if __name__ == "__main__":
    main()
