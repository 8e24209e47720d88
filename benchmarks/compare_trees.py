"""The CPU layers alone, in two checkouts of minialex, side by side: is a change slower?

    git worktree add /tmp/before <commit>
    python benchmarks/compare_trees.py /tmp/before . --rounds 3 --out results/NAME.md

Each layer that the fast paths cover without a matrix product (max and average
pooling, LRN, ReLU, tanh, dropout) runs alone at batch 128 on AlexNet's
first-layer maps (96 x 55 x 55) and the Figure-1 net's (32 x 32 x 32), in a
fresh process per tree, per thread count and per round, the trees
alternating, so that a machine that slows down slows both. A process keeps
the minimum of 7 calls; the table gives the minimum and the median over the
rounds, and the page faults a call (the median over the rounds). (run_cpu.py times the convolutions, the whole training steps and
PyTorch; compare_cpu.py puts two of its reports side by side.)

A tree is imported from its own directory, and its thread count is set in
its own chunks module (minialex/fast/chunks.py, or minialex/layers/chunks.py
before commit 53d9d08): setting it in one tree's module leaves the other on
every core, which looks like a 2x slowdown that is not there.

The children run with glibc's trimming off (MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_):
by default the allocator may hand a freed chunk's pages back to the system
between two calls, and the next call then faults every page in again. Which
calls it does this to depends on the heap's past, not on the code: the same
LRN backward (AlexNet's maps, batch 128, 2 threads) took 61 ms in a process
that ran only LRN, and 196 ms, with 140,000 page faults a call, in one that
had run the pooling layers first. ``--malloc default`` leaves glibc as it is
(the table then measures that luck too); the whole training steps of
bench_steps.py do not move either way.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

SHAPES = {"AlexNet 96x55x55": (128, 96, 55, 55), "Figure-1 32x32x32": (128, 32, 32, 32)}


# (name, how to build it from a tree's minialex.layers and a NumPy generator)
LAYERS = [("MaxPool2d(3, 2, ceil)", lambda nn, rng: nn.MaxPool2d(3, 2, ceil_mode=True)),
          ("AvgPool2d(3, 2, ceil)", lambda nn, rng: nn.AvgPool2d(3, 2, ceil_mode=True)),
          ("LocalResponseNorm", lambda nn, rng: nn.LocalResponseNorm()),
          ("ReLU", lambda nn, rng: nn.ReLU()), ("Tanh", lambda nn, rng: nn.Tanh()),
          ("Dropout(0.5)", lambda nn, rng: nn.Dropout(0.5, rng=rng))]


def chosen(names):
    """The LAYERS whose names start with one of ``names`` (all for none)."""
    return [(name, build) for name, build in LAYERS if not names or any(name.startswith(n) for n in names)]


def time_tree(tree, threads, names):
    """In this process: import minialex from ``tree``, print
    'shape|layer|fwd ms|bwd ms|fwd faults|bwd faults' lines (page faults per call)."""
    import resource

    import numpy as np
    sys.path.insert(0, tree)
    import minialex.layers as nn
    if not nn.__file__.startswith(os.path.join(os.path.abspath(tree), "")):
        raise SystemExit(f"imported minialex from {nn.__file__}, not from {tree}")
    if os.path.isdir(os.path.join(tree, "minialex", "fast")):
        from minialex.fast import chunks
    else:
        from minialex.layers import chunks
    chunks.set_threads(threads)

    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    rng = np.random.default_rng(0)
    for shape_name, shape in SHAPES.items():
        x = rng.standard_normal(shape).astype(np.float32)
        for name, build in chosen(names):
            layer = build(nn, np.random.default_rng(0))
            out = layer.forward(x)
            dout = np.ones_like(out)
            layer.backward(dout)
            times, counts = {"fwd": [], "bwd": []}, {"fwd": 0, "bwd": 0}
            for _ in range(7):
                for pass_, call in (("fwd", lambda: layer.forward(x)), ("bwd", lambda: layer.backward(dout))):
                    before, started = faults(), time.perf_counter()
                    call()
                    times[pass_].append(time.perf_counter() - started)
                    counts[pass_] += faults() - before
            print(f"{shape_name}|{name}|{1e3 * min(times['fwd']):.2f}|{1e3 * min(times['bwd']):.2f}"
                  f"|{counts['fwd'] / 7:.0f}|{counts['bwd'] / 7:.0f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", nargs="?", help="the checkout before the change")
    parser.add_argument("after", nargs="?", help="the checkout after it")
    parser.add_argument("--rounds", type=int, default=3, help="processes per tree and thread count")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--layers", nargs="+", default=[], metavar="NAME",
                        help="only the layers whose names start so: " + ", ".join(name for name, _ in LAYERS))
    parser.add_argument("--malloc", choices=["steady", "default"], default="steady",
                        help="steady: glibc's trimming off in the children (see above); default: as glibc comes")
    parser.add_argument("--out", help="write the markdown table here as well")
    parser.add_argument("--child", nargs=2, metavar=("TREE", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return time_tree(args.child[0], int(args.child[1]), args.layers)
    if not (args.before and args.after):
        parser.error("give two checkouts: BEFORE AFTER (for example a `git worktree add` of the old commit, and .)")
    unknown = [n for n in args.layers if not chosen([n])]
    if unknown:
        parser.error(f"--layers: no layer is called {' or '.join(unknown)}; "
                     f"the layers are {', '.join(name for name, _ in LAYERS)}")
    trees = [os.path.abspath(args.before), os.path.abspath(args.after)]
    env = dict(os.environ)
    if args.malloc == "steady":
        env.update(MALLOC_TRIM_THRESHOLD_=str(1 << 30), MALLOC_TOP_PAD_=str(64 << 20))
    times, faults = {}, {}  # (threads, shape, layer, pass, tree index) -> [ms, or page faults a call, per round]
    runs = [(threads, t, tree) for _ in range(args.rounds) for threads in args.threads for t, tree in enumerate(trees)]
    for done, (threads, t, tree) in enumerate(runs, 1):
        print(f"[{done}/{len(runs)}] {tree}, {threads} thread(s)", file=sys.stderr, flush=True)
        child = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", tree, str(threads),
                                *(["--layers", *args.layers] if args.layers else [])],
                               capture_output=True, text=True, cwd="/", env=env)
        if child.returncode:
            raise SystemExit(f"timing the layers of {tree} failed:\n{child.stderr.strip()}")
        for line in child.stdout.splitlines():
            shape, name, fwd, bwd, fwd_faults, bwd_faults = line.split("|")
            for pass_, ms, count in (("fwd", fwd, fwd_faults), ("bwd", bwd, bwd_faults)):
                times.setdefault((threads, shape, name, pass_, t), []).append(float(ms))
                faults.setdefault((threads, shape, name, pass_, t), []).append(int(count))
    report = [(f"Layers alone, batch 128 float32, ms: minimum (median) of {args.rounds} processes per tree, "
               f"each the minimum of 7 calls; glibc malloc: {args.malloc}."), f"Before: `{trees[0]}`; after: `{trees[1]}`.", "",
              ("| threads | input | layer | pass | before | after | after / before "
               "| page faults a call, before | after |"), "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for (threads, shape, name, pass_, t), before in times.items():
        if t == 0:
            after = times[(threads, shape, name, pass_, 1)]
            counts = [statistics.median(faults[(threads, shape, name, pass_, i)]) for i in (0, 1)]
            report.append(f"| {threads} | {shape} | {name} | {pass_} | {min(before):.1f} ({statistics.median(before):.1f}) "
                          f"| {min(after):.1f} ({statistics.median(after):.1f}) | {min(after) / min(before):.2f} "
                          f"| {counts[0]:.0f} | {counts[1]:.0f} |")
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    sys.exit(main())
