"""CPU benchmark of minialex against PyTorch: writes results/benchmarks-cpu.md.

How to run (from the repository root; about 5-10 minutes on 2 cores):

    python -m venv .venv-bench --system-site-packages
    .venv-bench/bin/pip install torch==2.13.0
    .venv-bench/bin/python benchmarks/run_cpu.py

Options: ``--repeats N`` (timed rounds per AlexNet training step, default
4; the Figure-1 step, 0.1-0.3 s, gets 4N), ``--layer-repeats N`` (per layer
case, default 5), ``--quick`` (2 rounds, 8 for the Figure-1 step, memory at
batch 32 only: a smoke run), ``--out PATH``.

What it measures, minialex and PyTorch side by side in one process, the two
alternating call by call (a background job then slows both alike), min and
median of the rounds:

1. every AlexNet convolution at batch 32 and the Figure-1 convolutions at
   batch 128, forward and forward + backward; LRN and max-pooling; the
   convolutions again with 1 thread each;
2. a whole training step (forward, loss, backward, SGD with momentum and
   weight decay): AlexNet at batch 32, the Figure-1 network at batch 128,
   with 2 threads each, and again with 1 thread each;
3. peak RSS of the AlexNet step for each framework at batch 8, 16 and 32,
   each in a fresh subprocess so the peaks do not mix (bench_memory.py).

and draws results/benchmarks-epoch-time.png (Figure-1 network: time per
epoch against data-set size, derived from the measured per-step time) and
results/benchmarks-memory.png (AlexNet step: peak RSS against batch size).

The pieces run alone too: bench_layers.py, bench_steps.py, bench_memory.py.
"""
import argparse
import datetime
import math
import os
import sys
import time

import bench_layers
import bench_memory
import bench_steps
from common import (ALEXNET_CONVS, FIGURE1_CONVS, REPO, SWITCH_PAUSE_S, THREADS, import_torch, interleaved,
                    load_average, machine_facts)
from minialex.functional.sizes import conv_output_size  # after common, which puts the repository on sys.path

# The Figure-1 step is short, so a passing disturbance spoils a larger share
# of it: this many times more rounds make its minimum as trustworthy as AlexNet's.
FIGURE1_ROUNDS = 4

TARGETS = """\
| target | {threads} threads each (the brief's setting) | met? | 1 thread each (per core) | met? |
|---|---|---|---|---|
| AlexNet training images/s >= 0.8x PyTorch (aim 1.0x) | {alex:.2f}x | {alex_ok} | {alex1:.2f}x | {alex1_ok} |
| Figure-1 training step >= 0.8x PyTorch's speed | {fig1:.2f}x | {fig1_ok} | {fig11:.2f}x | {fig11_ok} |
| every AlexNet convolution fwd+bwd within 1.3x PyTorch's time | worst {conv:.2f}x ({conv_name}) | {conv_ok} | worst {conv1:.2f}x ({conv1_name}) | {conv1_ok} |
| AlexNet step peak RSS <= PyTorch's (batch 32) | {mem:.2f}x | {mem_ok} | | |
"""


def plot_epoch_time(steps, steps1, path, sizes=(1000, 5000, 10000, 20000, 50000)):
    """Figure-1 network: seconds per epoch = ceil(size / batch) * measured s/step,
    for 2 threads each (solid) and 1 thread each (dotted)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for rows, line in ((steps, "-"), (steps1, ":")):
        r = next(r for r in rows if r["net"] == "figure1")
        for name, marker, color in (("minialex", "o", "C0"), ("pytorch", "s", "C1")):
            per_step = r[name][0]  # the minimum: the least disturbed by other jobs
            ax.plot(sizes, [math.ceil(s / r["batch"]) * per_step for s in sizes], line, marker=marker, color=color,
                    label=f"{'PyTorch' if name == 'pytorch' else name}, {r['threads']} thread(s) "
                          f"({per_step * 1e3:.0f} ms/step)")
    ax.set_xlabel("training images per epoch")
    ax.set_ylabel("seconds per epoch")
    ax.set_title("Figure-1 network, batch 128, CPU\n"
                 "derived: measured (minimum) step time x steps per epoch, no data loading", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def blas_table():
    """GFLOP/s of float32 matmul on 1 thread for a few (M, K, N) shapes."""
    import numpy as np
    import threadpoolctl
    shapes = [("large square", 2048, 2048, 2048),
              ("Figure-1 conv2 forward, by kernel rows", 32, 160, 16 * 16 * 16),
              ("Figure-1 conv2 forward, full im2col", 32, 800, 16 * 16 * 16),
              ("Figure-1 conv3 forward, by kernel rows", 64, 160, 8 * 8 * 64)]
    rows = ["| product | M x K x N | GFLOP/s |", "|---|---|---:|"]
    rng = np.random.default_rng(0)
    with threadpoolctl.threadpool_limits(1, "blas"):
        for name, m, k, n in shapes:
            a, b = rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32)
            best = min(interleaved({"product": lambda: a @ b}, 5, pause=0)["product"])
            rows.append(f"| {name} | {m} x {k} x {n} | {2 * m * k * n / best / 1e9:.0f} |")
    return "\n".join(rows)


def conv_gflop(kw, shape, batch, input_grad):
    """GFLOP of one convolution's forward + backward: the forward's multiply-adds
    (2 FLOP each), as many again for dL/dW, and again for dL/dx if computed."""
    c, h, w = shape
    k, stride, p = kw["kernel_size"], kw.get("stride", 1), kw.get("padding", 0)
    pixels = conv_output_size(h, k, stride, p) * conv_output_size(w, k, stride, p)
    forward = 2 * batch * kw["out_channels"] * (c // kw.get("groups", 1)) * k * k * pixels
    return forward * (3 if input_grad else 2) / 1e9


def conv_rate_table(layers, convs1):
    """The Figure-1 convolutions' fwd+bwd as arithmetic rates, from the layer runs:
    GFLOP / minimum time, both frameworks, 2 threads and 1 thread."""
    out = ["| layer | GFLOP (fwd+bwd) | minialex, 2 thr | PyTorch, 2 thr | minialex, 1 thr | PyTorch, 1 thr |",
           "|---|---:|---:|---:|---:|---:|"]
    total_gflop, total_times = 0.0, [0.0] * 4
    for name, kw, shape in FIGURE1_CONVS:
        r2, r1 = (next(r for r in rows if r["name"] == name) for rows in (layers, convs1))
        gflop = conv_gflop(kw, shape, r2["batch"], r2["input_grad"])
        times = [r2["m_fb"][0], r2["t_fb"][0], r1["m_fb"][0], r1["t_fb"][0]]
        out.append(f"| {name} | {gflop:.2f} | " + " | ".join(f"{gflop / t:.0f}" for t in times) + " |")
        total_gflop += gflop
        total_times = [a + t for a, t in zip(total_times, times)]
    out.append(f"| **all three** | {total_gflop:.2f} | " + " | ".join(f"{total_gflop / t:.0f}" for t in total_times) + " |")
    return "\n".join(out)


def plot_memory(mem, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, style in (("minialex", "o-"), ("pytorch", "s--")):
        rows = sorted((r for r in mem if r["framework"] == name), key=lambda r: r["batch"])
        if rows:
            ax.plot([r["batch"] for r in rows], [r["peak_rss_mb"] for r in rows], style,
                    label="PyTorch" if name == "pytorch" else name)
    ax.set_xlabel("batch size")
    ax.set_ylabel("peak RSS (MiB)")
    ax.set_title("AlexNet training step: peak resident memory\n(measured, one process per point)", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def targets(layers, convs1, steps, steps1, mem):
    speed = lambda rows, net: next(r["pytorch"][0] / r["minialex"][0] for r in rows if r["net"] == net)

    def worst(rows):
        r = max((r for r in rows if r["name"].startswith("conv")), key=lambda r: r["m_fb"][0] / r["t_fb"][0])
        return r["m_fb"][0] / r["t_fb"][0], r["name"]
    m32 = {r["framework"]: r["peak_rss_mb"] for r in mem if r["batch"] == 32}
    (conv, conv_name), (conv1, conv1_name) = worst(layers), worst(convs1)
    v = dict(alex=speed(steps, "alexnet"), fig1=speed(steps, "figure1"), alex1=speed(steps1, "alexnet"),
             fig11=speed(steps1, "figure1"), conv=conv, conv_name=conv_name, conv1=conv1, conv1_name=conv1_name,
             mem=m32["minialex"] / m32["pytorch"])
    yes = lambda ok: "yes" if ok else "**no**"
    return TARGETS.format(**v, threads=THREADS, alex_ok=yes(v["alex"] >= 0.8), fig1_ok=yes(v["fig1"] >= 0.8),
                          alex1_ok=yes(v["alex1"] >= 0.8), fig11_ok=yes(v["fig11"] >= 0.8),
                          conv_ok=yes(conv <= 1.3), conv1_ok=yes(conv1 <= 1.3), mem_ok=yes(v["mem"] <= 1.0))


def report(facts, layers, convs1, steps, steps1, mem, args, started, load_before, load_after, elapsed):
    lines = [
        "# minialex on the CPU, against PyTorch",
        "",
        f"Generated by `benchmarks/run_cpu.py` on {started:%Y-%m-%d %H:%M} UTC in {elapsed / 60:.1f} min "
        f"({args.repeats} timed rounds per AlexNet step, {FIGURE1_ROUNDS * args.repeats} per Figure-1 step, "
        f"{args.layer_repeats} per layer case). Rerun from the repository root with",
        "",
        "    python -m venv .venv-bench --system-site-packages",
        "    .venv-bench/bin/pip install torch==2.13.0",
        "    .venv-bench/bin/python benchmarks/run_cpu.py",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in facts.items()],
        f"| load average (1/5/15 min) before / after | {load_before} / {load_after} |",
        "",
        f"Both frameworks run float32 with {THREADS} threads (minialex: {THREADS} threads that share each layer's "
        f"batch chunks, each calling a single-threaded OpenBLAS, and OpenBLAS's own {THREADS} threads where a "
        f"layer's batch is a single chunk; `torch.set_num_threads({THREADS})`), on the same random data, in one "
        f"process, alternating call by call with a {SWITCH_PAUSE_S * 1e3:.0f} ms pause before each call (after a "
        "call, OpenBLAS's idle threads spin for about 0.1 s, and would take the cores from PyTorch's next call). "
        f"The machine may be shared: a load average above its {os.cpu_count()} cores means other jobs ran "
        "meanwhile, which inflates both columns, the medians most. Times are **min (median)**; ratios use the "
        "minima.",
        "",
        "## Targets",
        "",
        targets(layers, convs1, steps, steps1, mem),
        "How to read them: minialex's convolutions are OpenBLAS matrix products plus copies (im2col; "
        "for stride 1 and kernel rows of at least 64 values, the columns of one kernel row only, see "
        "minialex/fast/columns.py), a chunk of "
        f"a few images at a time, the chunks shared by {THREADS} threads; PyTorch runs oneDNN's direct "
        "convolutions. On AlexNet's large layers the products run near the core's peak and minialex "
        "keeps up, and its LRN (square roots instead of pow, cache-sized chunks) is several times "
        "faster than PyTorch's, which builds LRN from generic pooling ops: that is where the AlexNet "
        "step wins most. The Figure-1 network's layers are small (32-64 channels, 32/16/8 pixels): thin "
        "products (32 or 64 rows), on which OpenBLAS reaches a smaller share of the core's peak than on "
        "large ones (see \"BLAS products\" below): there minialex stays behind.",
        "",
        "## Training steps",
        "",
        "Forward, softmax cross-entropy, backward, SGD (momentum 0.9, weight decay 5e-4) on random data. "
        "AlexNet as in the paper (grouped conv2/4/5, LRN after relu1/relu2, 3x3 stride-2 max-pools, "
        "dropout 0.5), input 3x227x227; the Figure-1 network on 3x32x32. Speed ratio > 1: minialex faster.",
        "",
        bench_steps.table(steps),
        "",
        "The same steps with both frameworks on 1 thread: the work each does per core, which "
        "background load on the other core moves least.",
        "",
        bench_steps.table(steps1),
        "",
        "## Layers",
        "",
        "Milliseconds, min (median). Ratio = minialex / PyTorch time: below 1, minialex is faster. "
        "AlexNet layers at batch 32, Figure-1 convolutions (`fig1.*`) at batch 128. conv1 and fig1.conv1 "
        "compute no input gradient (on both sides), as in a network. PyTorch's LRN is given "
        "alpha = minialex alpha * size (it divides by size, minialex follows the paper).",
        "",
        bench_layers.table(layers),
        "",
        "The convolutions again with 1 thread each (the work per core; see above):",
        "",
        bench_layers.table(convs1),
        "",
        "The Figure-1 convolutions as arithmetic rates: GFLOP/s = the layer's multiply-adds (x2) over its "
        "minimum fwd+bwd time above. Set the 1-thread columns beside the \"BLAS products\" below: the rate "
        "OpenBLAS reaches on the bare products of these shapes bounds minialex's convolutions from above "
        "(they also copy columns and change layouts around the products), while PyTorch's direct "
        "convolutions are bound by no product.",
        "",
        conv_rate_table(layers, convs1),
        "",
        "## BLAS products",
        "",
        "NumPy's `matmul` on one thread, float32, the best of 5: a large square product against the "
        "products of the Figure-1 network's conv2 (32 kernels of 5x5x32, a chunk of 16 images of 16x16 "
        "pixels; by kernel rows, each of the 5 products has 5*32 = 160 rows of columns) and conv3 (64 "
        "kernels, a chunk of 64 images of 8x8 pixels).",
        "",
        blas_table(),
        "",
        "## Peak memory",
        "",
        "Peak resident set size (VmHWM in /proc/self/status) of a fresh process that builds AlexNet and runs 2 "
        "training steps; baseline = RSS after the imports. The minialex process never imports PyTorch.",
        "",
        bench_memory.table(mem),
        "",
        "![peak memory against batch size](benchmarks-memory.png)",
        "",
        "## Time per epoch (Figure-1 network)",
        "",
        "Derived, not measured per epoch: the minimum step times above (2 threads each, solid; 1 thread each, "
        "dotted) times the number of batches of 128 "
        "in an epoch; data loading and augmentation are left out.",
        "",
        "![time per epoch against data-set size](benchmarks-epoch-time.png)",
        "",
    ]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description="minialex vs PyTorch on the CPU")
    ap.add_argument("--repeats", type=int, default=4, help="timed rounds per AlexNet step (the Figure-1 step: 4x)")
    ap.add_argument("--layer-repeats", type=int, default=5, help="timed rounds per layer case")
    ap.add_argument("--quick", action="store_true", help="2 rounds (Figure-1 step: 8), memory at batch 32 only")
    ap.add_argument("--out", default=os.path.join(REPO, "results", "benchmarks-cpu.md"))
    args = ap.parse_args()
    if args.quick:
        args.repeats = args.layer_repeats = 2
    started, t0, load_before = datetime.datetime.now(datetime.timezone.utc), time.time(), load_average()
    torch = import_torch()
    facts = machine_facts(torch)
    if "OPENBLAS_CORETYPE" in facts:  # set by some machine images; it can halve the products' speed
        print(f"OPENBLAS_CORETYPE={facts['OPENBLAS_CORETYPE']}; `env -u OPENBLAS_CORETYPE` runs without it",
              flush=True)
    print("training steps", flush=True)
    rounds = {"alexnet": args.repeats, "figure1": FIGURE1_ROUNDS * args.repeats}
    steps = [bench_steps.run(torch, net, rounds[net]) for net in rounds]
    steps1 = [bench_steps.run(torch, net, rounds[net], threads=1) for net in rounds]
    print("layers", flush=True)
    layers = bench_layers.run(torch, args.layer_repeats)
    print("convolutions, 1 thread each", flush=True)
    convs1 = bench_layers.run(torch, args.layer_repeats, only=[name for name, _, _ in ALEXNET_CONVS + FIGURE1_CONVS],
                              threads=1)
    print("peak memory (one subprocess per point)", flush=True)
    mem = bench_memory.run((32,) if args.quick else (8, 16, 32))
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    plot_epoch_time(steps, steps1, os.path.join(out_dir, "benchmarks-epoch-time.png"))
    plot_memory(mem, os.path.join(out_dir, "benchmarks-memory.png"))
    text = report(facts, layers, convs1, steps, steps1, mem, args, started, load_before, load_average(), time.time() - t0)
    with open(args.out, "w") as f:
        f.write(text)
    print(f"\nwrote {args.out}\n")
    print(text[text.index("## Targets"):text.index("## Training steps")])


if __name__ == "__main__":
    sys.exit(main())
