"""Per-layer CPU benchmark: minialex against PyTorch, layer by layer.

    .venv-bench/bin/python benchmarks/bench_layers.py [--repeats 5] [--only conv2 norm1] [--threads 1]

Times every AlexNet convolution (batch 32), the Figure-1 convolutions
(batch 128), LRN and max-pooling at AlexNet's sizes, forward alone and
forward + backward, minialex and PyTorch interleaved. Prints a Markdown
table; ``run_cpu.py`` puts the same table in results/benchmarks-cpu.md.

As in a network, the first convolutions (AlexNet's conv1, fig1.conv1) compute
no input gradient, on both sides; every other layer does.
"""
import argparse

import numpy as np

import common
from common import (ALEXNET_CONVS, ALEXNET_NORMS, ALEXNET_POOLS, FIGURE1_CONVS, import_torch, interleaved, layer_pair,
                    summary)


def layer_specs():
    """(row name, batch): AlexNet's convolutions at batch 32, the Figure-1 convolutions at 128, then
    AlexNet's LRN and max-pool layers at 32."""
    return ([(name, 32) for name, _, _ in ALEXNET_CONVS] + [(name, 128) for name, _, _ in FIGURE1_CONVS]
            + [(name, 32) for name, _ in ALEXNET_NORMS + ALEXNET_POOLS])


def bench_layer(torch, name, n, repeats):
    layer, tlayer, shape, input_grad = layer_pair(torch, name, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    # Post-ReLU-like inputs for LRN/pool would change nothing in the cost; plain normal data.
    x = rng.standard_normal((n, *shape), dtype=np.float32)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape, dtype=np.float32)
    xt = torch.from_numpy(x.copy()).requires_grad_(input_grad)
    dt = torch.from_numpy(dout)

    def t_fwd():
        tlayer(xt)

    def t_fwdbwd():
        for p in tlayer.parameters():
            p.grad = None
        xt.grad = None
        tlayer(xt).backward(dt)

    def m_fwd():
        layer.forward(x)

    def m_fwdbwd():
        layer.forward(x)
        layer.backward(dout)

    times = interleaved({"m_fwd": m_fwd, "t_fwd": t_fwd, "m_fb": m_fwdbwd, "t_fb": t_fwdbwd}, repeats)
    return {"input_grad": input_grad, **{k: summary(v) for k, v in times.items()}}


def run(torch, repeats=5, only=None, threads=None):
    """-> rows: dicts with name, batch, and (min, median) seconds per case.
    ``threads``: run both frameworks on that many threads instead of 2."""
    rows = []
    threads = threads or common.THREADS
    for name, n in layer_specs():
        if only and name not in only:
            continue
        with common.threads(threads, torch):
            r = bench_layer(torch, name, n, repeats)
        r.update(name=name, batch=n, threads=threads)
        rows.append(r)
        print(f"  {name:11s} fwd {r['m_fwd'][0] * 1e3:8.1f} / {r['t_fwd'][0] * 1e3:8.1f} ms   "
              f"fwd+bwd {r['m_fb'][0] * 1e3:8.1f} / {r['t_fb'][0] * 1e3:8.1f} ms  "
              f"(ratio {r['m_fb'][0] / r['t_fb'][0]:.2f})", flush=True)
    return rows


def table(rows, digits=1):
    """Markdown table: times in ms, min (median); ratio = minialex / PyTorch on the minimum."""
    ms = lambda t: f"{t[0] * 1e3:.{digits}f} ({t[1] * 1e3:.{digits}f})"
    out = ["| layer | batch | minialex fwd | PyTorch fwd | ratio | minialex fwd+bwd | PyTorch fwd+bwd | ratio |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['name']} | {r['batch']} | {ms(r['m_fwd'])} | {ms(r['t_fwd'])} | "
                   f"{r['m_fwd'][0] / r['t_fwd'][0]:.2f} | {ms(r['m_fb'])} | {ms(r['t_fb'])} | "
                   f"{r['m_fb'][0] / r['t_fb'][0]:.2f} |")
    return "\n".join(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", nargs="*", help="layer names, e.g. conv2 norm1")
    ap.add_argument("--threads", type=int, help="both frameworks on this many threads (default 2)")
    args = ap.parse_args()
    print(table(run(import_torch(), args.repeats, args.only, args.threads)))
