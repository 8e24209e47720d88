"""Per-layer CPU benchmark: minialex against PyTorch, layer by layer.

    .venv-bench/bin/python benchmarks/bench_layers.py [--repeats 5] [--quick]

Times every AlexNet convolution (batch 32), the Figure-1 convolutions
(batch 128), LRN and max-pooling at AlexNet's sizes, forward alone and
forward + backward, minialex and PyTorch interleaved. Prints a Markdown
table; ``run_cpu.py`` puts the same table in results/benchmarks-cpu.md.

As in the network, AlexNet's conv1 computes no input gradient (on both sides);
every other layer does.
"""
import argparse
import contextlib

import numpy as np

import common
from common import ALEXNET_CONVS, FIGURE1_CONVS, import_torch, interleaved, summary


def torch_conv_like(torch, kw, layer):
    from common import torch_conv
    t = torch_conv(torch, kw)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(layer.params["W"]))
        t.bias.copy_(torch.from_numpy(layer.params["b"]))
    return t


def layer_specs(torch):
    """(row name, batch, make) with make() -> (minialex layer, torch module, input shape, input needs grad)."""
    from minialex.layers import Conv2d, LocalResponseNorm, MaxPool2d
    rng = np.random.default_rng(0)
    specs = []
    for convs, batch, first in ((ALEXNET_CONVS, 32, "conv1"), (FIGURE1_CONVS, 128, "fig1.conv1")):
        for name, kw, shape in convs:
            def make(name=name, kw=kw, shape=shape, batch=batch, first=first):
                layer = Conv2d(**kw, rng=rng)
                layer.needs_input_grad = name != first  # no input gradient for a network's first layer
                return layer, torch_conv_like(torch, kw, layer), (batch, *shape), name != first
            specs.append((name, batch, make))
    for name, shape in (("norm1", (96, 55, 55)), ("norm2", (256, 27, 27))):
        specs.append((name, 32, lambda shape=shape: (
            LocalResponseNorm(5, 1e-4, 0.75, 2.0), torch.nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0),
            (32, *shape), True)))
    for name, shape in (("pool1", (96, 55, 55)), ("pool2", (256, 27, 27)), ("pool5", (256, 13, 13))):
        specs.append((name, 32, lambda shape=shape: (MaxPool2d(3, 2), torch.nn.MaxPool2d(3, 2), (32, *shape), True)))
    return specs


def bench_layer(torch, make, repeats):
    layer, tlayer, shape, input_grad = make()
    rng = np.random.default_rng(1)
    # Post-ReLU-like inputs for LRN/pool would change nothing in the cost; plain normal data.
    x = rng.standard_normal(shape, dtype=np.float32)
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
    return {k: summary(v) for k, v in times.items()}


def run(torch, repeats=5, only=None, threads=None):
    """-> rows: dicts with name, batch, and (min, median) seconds per case.
    ``threads``: run both frameworks on that many threads instead of 2."""
    rows = []
    for name, n, make in layer_specs(torch):
        if only and name not in only:
            continue
        with (common.threads(torch, threads) if threads else contextlib.nullcontext()):
            r = bench_layer(torch, make, repeats)
        r.update(name=name, batch=n, threads=threads or common.THREADS)
        rows.append(r)
        print(f"  {name:11s} fwd {r['m_fwd'][0] * 1e3:8.1f} / {r['t_fwd'][0] * 1e3:8.1f} ms   "
              f"fwd+bwd {r['m_fb'][0] * 1e3:8.1f} / {r['t_fb'][0] * 1e3:8.1f} ms  "
              f"(ratio {r['m_fb'][0] / r['t_fb'][0]:.2f})", flush=True)
    return rows


def table(rows):
    """Markdown table: times in ms, min (median); ratio = minialex / PyTorch on the minimum."""
    ms = lambda t: f"{t[0] * 1e3:.1f} ({t[1] * 1e3:.1f})"
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
