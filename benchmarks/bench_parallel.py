"""AlexNet on two processes: what each scheme sends per training step, and how long a step takes.

    python benchmarks/bench_parallel.py [--batch 32] [--steps 3] [--note TEXT]    # writes results/parallel.md

1. Bytes each process sends per step, for the paper's AlexNet (1000 classes, float32):
   computed from the layer shapes, and measured by the communicator's counter
   (``Communicator.bytes_sent``, ring-algorithm bytes) during real steps.
   --parallel data all-reduces every gradient; --parallel model exchanges the
   activations into conv3, fc6, fc7 and fc8 and their gradients (minialex/distributed).
2. Step time on this machine: one process on 2 threads, against two processes
   on 1 thread each, started by mpiexec (data: 16 of the 32 images each;
   model: half of every layer each, on all 32 images).

A step = what the Trainer does per batch: forward, loss, backward, the hooks'
exchanges, the SGD update, the stop agreement. Not a test, no PyTorch needed.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import types

import numpy as np

import common

RESULT = os.path.join(common.REPO, "results", "parallel.md")
CLASSES, ITEM = 1000, 4  # the paper's classes; float32


def computed_bytes(batch, p=2):
    """{scheme: bytes one process sends per step}, from AlexNet's shapes, for p processes."""
    from minialex.models import alexnet
    from minialex.summary import summary
    rows, _ = summary(alexnet(CLASSES), (3, 227, 227))
    values = {name: int(np.prod(shape)) for name, _, shape, *_ in rows}  # per image, the whole layer
    params = sum(p for _, _, _, p, *_ in rows)
    ring = (p - 1) / p
    agree = (p - 1) * 8  # the stop agreement: one int64 all-gathered
    # Data: every gradient plus the loss and error count, all-reduced (2 (p-1)/p S).
    data = 2 * ring * (params + 2) * ITEM + agree
    # Model: into conv3, fc6 and fc7 an all-gather of this process's part forward ((p-1) S/p) and a
    # reduce-scatter of the gradient backward ((p-1)/p S); into fc8 an all-reduce of the partial logits.
    gathered = values["pool2"] + values["flatten"] + values["relu6"]
    model = batch * ITEM * (2 * ring * gathered + 2 * ring * values["fc8"]) + agree
    return {"data": data, "model": model}


def worker(kind, batch, steps):
    """Time ``steps`` steps (after one warm-up) of AlexNet under ``kind``; one JSON line from process 0."""
    from minialex.distributed import make_parallel
    from minialex.layers import SoftmaxCrossEntropy
    from minialex.models import alexnet
    from minialex.optim import SGD
    parallel = make_parallel(kind)
    comm = getattr(parallel, "comm", None)
    model = parallel.model(alexnet(CLASSES))
    optimizer, loss_fn = SGD(model.parameters()), SoftmaxCrossEntropy()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 227, 227), dtype=np.float32)
    y = rng.integers(0, CLASSES, size=batch)
    no_signal = types.SimpleNamespace(signal_received=None)
    times = []
    for step in range(steps + 1):
        if comm is not None:
            comm.barrier()
            if step == 1:  # count from the first timed step: the warm-up includes the start's broadcasts
                sent, calls = comm.bytes_sent, dict(comm.calls)
        tick = time.perf_counter()
        rows = parallel.shard(batch)
        logits = model.forward(x[rows])
        loss = float(loss_fn.forward(logits, y[rows]))
        model.backward(loss_fn.backward())
        parallel.reduce(loss, int((logits.argmax(axis=1) != y[rows]).sum()))
        optimizer.step()
        parallel.agree(no_signal)
        times.append(time.perf_counter() - tick)
    if parallel.is_main:
        result = {"kind": kind, "times": times[1:]}
        if comm is not None:
            result["bytes_per_step"] = (comm.bytes_sent - sent) / steps
            result["calls_per_step"] = {k: (v - calls.get(k, 0)) / steps for k, v in comm.calls.items()
                                        if v - calls.get(k, 0)}
        print("RESULT " + json.dumps(result), flush=True)


def launch(kind, batch, steps, processes, threads):
    """Run ``worker`` in ``processes`` processes of ``threads`` threads; its result."""
    env = {**os.environ, "MINIALEX_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MINIALEX_DEVICE": "cpu"}
    command = [sys.executable, __file__, "--worker", kind, "--batch", str(batch), "--steps", str(steps)]
    if processes > 1:
        command = [os.path.join(os.path.dirname(sys.executable), "mpiexec"), "-n", str(processes)] + command
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])


def report(batch, steps, computed, runs, started, load_before, note):
    mb = lambda b: f"{b / 1e6:,.1f} MB"
    one = common.summary(runs["none"]["times"])
    lines = [
        "# AlexNet on two processes: bytes sent and step time",
        "",
        f"Generated by `benchmarks/bench_parallel.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))} "
        f"in {(time.time() - started) / 60:.1f} min. Rerun from the repository root with",
        "",
        "    pip install -e \".[mpi]\"",
        "    python " + " ".join(shlex.quote(arg) for arg in sys.argv),
        "",
        f"Machine: {common.cpu_model()}, {os.cpu_count()} cores; load average (1/5/15 min) before "
        f"{load_before} (other work), after {common.load_average()} (this benchmark's included). {note}",
        "",
        f"## Bytes each process sends per step (AlexNet, 1000 classes, float32, batch {batch})",
        "",
        "Counted as in the ring algorithms NCCL uses (`minialex/distributed/comm.py`): with 2 processes, "
        "what one process hands the other. Computed from the layer shapes; measured by counting in the "
        "communicator during the timed steps.",
        "",
        "| scheme | what is exchanged | computed | measured | collectives per step |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    what = {"data": "every gradient (60,965,224 values) plus the loss and error count, one all-reduce",
            "model": "activations into conv3, fc6, fc7 (all-gather) and their gradients (reduce-scatter), "
                     "fc8's partial logits (all-reduce)"}
    for kind in ("data", "model"):
        r = runs[kind]
        calls = ", ".join(f"{k} {v:g}" for k, v in sorted(r["calls_per_step"].items()))
        lines.append(f"| `--parallel {kind}` | {what[kind]} | {mb(computed[kind])} | {mb(r['bytes_per_step'])} | "
                     f"{calls} |")
    per_image = (computed["model"] - 8) / batch
    lines += [
        "",
        f"(Both include the stop agreement, one 8-byte all-gather per step.) The split's traffic grows with "
        f"the batch, {per_image / 1e3:,.0f} kB per image, and data parallelism's with the number of weights: "
        f"they are equal at about {computed['data'] / per_image:,.0f} images per step. At the paper's batch "
        f"of 128 the split sends {mb(128 * per_image + 8)} per step and process, data parallelism "
        f"{mb(computed['data'])}.",
        "",
        f"## Step time, batch {batch} (min, median of {steps} steps after a warm-up)",
        "",
        "| run | seconds per step | images/s | against 1 process x 2 threads |",
        "| --- | ---: | ---: | ---: |",
        f"| 1 process x 2 threads | {one[0]:.2f} ({one[1]:.2f}) | {batch / one[0]:.1f} | 1.00x |",
    ]
    for kind in ("data", "model"):
        t = common.summary(runs[kind]["times"])
        lines.append(f"| 2 processes x 1 thread, `--parallel {kind}` | {t[0]:.2f} ({t[1]:.2f}) | "
                     f"{batch / t[0]:.1f} | {one[0] / t[0]:.2f}x |")
    lines += [
        "",
        "On one machine the two processes share the two cores that one process of two threads uses; what "
        "differs is which work keeps both cores busy. One process runs the layers' batch chunks on two "
        "threads, but the SGD update of all 61 M weights (NumPy, one thread) on one. The model split has "
        "each process update only its half, so the update too runs on both cores, and each process "
        "computes its half of every layer on the whole batch, waiting for the other at each exchange. Data "
        "parallelism repeats the whole update in each process and adds the all-reduce of 244 MB, here "
        "through shared memory.",
        "",
    ]
    with open(RESULT, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--note", default="", help="a sentence for the results file, e.g. what else ran meanwhile")
    ap.add_argument("--worker", choices=["none", "data", "model"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.batch, a.steps)
    started, load_before = time.time(), common.load_average()
    runs = {"none": launch("none", a.batch, a.steps, 1, 2)}
    for kind in ("data", "model"):
        runs[kind] = launch(kind, a.batch, a.steps, 2, 1)
        print(f"{kind}: {runs[kind]}", flush=True)
    report(a.batch, a.steps, computed_bytes(a.batch), runs, started, load_before, a.note)


if __name__ == "__main__":
    main()
