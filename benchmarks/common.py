"""Shared pieces of the CPU benchmarks: timing, machine facts, and the PyTorch
twins of minialex's networks.

Not a test and not part of the package: PyTorch is a benchmark-only
dependency. Run the benchmarks with the venv that has it:

    python -m venv .venv-bench --system-site-packages
    .venv-bench/bin/pip install torch==2.13.0
    .venv-bench/bin/python benchmarks/run_cpu.py

Fairness rules kept everywhere: float32 on both sides, 2 threads on both
sides, the same network (grouped conv2/4/5, LRN after relu1/relu2, 3x3/2
max-pools, dropout 0.5), no input gradient for the first convolution, and
minialex and PyTorch timed alternately in one process, so a background job
slows both alike. Each number is reported as min and median of the repeats.
"""
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import threadpoolctl

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

THREADS = 2
# A pause before each timed call: after a call OpenBLAS's worker threads spin
# (sched_yield) for about 2^28 cycles, 0.1 s here, before they sleep, and
# PyTorch's OpenMP threads spin briefly too; without the pause one library's
# idle threads would take the cores from the other's next call.
SWITCH_PAUSE_S = 0.15


def import_torch():
    import torch
    torch.set_num_threads(THREADS)
    return torch


class threads:
    """``with threads(n, torch):`` minialex's chunk threads, every BLAS (through
    threadpoolctl) and, if given, PyTorch's intra-op pool on n threads,
    restored after."""

    def __init__(self, n, torch=None):
        self.n, self.torch = n, torch

    def __enter__(self):
        from minialex.fast import chunks
        if self.torch is not None:
            self.old = self.torch.get_num_threads()
            self.torch.set_num_threads(self.n)
        self.old_chunks = chunks.set_threads(self.n)
        self.blas = threadpoolctl.threadpool_limits(limits=self.n, user_api="blas")

    def __exit__(self, *exc):
        from minialex.fast import chunks
        self.blas.unregister()
        if self.torch is not None:
            self.torch.set_num_threads(self.old)
        chunks.set_threads(self.old_chunks)


# ---------------------------------------------------------------- timing

def interleaved(cases, repeats, warmup=1, pause=SWITCH_PAUSE_S):
    """Time ``cases`` = {name: fn} alternately: warm-up calls, then ``repeats``
    rounds, each calling every fn once. -> {name: [seconds, ...]}."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            time.sleep(pause)
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def summary(ts):
    """(min, median) of a list of times."""
    return min(ts), statistics.median(ts)


# ---------------------------------------------------------------- machine

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_details():
    """family/model numbers, and cache sizes as the kernel reports them."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key = line.split(":", 1)[0].strip()
                if key in ("cpu family", "model", "cpu MHz") and key not in info:
                    info[key] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    caches = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    for idx in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        try:
            with open(f"{base}/{idx}/level") as f:
                level = f.read().strip()
            with open(f"{base}/{idx}/type") as f:
                kind = f.read().strip()
            with open(f"{base}/{idx}/size") as f:
                size = f.read().strip()
        except OSError:
            continue
        if kind != "Instruction":
            caches.append(f"L{level} {size}")
    return ", ".join(f"{k} {v}" for k, v in info.items()) + (f"; caches {', '.join(caches)}" if caches else "")


def load_average():
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in ("avx", "avx2", "fma", "avx512f") if f in flags]
    except OSError:
        pass
    return []


def numpy_blas():
    """A one-line description of NumPy's BLAS, and the kernel it runs."""
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        desc = f"{cfg.get('name')} {cfg.get('version')}"
        extra = cfg.get("openblas configuration", "")
    except Exception:  # older NumPy without mode="dicts"
        desc, extra = "unknown", ""
    info = [p for p in threadpoolctl.threadpool_info() if p.get("internal_api") == "openblas"]
    if info:
        p = info[0]
        desc += f"; threadpoolctl: {p.get('internal_api')} {p.get('version')}, " \
                f"kernel {p.get('architecture')}, {p.get('num_threads')} threads"
    if extra:
        desc += f" ({' '.join(extra.split())})"
    return desc


def _openblas_kernel():
    return next((p.get("architecture") for p in threadpoolctl.threadpool_info() if p.get("internal_api") == "openblas"),
                None)


def openblas_kernel_unforced():
    """The kernel OpenBLAS would pick for this CPU if OPENBLAS_CORETYPE did not
    name one, where that differs from the one it runs now; else None. (A machine
    image may set it, on a CPU that has better kernels: on an AVX-512 EPYC here,
    Haswell's made float32 products about half as fast as SkylakeX's.)"""
    if "OPENBLAS_CORETYPE" not in os.environ:
        return None
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    ask = f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); " \
          "import numpy, common; print(common._openblas_kernel())"
    try:
        picked = subprocess.run([sys.executable, "-c", ask], env=env, capture_output=True, text=True,
                                timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return picked if picked not in ("", "None", _openblas_kernel()) else None


def machine_facts(torch=None):
    from minialex.fast import chunks
    facts = {
        "CPU": cpu_model(),
        "CPU details": cpu_details(),
        "cores (os.cpu_count)": os.cpu_count(),
        "SIMD": " ".join(cpu_flags()),
        "Python": sys.version.split()[0],
        "NumPy": np.__version__,
        "NumPy BLAS": numpy_blas(),
        "minialex chunk threads": chunks.threads(),
    }
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if var in os.environ:
            facts[var] = os.environ[var]
    own_pick = openblas_kernel_unforced()
    if own_pick:
        facts["OPENBLAS_CORETYPE"] += (f" (without it OpenBLAS picks its {own_pick} kernels for this CPU: "
                                       "the matrix products here run below what the CPU can do)")
    if torch is not None:
        facts["PyTorch"] = torch.__version__
        facts["PyTorch threads"] = torch.get_num_threads()
        facts["PyTorch CPU capability"] = torch.backends.cpu.get_cpu_capability()
        facts["PyTorch BLAS / DNN"] = "MKL" + (", oneDNN" if torch.backends.mkldnn.is_available() else "")
    return facts


# ---------------------------------------------------------------- networks

ALEXNET_INPUT = (3, 227, 227)
FIGURE1_INPUT = (3, 32, 32)

# (name, minialex Conv2d kwargs, input shape without batch): AlexNet's five convolutions.
ALEXNET_CONVS = [
    ("conv1", dict(in_channels=3, out_channels=96, kernel_size=11, stride=4), (3, 227, 227)),
    ("conv2", dict(in_channels=96, out_channels=256, kernel_size=5, padding=2, groups=2), (96, 27, 27)),
    ("conv3", dict(in_channels=256, out_channels=384, kernel_size=3, padding=1), (256, 13, 13)),
    ("conv4", dict(in_channels=384, out_channels=384, kernel_size=3, padding=1, groups=2), (384, 13, 13)),
    ("conv5", dict(in_channels=384, out_channels=256, kernel_size=3, padding=1, groups=2), (384, 13, 13)),
]
# Figure-1 network's convolutions (batch 128), for the per-layer table.
FIGURE1_CONVS = [
    ("fig1.conv1", dict(in_channels=3, out_channels=32, kernel_size=5, padding=2), (3, 32, 32)),
    ("fig1.conv2", dict(in_channels=32, out_channels=32, kernel_size=5, padding=2), (32, 16, 16)),
    ("fig1.conv3", dict(in_channels=32, out_channels=64, kernel_size=5, padding=2), (32, 8, 8)),
]


# (name, input shape without batch): AlexNet's LRN and max-pool layers, for the per-layer tables.
ALEXNET_NORMS = [("norm1", (96, 55, 55)), ("norm2", (256, 27, 27))]
ALEXNET_POOLS = [("pool1", (96, 55, 55)), ("pool2", (256, 27, 27)), ("pool5", (256, 13, 13))]


def torch_conv(torch, kw):
    return torch.nn.Conv2d(kw["in_channels"], kw["out_channels"], kw["kernel_size"], stride=kw.get("stride", 1),
                           padding=kw.get("padding", 0), groups=kw.get("groups", 1))


def layer_pair(torch, name, rng):
    """minialex's layer ``name`` (from the lists above) and its PyTorch twin, with
    the same weights -> (layer, torch module, input shape without batch, whether
    the input needs a gradient). As in a network, the first convolution of each
    list computes no input gradient, on both sides. PyTorch's LRN is given
    alpha * size: it divides alpha by size, minialex (like the paper) does not."""
    from minialex.layers import Conv2d, LocalResponseNorm, MaxPool2d
    for convs in (ALEXNET_CONVS, FIGURE1_CONVS):
        for conv_name, kw, shape in convs:
            if conv_name == name:
                layer = Conv2d(**kw, rng=rng)
                layer.needs_input_grad = name != convs[0][0]
                twin = torch_conv(torch, kw)
                with torch.no_grad():
                    twin.weight.copy_(torch.from_numpy(layer.params["W"]))
                    twin.bias.copy_(torch.from_numpy(layer.params["b"]))
                return layer, twin, shape, layer.needs_input_grad
    shape = dict(ALEXNET_NORMS + ALEXNET_POOLS)[name]
    if name.startswith("norm"):
        return LocalResponseNorm(5, 1e-4, 0.75, 2.0), torch.nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0), shape, True
    return MaxPool2d(3, 2), torch.nn.MaxPool2d(3, 2), shape, True


def torch_alexnet(torch, num_classes=1000, lrn_size=5, lrn_alpha=1e-4, beta=0.75, k=2.0):
    """minialex.models.alexnet() in PyTorch. PyTorch divides LRN's alpha by
    ``size``, minialex (like the paper) does not: hence alpha * size."""
    nn = torch.nn
    lrn = lambda: nn.LocalResponseNorm(lrn_size, alpha=lrn_alpha * lrn_size, beta=beta, k=k)
    convs = [torch_conv(torch, kw) for _, kw, _ in ALEXNET_CONVS]
    return nn.Sequential(
        convs[0], nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        convs[1], nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        convs[2], nn.ReLU(), convs[3], nn.ReLU(), convs[4], nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, num_classes),
    )


def torch_figure1(torch, num_classes=10):
    """minialex.models.figure1_net() in PyTorch (ReLU, overlapping pools rounding up)."""
    nn = torch.nn
    conv = lambda cin, cout: nn.Conv2d(cin, cout, 5, padding=2)
    return nn.Sequential(
        conv(3, 32), nn.MaxPool2d(3, 2, ceil_mode=True), nn.ReLU(),
        conv(32, 32), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
        conv(32, 64), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
        nn.Flatten(), nn.Linear(64 * 4 * 4, num_classes),
    )


# ---------------------------------------------------------------- training steps

def batch(shape, n, num_classes, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *shape), dtype=np.float32)
    y = rng.integers(0, num_classes, n)
    return x, y


def minialex_step(model, x, y, lr=0.01):
    """One training step as minialex's trainer does it: forward, loss,
    backward, SGD with momentum and weight decay. -> a callable."""
    from minialex.layers import SoftmaxCrossEntropy
    from minialex.optim import SGD
    loss = SoftmaxCrossEntropy()
    opt = SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    model.train()

    def step():
        loss.forward(model.forward(x), y)
        model.backward(loss.backward())
        opt.step()
    return step


def torch_step(torch, model, x, y, lr=0.01, device="cpu"):
    """The same step in PyTorch (its SGD adds weight decay to the gradient
    instead; the cost is the same), with x and y on ``device``."""
    xt, yt = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    lossf = torch.nn.CrossEntropyLoss()
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        lossf(model(xt), yt).backward()
        opt.step()
    return step
