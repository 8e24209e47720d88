"""Whole training steps on the CPU: minialex against PyTorch.

    .venv-bench/bin/python benchmarks/bench_steps.py [--repeats 5]

One step = forward, softmax cross-entropy, backward, SGD with momentum 0.9
and weight decay 5e-4, on random data:

* AlexNet as in the paper (``minialex.models.alexnet()``), batch 32, 3x227x227;
* the Figure-1 CIFAR-10 network (``figure1_net()``), batch 128, 3x32x32.

The two frameworks alternate step by step; min and median are reported.
"""
import argparse

import common

from common import (ALEXNET_INPUT, FIGURE1_INPUT, batch, import_torch, interleaved, minialex_step, summary,
                    torch_alexnet, torch_figure1, torch_step)

NETS = {
    # name: (minialex builder, torch builder, input shape, classes, batch)
    "alexnet": ("alexnet", torch_alexnet, ALEXNET_INPUT, 1000, 32),
    "figure1": ("figure1_net", torch_figure1, FIGURE1_INPUT, 10, 128),
}


def step_cases(torch, net, n=None):
    from minialex import models
    mname, tbuild, shape, classes, default_n = NETS[net]
    n = n or default_n
    x, y = batch(shape, n, classes)
    torch.manual_seed(0)
    return n, {"minialex": minialex_step(getattr(models, mname)(), x, y),
               "pytorch": torch_step(torch, tbuild(torch), x, y)}


def run(torch, net, repeats=5, n=None, threads=None):
    """-> dict: batch, and (min, median) seconds per step for each framework.
    ``threads``: run both frameworks on that many threads instead of 2."""
    n, cases = step_cases(torch, net, n)
    threads = threads or common.THREADS
    with common.threads(threads, torch):
        times = interleaved(cases, repeats, warmup=1)
    r = {"net": net, "batch": n, "threads": threads, **{k: summary(v) for k, v in times.items()}}
    print(f"  {net} ({r['threads']} thread(s)): minialex {r['minialex'][0]:.3f} s, "
          f"PyTorch {r['pytorch'][0]:.3f} s per step (min)", flush=True)
    return r


def table(rows):
    out = ["| network | batch | threads | minialex s/step | PyTorch s/step | minialex images/s | PyTorch images/s "
           "| speed ratio (minialex / PyTorch) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        m, t, n = r["minialex"], r["pytorch"], r["batch"]
        out.append(f"| {r['net']} | {n} | {r['threads']} | {m[0]:.3f} ({m[1]:.3f}) | {t[0]:.3f} ({t[1]:.3f}) | "
                   f"{n / m[0]:.1f} ({n / m[1]:.1f}) | {n / t[0]:.1f} ({n / t[1]:.1f}) | {t[0] / m[0]:.2f} |")
    return "\n".join(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--nets", nargs="*", default=list(NETS))
    ap.add_argument("--threads", type=int, help="both frameworks on this many threads (default 2)")
    args = ap.parse_args()
    torch = import_torch()
    print(table([run(torch, net, args.repeats, threads=args.threads) for net in args.nets]))
