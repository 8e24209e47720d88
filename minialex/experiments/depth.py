"""Section 7's depth claim on the Figure 1 network: take the middle convolution out.

    python -m minialex.experiments.depth --seeds 5 --out results/depth

The paper: "removing any of the middle layers results in a loss of about 2% for
the top-1 performance of the network". Lesson 11 trains the Figure 1 network on
the embedded Fashion-MNIST sample (6,000 training and 1,000 test images, random
24x24 crops and mirrors, SGD with momentum 0.9 and weight decay 5e-4, 4 epochs of
batches of 64) and tests it on the paper's ten patches. This trains it with and
without conv2 (and its ReLU; conv1 and conv2 both output 32 channels, so nothing
else changes) from each of ``--seeds`` seeds, and writes ``depth.json``: per seed
the two top-1 errors, their paired difference and its standard error. One seed
measures the test images' sampling only; several measure how much the gap moves
from one training run to the next, which is what decides the claim.
"""
import argparse
import json
import os
import time

import numpy as np

from ..data import load_embedded, mean_image, minibatches, random_crop_flip, ten_crop
from ..files import atomic_write
from ..layers import Sequential, SoftmaxCrossEntropy
from ..models import figure1_net
from ..optim import SGD

CROP, EPOCHS, BATCH = 24, 4, 64


def without_conv2(net):
    """The same network with its middle convolution and that convolution's ReLU taken out."""
    kept = [(name, layer) for name, layer in zip(net.names, net.layers) if name not in ("conv2", "act2")]
    return Sequential(*[layer for _, layer in kept], names=[name for name, _ in kept])


def fit(net, train, mean, seed=0, epochs=EPOCHS):
    """The paper's SGD on random CROP x CROP patches (mirrored half the time) of the mean-centred images."""
    sgd, loss, rng = SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4), SoftmaxCrossEntropy(), \
        np.random.default_rng(seed)
    for epoch in range(epochs):
        for images, labels in minibatches(train, BATCH, seed=seed, epoch=epoch):
            x = np.ascontiguousarray(random_crop_flip(images.astype(np.float32) - mean, CROP, rng))
            loss.forward(net.forward(x), labels)
            net.backward(loss.backward())
            sgd.step()
    return net


def probabilities(net, views):
    """The softmax outputs averaged over views (V, N, C, CROP, CROP) of the test images -> (N, classes)."""
    net.eval()
    total = 0
    for view in views:
        z = net.forward(np.ascontiguousarray(view)).astype(np.float64)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        total = total + e / e.sum(axis=1, keepdims=True)
    net.train()
    return total / len(views)


def top_k_wrong(probs, labels, k):
    """Per image: True where the label is not among the k most probable classes."""
    return (np.argsort(-probs, axis=1)[:, :k] != labels[:, None]).all(axis=1)


def paired(wrong_a, wrong_b):
    """(difference of the error rates a - b, its standard error) from the per-image outcomes."""
    d = wrong_a.astype(float) - wrong_b.astype(float)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


def one_seed(seed, train, test, mean):
    """One seed's row of depth.json: the network trained with and without conv2 from the same initial
    weights and batches, both tested on the ten patches of the same (N, 1, 28, 28) test images."""
    x_test = test.images.astype(np.float32) - mean
    views = ten_crop(x_test, CROP)
    wrong = {}
    for name, make in (("with conv2", lambda net: net), ("without conv2", without_conv2)):
        net = fit(make(figure1_net(in_channels=1, input_size=CROP, seed=seed)), train, mean, seed)
        wrong[name] = top_k_wrong(probabilities(net, views), test.labels, 1)
    diff, se = paired(wrong["without conv2"], wrong["with conv2"])
    return {"seed": seed, "top1_with_conv2": float(wrong["with conv2"].mean()),
            "top1_without_conv2": float(wrong["without conv2"].mean()), "difference": diff, "paired_se": se}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m minialex.experiments.depth", description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5, help="seeds 0 .. SEEDS-1 (default 5)")
    p.add_argument("--out", default="runs/depth")
    args = p.parse_args(argv)
    if args.seeds < 2:
        p.error("--seeds must be at least 2: the spread between seeds is what this measures")
    train, test = load_embedded()
    mean = mean_image(train.images)
    rows, tick = [], time.perf_counter()
    for seed in range(args.seeds):
        rows.append(one_seed(seed, train, test, mean))
        r = rows[-1]
        print(f"seed {seed}: top-1 error (ten patches) with conv2 {r['top1_with_conv2']:.3f}, without "
              f"{r['top1_without_conv2']:.3f}; difference {r['difference']:+.3f} +/- {r['paired_se']:.3f}", flush=True)
    diffs = np.array([r["difference"] for r in rows])
    summary = {"mean_difference": float(diffs.mean()), "sd_between_seeds": float(diffs.std(ddof=1)),
               "se_of_mean": float(diffs.std(ddof=1) / np.sqrt(len(diffs)))}
    result = {"what": "top-1 error (ten patches) of the Figure 1 network without conv2 minus with it",
              "data": "embedded Fashion-MNIST sample: 6,000 training, 1,000 test images",
              "recipe": f"{EPOCHS} epochs, batch {BATCH}, SGD lr 0.01 momentum 0.9 weight decay 5e-4, "
                        f"random {CROP}x{CROP} crops and mirrors",
              "command": f"python -m minialex.experiments.depth --seeds {args.seeds} --out {args.out}",
              "seconds": round(time.perf_counter() - tick), "seeds": rows, **summary}
    os.makedirs(args.out, exist_ok=True)
    with atomic_write(os.path.join(args.out, "depth.json")) as f:
        f.write((json.dumps(result, indent=1) + "\n").encode())
    print(f"mean difference over {len(rows)} seeds {summary['mean_difference']:+.4f} "
          f"(sd between seeds {summary['sd_between_seeds']:.4f}, se of the mean {summary['se_of_mean']:.4f}); "
          f"wrote {os.path.join(args.out, 'depth.json')}")


if __name__ == "__main__":
    main()
