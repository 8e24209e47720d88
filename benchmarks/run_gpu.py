"""GPU benchmark of minialex (CuPy) against PyTorch + cuDNN: writes results/benchmarks-gpu.md.

    python benchmarks/run_gpu.py [--cifar DIR] [--repeats 10] [--batch 128] [--out results/benchmarks-gpu.md]

Needs CuPy and a CUDA build of PyTorch. Fairness rules: float32 on both sides
with TF32 off on both (CuPy's default; PyTorch told so for matrix products
and cuDNN), cuDNN allowed to pick its fastest algorithms (``benchmark=True``),
the same networks as the CPU benchmark, the frameworks timed alternately in
one process after warm-up calls (which also compile minialex's kernels and
let cuDNN choose), each timed call ending in a device synchronisation.
Reported: min and median of the rounds.

1. minialex's CUDA kernels against the same layers composed of CuPy
   operations (``MINIALEX_PATH=reference``), at AlexNet's sizes, batch 128;
2. every AlexNet convolution, norm1 and pool1, forward and forward+backward,
   minialex against PyTorch, batch 128;
3. whole training steps (forward, loss, backward, SGD with momentum and
   weight decay): AlexNet at batch 128, the Figure-1 network at batch 128;
4. one epoch of the Figure-1 network on CIFAR-10's 50,000 training images
   (``--cifar``; random images of the same size otherwise): minialex's
   Trainer, and a plain PyTorch loop doing the same per batch (uint8 batch
   to float, mean subtracted, to the GPU, step, loss and error read back).
"""
import argparse
import contextlib
import datetime
import os
import platform
import sys
import time

import numpy as np

import bench_layers
from minialex import dispatch
from bench_steps import NETS
from common import (ALEXNET_CONVS, REPO, batch, interleaved, layer_pair, minialex_step, summary, torch_figure1,
                    torch_step)


@contextlib.contextmanager
def cuda_kernels(on):
    """minialex's fast paths (the CUDA kernels) on, or every operation on its CuPy reference."""
    old = dispatch.set_path("fast" if on else "reference")
    try:
        yield
    finally:
        dispatch.set_path(old)


def synced(fn, torch, cupy, kernels=True):
    def call():
        with cuda_kernels(kernels):
            fn()
        cupy.cuda.Device().synchronize()
        torch.cuda.synchronize()
    return call


def time_cases(cases, torch, cupy, repeats):
    """{name: (fn, kernels on?)} -> {name: (min, median) seconds}, interleaved, 2 warm-up calls."""
    calls = {name: synced(fn, torch, cupy, k) for name, (fn, k) in cases.items()}
    return {k: summary(v) for k, v in interleaved(calls, repeats, warmup=2, pause=0).items()}


# ---------------------------------------------------------------- 1. kernels against composed CuPy

def kernel_rows(torch, cupy, repeats, n=128):
    from minialex.fast import columns, cuda_kernels
    from minialex.functional.sizes import conv_output_size
    rng = np.random.default_rng(0)
    rows = []
    for name, kw, shape in ALEXNET_CONVS[:2]:
        x = cupy.asarray(rng.standard_normal((n, *shape), dtype=np.float32))
        k, s, p, g = kw["kernel_size"], kw.get("stride", 1), kw.get("padding", 0), kw.get("groups", 1)
        o = conv_output_size(shape[1], k, s, p)
        cols = columns.im2col(x, k, k, s, p, o, o, g)
        # The same columns written by the CUDA kernel or by CuPy's strided-view copy (fast/columns.py).
        im2col = {True: lambda x=x, k=k, s=s, p=p, o=o, g=g, c=cols: cuda_kernels.im2col(x, k, k, s, p, o, o, g, c),
                  False: lambda x=x, k=k, s=s, p=p, o=o, g=g: columns.im2col(x, k, k, s, p, o, o, g)}
        col2im = {True: lambda c=cols, x=x, k=k, s=s, p=p, o=o, g=g: cuda_kernels.col2im(c, x.shape, k, k, s, p, o, o, g),
                  False: lambda c=cols, x=x, k=k, s=s, p=p, o=o, g=g: columns.col2im(c, x.shape, k, k, s, p, o, o, g)}
        rows += [(f"{name} im2col", im2col), (f"{name} col2im", col2im)]
    for name in ("pool1", "norm1"):
        layer, _, shape, _ = layer_pair(torch, name, rng)
        x = cupy.asarray(rng.standard_normal((n, *shape), dtype=np.float32))

        def fwd_bwd(layer=layer, x=x):
            out = layer.forward(x)
            layer.backward(out)
        forward = lambda layer=layer, x=x: layer.forward(x)  # noqa: E731
        rows += [(f"{name} forward", {True: forward, False: forward}),
                 (f"{name} forward+backward", {True: fwd_bwd, False: fwd_bwd})]
    out = []
    for case, fn in rows:
        t = time_cases({"kernel": (fn[True], True), "composed": (fn[False], False)}, torch, cupy, repeats)
        out.append({"case": case, **t})
        print(f"  {case:24s} kernel {t['kernel'][0] * 1e3:7.2f} ms, composed {t['composed'][0] * 1e3:7.2f} ms",
              flush=True)
    return out


# ---------------------------------------------------------------- 2. layers against PyTorch

def layer_rows(torch, cupy, repeats, n=128):
    rng = np.random.default_rng(0)
    out = []
    for name in [name for name, _, _ in ALEXNET_CONVS] + ["norm1", "pool1"]:
        layer, tlayer, shape, input_grad = layer_pair(torch, name, rng)
        layer, tlayer = layer.to("gpu"), tlayer.cuda()
        x = cupy.asarray(rng.standard_normal((n, *shape), dtype=np.float32))
        dout = cupy.asarray(rng.standard_normal(layer.forward(x).shape, dtype=np.float32))
        xt = torch.as_tensor(cupy.asnumpy(x), device="cuda").requires_grad_(input_grad)
        dt = torch.as_tensor(cupy.asnumpy(dout), device="cuda")

        def m_fb(layer=layer, x=x, dout=dout):
            layer.forward(x)
            layer.backward(dout)

        def t_fb(tlayer=tlayer, xt=xt, dt=dt):
            for p in tlayer.parameters():
                p.grad = None
            xt.grad = None
            tlayer(xt).backward(dt)
        t = time_cases({"m_fwd": (lambda layer=layer, x=x: layer.forward(x), True), "t_fwd": (lambda: tlayer(xt), True),
                        "m_fb": (m_fb, True), "t_fb": (t_fb, True)}, torch, cupy, repeats)
        out.append({"name": name, "batch": n, **t})
        print(f"  {name:6s} fwd {t['m_fwd'][0] * 1e3:7.2f} / {t['t_fwd'][0] * 1e3:7.2f} ms, fwd+bwd "
              f"{t['m_fb'][0] * 1e3:7.2f} / {t['t_fb'][0] * 1e3:7.2f} ms", flush=True)
    return out


# ---------------------------------------------------------------- 3. training steps

def step_rows(torch, cupy, repeats, n=128):
    from minialex import models
    out = []
    for net, (builder, tbuild, shape, classes, _) in NETS.items():
        x, y = batch(shape, n, classes)
        step = minialex_step(getattr(models, builder)().to("gpu"), cupy.asarray(x), cupy.asarray(y))
        tstep = torch_step(torch, tbuild(torch).cuda(), x, y, device="cuda")
        t = time_cases({"minialex": (step, True), "minialex, composed CuPy": (step, False), "pytorch": (tstep, True)},
                       torch, cupy, repeats)
        out.append({"net": net, "batch": n, **t})
        print(f"  {net} step: " + ", ".join(f"{k} {v[0] * 1e3:.1f} ms" for k, v in t.items()), flush=True)
    return out


# ---------------------------------------------------------------- 4. a Figure-1 epoch

def cifar_train_set(folder):
    from minialex.data import ArrayDataset, load_dataset
    if folder:
        return load_dataset("cifar10", folder)[0], "CIFAR-10 training set (50,000 images)"
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50000, 3, 32, 32), dtype=np.uint8)
    return ArrayDataset(images, rng.integers(0, 10, 50000), [str(i) for i in range(10)], "random"), \
        "50,000 random 3x32x32 images (no --cifar given)"


def epoch_rows(torch, cupy, folder, epochs=2):
    import tempfile
    from minialex.trainer import TrainConfig, Trainer
    train, what = cifar_train_set(folder)
    cfg = TrainConfig(model="figure1", activation="relu", lrn=False, dropout=0.0, epochs=epochs, batch_size=128,
                      lr=0.005, momentum=0.9, weight_decay=0.0, schedule="constant", augment=False, validate=False,
                      device="gpu")
    trainer = Trainer(cfg, tempfile.mkdtemp(), data=(train, train), progress=False, log=lambda *a: None)
    m_times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        trainer.train_epoch()
        trainer.epoch += 1
        cupy.cuda.Device().synchronize()
        m_times.append(time.perf_counter() - t0)

    model = torch_figure1(torch).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    mean = train.images.mean(axis=0, dtype=np.float64).astype(np.float32)
    t_times = []
    for epoch in range(epochs):
        order = np.random.default_rng(epoch).permutation(len(train))
        t0 = time.perf_counter()
        for i in range(0, len(order), 128):
            idx = order[i:i + 128]
            x = torch.as_tensor(train.images[idx].astype(np.float32) - mean, device="cuda")
            y = torch.as_tensor(train.labels[idx], device="cuda")
            opt.zero_grad(set_to_none=True)
            logits = model(x)
            loss = lossf(logits, y)
            loss.backward()
            opt.step()
            loss.item(), int((logits.argmax(1) != y).sum())
        torch.cuda.synchronize()
        t_times.append(time.perf_counter() - t0)
    print(f"  figure1 epoch: minialex {m_times} s, PyTorch {t_times} s", flush=True)
    return {"data": what, "minialex": m_times, "pytorch": t_times}


# ---------------------------------------------------------------- report

def gpu_memory(torch, cupy):
    pool = cupy.get_default_memory_pool()
    return {"minialex (CuPy pool held)": pool.total_bytes(), "PyTorch (max reserved)": torch.cuda.max_memory_reserved()}


def report(torch, cupy, kernels, layers, steps, epoch, memory, n, seconds):
    ms = lambda t: f"{t[0] * 1e3:.2f} ({t[1] * 1e3:.2f})"
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    alex = next(r for r in steps if r["net"] == "alexnet")
    fig1 = next(r for r in steps if r["net"] == "figure1")
    speed = lambda r: r["pytorch"][0] / r["minialex"][0]
    lines = [
        "# minialex on the GPU against PyTorch + cuDNN",
        "",
        f"Written by `python benchmarks/run_gpu.py{' --cifar DIR' if 'CIFAR' in epoch['data'] else ''}` on "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC in {seconds:.0f} s.",
        "",
        "| | |", "|---|---|",
        f"| GPU | {name} ({props['totalGlobalMem'] / 2**30:.0f} GiB) |",
        f"| CUDA runtime / driver | {cupy.cuda.runtime.runtimeGetVersion()} / {cupy.cuda.runtime.driverGetVersion()} |",
        f"| CuPy | {cupy.__version__} |",
        f"| PyTorch | {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, cudnn.benchmark on |",
        f"| NumPy / Python | {np.__version__} / {platform.python_version()} |",
        "| precision | float32 on both sides; TF32 off on both (CuPy default, "
        "`torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False`) |",
        "",
        "Times in ms: minimum (median) of the rounds, each round ending in a device synchronisation.",
        "",
        "## Targets",
        "",
        "| target | result | met? |", "|---|---|---|",
        f"| AlexNet training images/s >= 0.5x PyTorch + cuDNN (batch {n}, float32) | "
        f"{speed(alex):.2f}x ({n / alex['minialex'][0]:.0f} vs {n / alex['pytorch'][0]:.0f} images/s) | "
        f"{'yes' if speed(alex) >= 0.5 else 'no'} |",
        f"| Figure-1 network: a CIFAR-10 epoch in seconds (< 60 s) | {min(epoch['minialex']):.1f} s "
        f"(PyTorch loop: {min(epoch['pytorch']):.1f} s) | {'yes' if min(epoch['minialex']) < 60 else 'no'} |",
        "",
        f"## Training steps, batch {n}",
        "",
        "| network | minialex (CUDA kernels) | minialex, composed CuPy only | PyTorch + cuDNN | "
        "minialex images/s | PyTorch images/s | speed ratio (minialex / PyTorch) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in steps:
        lines.append(f"| {r['net']} | {ms(r['minialex'])} | {ms(r['minialex, composed CuPy'])} | {ms(r['pytorch'])} | "
                     f"{n / r['minialex'][0]:.0f} | {n / r['pytorch'][0]:.0f} | {speed(r):.2f} |")
    lines += ["", f"Figure-1 step speed ratio: {speed(fig1):.2f}.", "",
              "## A Figure-1 epoch (50,000 images, batch 128)", "",
              f"Data: {epoch['data']}. Every epoch of the run, in seconds (the first includes compiling and "
              "warming up):", "",
              "| | " + " | ".join(f"epoch {i + 1}" for i in range(len(epoch["minialex"]))) + " |",
              "|---|" + "---:|" * len(epoch["minialex"]),
              "| minialex `Trainer` | " + " | ".join(f"{t:.2f}" for t in epoch["minialex"]) + " |",
              "| PyTorch loop | " + " | ".join(f"{t:.2f}" for t in epoch["pytorch"]) + " |",
              "", f"## Layers, batch {n}: minialex against PyTorch + cuDNN", "",
              "conv1 computes no input gradient (as in the network), on both sides.", "",
              bench_layers.table(layers, digits=2)]
    lines += ["", "ratio = minialex time / PyTorch time (lower is better for minialex).", "",
              "## minialex's CUDA kernels against the same layers composed of CuPy operations", "",
              f"AlexNet's sizes, batch {n} (the composed path is `MINIALEX_PATH=reference`; im2col/col2im composed: CuPy's strided-view copy).", "",
              "| case | CUDA kernel | composed CuPy | speed-up |", "|---|---:|---:|---:|"]
    for r in kernels:
        lines.append(f"| {r['case']} | {ms(r['kernel'])} | {ms(r['composed'])} | "
                     f"{r['composed'][0] / r['kernel'][0]:.1f}x |")
    lines += ["", "## GPU memory after the runs above", "",
              "Not a like-for-like peak: CuPy's pool keeps every block it ever allocated, PyTorch reports "
              "its caching allocator's high-water mark.", "", "| | GiB |", "|---|---:|"]
    lines += [f"| {k} | {v / 2**30:.2f} |" for k, v in memory.items()]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cifar", help="folder holding cifar-10-batches-py, for the epoch timing")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128, help="batch of the layer and step timings")
    ap.add_argument("--out", default=os.path.join(REPO, "results", "benchmarks-gpu.md"))
    args = ap.parse_args()
    import cupy
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    if dispatch.path() != "fast":
        sys.exit("MINIALEX_PATH=reference: this benchmark times minialex's CUDA kernels (and switches them off "
                 "itself for the composed CuPy column); unset it")
    if os.environ.get("CUPY_TF32", "0") != "0":
        sys.exit("unset CUPY_TF32: the comparison is float32 without TF32 on both sides")
    t0 = time.perf_counter()
    print("minialex CUDA kernels against composed CuPy:", flush=True)
    kernels = kernel_rows(torch, cupy, args.repeats, args.batch)
    print("layers:", flush=True)
    layers = layer_rows(torch, cupy, args.repeats, args.batch)
    print("training steps:", flush=True)
    steps = step_rows(torch, cupy, args.repeats, args.batch)
    memory = gpu_memory(torch, cupy)
    print("Figure-1 epoch:", flush=True)
    epoch = epoch_rows(torch, cupy, args.cifar)
    text = report(torch, cupy, kernels, layers, steps, epoch, memory, args.batch, time.perf_counter() - t0)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
