"""Figure 3's claim, measured: do the two GPUs' first-layer kernels specialise?

    python -m minialex.experiments.colour_split watch RUN_DIR          # keep conv1 after every epoch
    python -m minialex.experiments.colour_split report RUN_DIR [...] --out DIR

The paper (section 6.1): "The kernels on GPU 1 are largely color-agnostic, while
the kernels on GPU 2 are largely color-specific. This kind of specialization
occurs during every run and is independent of any particular random weight
initialization (modulo a renumbering of the GPUs)."

In ``alexnet()`` the 96 conv1 kernels are split as the paper's two GPUs split
them: kernels 0-47 feed only the first group of conv2 (and of the LRN before it),
kernels 48-95 only the second. Nothing else tells the halves apart, so any
difference between them must come from training.

Each kernel's colour-specificity is ``visualize.kernel_chroma`` (the share of its
variation that is colour rather than brightness). The test: under the hypothesis
that the split does not matter, every way of dealing the 96 values into two
blocks of 48 is as likely as the real one, so the p-value is the share of random
deals whose blocks differ (in mean colour-specificity) at least as much as the
real blocks do. A small p says the real split is unlikely to be chance; the sign
says which block is the colour-specific one.

``watch`` polls a run directory and copies conv1's weights out of the checkpoint
after each finished epoch into ``RUN_DIR/conv1/epoch-NNN.npy``, so the split can
be tracked over a run that is still going. ``report`` reads those snapshots (or
a run's final checkpoint) and writes ``colour-split.json`` and
``colour-split.png``.
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np
from matplotlib.figure import Figure

from .. import checkpoint
from ..run_files import CHECKPOINT
from ..visualize import kernel_chroma

PERMUTATIONS = 20000


def block_difference(chroma, blocks=2):
    """Mean colour-specificity of the second block minus the first's (positive: GPU 2 is
    the colour-specific one, as in the paper's run). ``chroma``: (F,) or (P, F)."""
    halves = np.split(np.asarray(chroma), blocks, axis=-1)
    return halves[1].mean(axis=-1) - halves[0].mean(axis=-1)


def permutation_test(chroma, permutations=PERMUTATIONS, seed=0):
    """(difference, p): the real blocks' difference of means, and the two-sided share of
    random equal-size deals of the same values whose difference is at least as large.
    The +1 counts the real deal itself, so p is never 0 (the smallest is 1/(permutations+1))."""
    chroma = np.asarray(chroma, dtype=np.float64)
    observed = float(block_difference(chroma))
    rng = np.random.default_rng(seed)
    deals = np.argsort(rng.random((permutations, chroma.size)), axis=1)  # each row a random order of the kernels
    null = block_difference(chroma[deals])
    p = (1 + int(np.sum(np.abs(null) >= abs(observed) - 1e-12))) / (permutations + 1)
    return observed, p


def describe(weights):
    """The numbers of one conv1: per-kernel colour-specificity, both blocks' means and
    medians, the test, and which block (1 or 2, the paper's GPU numbers) is more colour-specific."""
    chroma = kernel_chroma(weights)
    difference, p = permutation_test(chroma)
    halves = np.split(chroma, 2)
    return {"mean": [float(h.mean()) for h in halves], "median": [float(np.median(h)) for h in halves],
            "difference": difference, "p": p, "colour_block": 2 if difference > 0 else 1,
            "per_kernel": [round(float(c), 4) for c in chroma]}


# -- keeping conv1 while a run goes on --------------------------------------------------


def snapshot(run_dir):
    """Copy conv1 of the run's checkpoint to conv1/epoch-NNN.npy when the checkpoint holds the end of an
    epoch (not a stop inside one); returns the path written, or None."""
    state = checkpoint.load(os.path.join(run_dir, CHECKPOINT))
    if state.get("position") is not None:
        return None  # saved inside an epoch (an interruption): wait for the epoch's end
    target = os.path.join(run_dir, "conv1", f"epoch-{int(state['epoch']):03d}.npy")
    if os.path.exists(target):
        return None
    os.makedirs(os.path.dirname(target), exist_ok=True)
    np.save(target, state["model"]["params"]["conv1.W"])
    return target


def watch(run_dir, every=60):
    """Look at the checkpoint every ``every`` seconds; read it (435 MiB for AlexNet) only when it changed."""
    seen = None
    while True:
        try:
            stamp = os.stat(os.path.join(run_dir, CHECKPOINT)).st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp is not None and stamp != seen:
            written = snapshot(run_dir)
            if written:
                print(time.strftime("%H:%M:%S"), "kept", written, flush=True)
            seen = stamp
        time.sleep(every)


# -- the report -------------------------------------------------------------------


def run_series(run_dir):
    """[(epoch, conv1 W)] from RUN_DIR/conv1/epoch-*.npy, else the final checkpoint alone."""
    paths = sorted(glob.glob(os.path.join(run_dir, "conv1", "epoch-*.npy")))
    if paths:
        return [(int(os.path.basename(p)[6:9]), np.load(p, allow_pickle=False)) for p in paths]
    state = checkpoint.load(os.path.join(run_dir, CHECKPOINT))
    return [(int(state["epoch"]), state["model"]["params"]["conv1.W"])]


def report(run_dirs, out):
    os.makedirs(out, exist_ok=True)
    runs = {}
    for run_dir in run_dirs:
        runs[os.path.basename(os.path.normpath(run_dir))] = [{"epoch": e, **describe(w)} for e, w in run_series(run_dir)]
    with open(os.path.join(out, "colour-split.json"), "w") as f:
        json.dump({"measure": "kernel_chroma: share of a kernel's variation that is colour (0 grey, random ~2/3)",
                   "test": f"two-sided permutation test of the difference of block means, {PERMUTATIONS} deals",
                   "runs": runs}, f, indent=1)
    fig = Figure(figsize=(10, 3.6))
    ax_diff, ax_p = fig.subplots(1, 2)
    for name, series in runs.items():
        epochs = [s["epoch"] for s in series]
        ax_diff.plot(epochs, [s["difference"] for s in series], "o-", label=name, markersize=3)
        ax_p.semilogy(epochs, [s["p"] for s in series], "o-", label=name, markersize=3)
    ax_diff.axhline(0, color="grey", lw=0.8)
    ax_diff.set(xlabel="epoch", ylabel="mean colour-specificity: GPU 2 - GPU 1",
                title="which block is colour-specific (> 0: GPU 2)")
    ax_p.axhline(0.01, color="red", lw=0.8, ls="--", label="p = 0.01")
    ax_p.set(xlabel="epoch", ylabel="p (permutation test)", title="how likely the difference is by chance")
    ax_p.legend(fontsize=7)
    ax_diff.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "colour-split.png"), dpi=100)
    for name, series in runs.items():
        last = series[-1]
        print(f"{name}: epoch {last['epoch']}: block means {last['mean'][0]:.3f} / {last['mean'][1]:.3f}, "
              f"p = {last['p']:.4f}, colour-specific: GPU {last['colour_block']}")
    return runs


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m minialex.experiments.colour_split",
                                description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("watch", help="keep conv1 after every epoch of a running run")
    w.add_argument("run_dir")
    w.add_argument("--every", type=float, default=60, help="seconds between looks")
    r = sub.add_parser("report", help="the split of one or more runs, over their epochs")
    r.add_argument("run_dirs", nargs="+")
    r.add_argument("--out", required=True)
    a = p.parse_args(argv)
    try:
        if a.command == "watch":
            watch(a.run_dir, a.every)
        else:
            report(a.run_dirs, a.out)
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
