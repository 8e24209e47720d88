"""Where a training step's time goes: each layer's forward and backward, inside the network.

    python benchmarks/profile_layers.py [--net figure1_net] [--batch 128] [--rounds 15]

minialex only (no PyTorch needed). Runs forward and backward of the whole
network ``--rounds`` times on random data, timing every layer's calls, with 1
thread and with all of them, and prints the minimum per layer (the least
disturbed by other jobs) as a Markdown table. How fast the matrix products
themselves run: the "BLAS products" table that run_cpu.py writes.
"""
import argparse
import time

import numpy as np

from common import ALEXNET_INPUT, FIGURE1_INPUT, threads
from minialex import models
from minialex.fast import chunks


def profile(net, x, rounds, pause=0.05):
    """-> {layer name: (min forward s, min backward s)} over ``rounds`` passes."""
    times = {name: ([], []) for name in net.names}
    for _ in range(rounds + 1):  # the first pass warms buffers and caches up
        time.sleep(pause)
        h = x
        for name, layer in zip(net.names, net.layers):
            t = time.perf_counter()
            h = layer.forward(h)
            times[name][0].append(time.perf_counter() - t)
        d = np.ones_like(h) / h.size
        for name, layer in reversed(list(zip(net.names, net.layers))):
            t = time.perf_counter()
            d = layer.backward(d)
            times[name][1].append(time.perf_counter() - t)
            if d is None:
                break
    return {name: (min(f[1:]), min(b[1:]) if len(b) > 1 else 0.0) for name, (f, b) in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", default="figure1_net", help="a builder of minialex.models (figure1_net, alexnet)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    net = getattr(models, args.net)()
    shape = ALEXNET_INPUT if args.net == "alexnet" else FIGURE1_INPUT
    x = np.random.default_rng(0).standard_normal((args.batch, *shape), dtype=np.float32)
    counts = sorted({1, chunks.threads()})
    results = {}
    for n in counts:
        with threads(n):
            results[n] = profile(net, x, args.rounds)
    print(f"{args.net}, batch {args.batch}: milliseconds per call, minimum of {args.rounds} passes\n")
    print("| layer | " + " | ".join(f"fwd ({n} thr) | bwd ({n} thr)" for n in counts) + " |")
    print("|---|" + "---:|---:|" * len(counts))
    for name in net.names:
        print(f"| {name} | " + " | ".join(f"{results[n][name][0] * 1e3:.1f} | {results[n][name][1] * 1e3:.1f}"
                                         for n in counts) + " |")
    print("| **sum** | " + " | ".join(f"{sum(v[0] for v in results[n].values()) * 1e3:.1f} | "
                                     f"{sum(v[1] for v in results[n].values()) * 1e3:.1f}" for n in counts) + " |")


if __name__ == "__main__":
    main()
