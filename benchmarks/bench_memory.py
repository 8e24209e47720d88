"""Peak memory (RSS) of AlexNet training steps, one framework per process.

    .venv-bench/bin/python benchmarks/bench_memory.py                 # both, batch 8/16/32
    .venv-bench/bin/python benchmarks/bench_memory.py --child minialex 32   # one measurement, JSON

Each measurement runs in a fresh subprocess (so one framework's peak cannot
hide in the other's) that builds the network, runs two training steps (the second one
holds everything: weights, gradients, momentum, activations) and
reports VmHWM, the peak resident set size of the process: imports,
weights, gradients, momentum buffers, activations and every temporary. The
minialex child never imports PyTorch. "Baseline" is the RSS after the
imports, before the network is built.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _status_mb(field):
    """A memory line of /proc/self/status (VmRSS: now, VmHWM: peak), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(framework, n, steps=2):
    sys.path.insert(0, HERE)
    from common import ALEXNET_INPUT, THREADS, batch, minialex_step, threads, torch_alexnet, torch_step
    torch = None
    if framework == "pytorch":
        from common import import_torch
        torch = import_torch()
    else:
        from minialex import models
    baseline = _status_mb("VmRSS")
    x, y = batch(ALEXNET_INPUT, n, 1000)
    if framework == "pytorch":
        step = torch_step(torch, torch_alexnet(torch), x, y)
    else:
        step = minialex_step(models.alexnet(), x, y)
    with threads(THREADS, torch):  # as in the other benchmarks: minialex's per-thread buffers count
        for _ in range(steps):
            step()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork + exec, so a child
    # of a big parent would report the parent's peak.
    peak = _status_mb("VmHWM")
    print(json.dumps({"framework": framework, "batch": n, "peak_rss_mb": peak, "baseline_rss_mb": baseline}))


def measure(framework, n, python=sys.executable):
    """Peak RSS in MiB of a fresh process running AlexNet steps at batch n."""
    res = subprocess.run([python, os.path.abspath(__file__), "--child", framework, str(n)],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def run(batches=(8, 16, 32), frameworks=("minialex", "pytorch")):
    rows = []
    for n in batches:
        for fw in frameworks:
            r = measure(fw, n)
            print(f"  {fw:8s} batch {n:3d}: peak RSS {r['peak_rss_mb']:.0f} MiB "
                  f"(baseline {r['baseline_rss_mb']:.0f} MiB)", flush=True)
            rows.append(r)
    return rows


def table(rows):
    by = {(r["framework"], r["batch"]): r for r in rows}
    out = ["| batch | minialex peak RSS (MiB) | PyTorch peak RSS (MiB) | ratio | minialex baseline | PyTorch baseline |",
           "|---:|---:|---:|---:|---:|---:|"]
    for n in sorted({r["batch"] for r in rows}):
        m, t = by.get(("minialex", n)), by.get(("pytorch", n))
        cell = lambda r, k: f"{r[k]:.0f}" if r else "-"
        ratio = f"{m['peak_rss_mb'] / t['peak_rss_mb']:.2f}" if m and t else "-"
        out.append(f"| {n} | {cell(m, 'peak_rss_mb')} | {cell(t, 'peak_rss_mb')} | {ratio} | "
                   f"{cell(m, 'baseline_rss_mb')} | {cell(t, 'baseline_rss_mb')} |")
    return "\n".join(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "BATCH"), help=argparse.SUPPRESS)
    ap.add_argument("--batches", type=int, nargs="*", default=[8, 16, 32])
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
    else:
        print(table(run(args.batches)))
