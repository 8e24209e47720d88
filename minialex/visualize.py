"""Pictures of what a trained network learned (paper section 6.1), as PNG files.

    python -m minialex.visualize kernels RUN_DIR              # Figure 3: first-layer kernels
    python -m minialex.visualize predictions RUN_DIR --n 8    # Figure 4 left: top-5 predictions
    python -m minialex.visualize neighbours RUN_DIR --n 5 --k 6   # Figure 4 right: nearest neighbours

RUN_DIR is a run directory written by ``python -m minialex.train`` (it holds
``checkpoint.npz`` or ``model.npz``), or a weights file: a run's ``model.npz``,
``minialex.save``'s, or the real AlexNet's from ``python -m minialex.convert``
(``kernels`` only: it names no data set). Each command writes
RUN_DIR/<command>.png (beside a weights file, NAME-<command>.png) unless
``--out`` says otherwise. The network comes from that file alone
(``load_saved_model``), so ``kernels`` reads no data, ``predictions`` only the
validation images, and ``neighbours`` the training images too. ``load_run``
gives a run's whole ``Trainer``, its data sets loaded.

The library functions behind the commands work on any ``Sequential``:
``plot_kernels``, ``plot_predictions``, ``plot_neighbours``, ``features`` (the
last hidden layer's activations; ``image_features`` for uint8 images) and
``nearest_neighbours``.
"""
import argparse
import math
import os
import sys

from matplotlib.figure import Figure  # no pyplot: never touches the backend of a notebook
import numpy as np

from .backend import default_device, device_of, to_device, to_numpy
from .data import load_dataset
from .config import HelpFormatter
from .data.batches import model_input
from .evaluation import load_validation_set
from .layers import Conv2d, Linear
from .functional import softmax

DPI = 80
COMMANDS = ("kernels", "predictions", "neighbours")


# -- loading a run ------------------------------------------------------------------


def load_run(run_dir, device=None):
    """The ``Trainer`` of a run directory, its model restored from ``checkpoint.npz``
    and its data sets loaded (with the run's subset, mean image and crop)."""
    from .trainer import Trainer  # here, so that plotting alone does not load the trainer

    _check_run_dir(run_dir)
    return Trainer.resume(run_dir, device=device or default_device(), progress=False, log=lambda *a: None)


def load_saved_model(path, device=None):
    """The ``saved_model.SavedModel`` of a run directory or weights file: its network, mean image,
    crop and class names, from that file alone, with no data set loaded."""
    from .saved_model import load_model

    return load_model(path, device or default_device(), log=None)


def _check_run_dir(run_dir):
    """A clear error unless ``run_dir`` holds a run's checkpoint."""
    from .checkpoint import refuse_legacy_pickle
    from .run_files import CHECKPOINT

    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"no run directory {run_dir}: train one first, e.g. "
                                f"python -m minialex.train --out {run_dir}")
    refuse_legacy_pickle(os.path.join(run_dir, CHECKPOINT))
    if not os.path.exists(os.path.join(run_dir, CHECKPOINT)):
        raise FileNotFoundError(f"{run_dir} holds no {CHECKPOINT}: it is not a run directory of "
                                "python -m minialex.train, or its first epoch has not finished yet")


def _model_device(model):
    params = model.parameters()
    return device_of(params[0]) if params else "cpu"


def _batched(model, x, layers, batch_size, prepare=None):
    """Run ``layers`` in eval mode on x, ``batch_size`` at a time, on the model's
    device; a NumPy array back. ``prepare`` (if given) turns each slice of x into
    network input first. The model's train/eval mode is restored."""
    was_training = model.training
    model.eval()
    device = _model_device(model)
    outputs = []
    try:
        for start in range(0, len(x), batch_size):
            batch = x[start:start + batch_size]
            out = to_device(np.ascontiguousarray(prepare(batch) if prepare else batch), device)
            for layer in layers:
                out = layer.forward(out)
            outputs.append(to_numpy(out))
    finally:
        if was_training:
            model.train()
    return np.concatenate(outputs) if outputs else np.zeros((0,), np.float32)


# -- features and nearest neighbours ------------------------------------------------------------------


def last_linear_index(model):
    """Index in ``model.layers`` of the last ``Linear`` layer (the classifier)."""
    for i in range(len(model.layers) - 1, -1, -1):
        if isinstance(model.layers[i], Linear):
            return i
    raise ValueError("the model has no Linear layer, so it has no 'last hidden layer' to take features from")


def features(model, x, batch_size=256):
    """The last hidden layer's activations for input x (N, ...): the input of the
    final ``Linear`` layer, computed in eval mode (dropout off), ``batch_size``
    images at a time. For AlexNet that is fc7 after ReLU (4096 values), the
    feature vector of the paper's Figure 4; for the Figure 1 net, the flattened
    conv3 maps. Returns a NumPy array (N, D)."""
    layers = model.layers[:last_linear_index(model)]
    return _batched(model, x, layers, batch_size).reshape(len(x), -1)


def image_features(model, images, mean=None, crop=None, batch_size=256):
    """``features`` of uint8 images (N, C, H, W), converted with ``model_input``
    a batch at a time (so a big training set is never all in floats at once)."""
    layers = model.layers[:last_linear_index(model)]
    out = _batched(model, images, layers, batch_size, prepare=lambda b: model_input(b, mean, crop))
    return out.reshape(len(images), -1)


def predict_proba(model, x, batch_size=256):
    """Softmax probabilities (N, classes), in eval mode, as a float64 NumPy array."""
    return softmax(_batched(model, x, model.layers, batch_size).astype(np.float64))


def nearest_neighbours(query, reference, k=6, chunk=1024):
    """(indices (Q, k), distances (Q, k)): for each row of ``query`` (Q, D), the k
    rows of ``reference`` (M, D) nearest in Euclidean distance, nearest first.

    ||q - r||^2 = ||q||^2 + ||r||^2 - 2 q.r turns the search into one matrix
    product per chunk of the reference set; the k distances returned are then
    recomputed directly from q - r, so a vector's distance to itself is exactly 0.
    """
    query = np.asarray(query, np.float64).reshape(len(query), -1)
    reference = np.asarray(reference).reshape(len(reference), -1)  # float64 a chunk at a time
    if query.shape[1] != reference.shape[1]:
        raise ValueError(f"query vectors have {query.shape[1]} values, reference vectors {reference.shape[1]}")
    if not 1 <= k <= len(reference):
        raise ValueError(f"k must be between 1 and the number of reference vectors ({len(reference)}), got {k}")
    q2 = (query ** 2).sum(axis=1)[:, None]
    best_d = np.full((len(query), 0), np.inf)
    best_i = np.zeros((len(query), 0), np.int64)
    for start in range(0, len(reference), chunk):
        block = reference[start:start + chunk].astype(np.float64)
        d2 = q2 + (block ** 2).sum(axis=1)[None, :] - 2 * query @ block.T
        best_d = np.concatenate([best_d, d2], axis=1)
        best_i = np.concatenate([best_i, np.broadcast_to(np.arange(start, start + len(block)), d2.shape)], axis=1)
        keep = np.argsort(best_d, axis=1, kind="stable")[:, :k]
        best_d, best_i = np.take_along_axis(best_d, keep, 1), np.take_along_axis(best_i, keep, 1)
    dist = np.linalg.norm(query[:, None, :] - reference[best_i].astype(np.float64), axis=2)
    order = np.argsort(dist, axis=1, kind="stable")
    return np.take_along_axis(best_i, order, 1), np.take_along_axis(dist, order, 1)


# -- pictures ---------------------------------------------------------------------------


def _show_image(ax, image):
    """Draw one uint8 (C, H, W) image: RGB in colour, one channel in grey."""
    image = np.asarray(image)
    if image.shape[0] == 3:
        ax.imshow(image.transpose(1, 2, 0), interpolation="nearest")
    else:
        ax.imshow(image[0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def kernel_mosaic(weights, columns=None, border=1):
    """One picture of conv kernels W (F, C, kh, kw): each kernel scaled to [0, 1]
    on its own (its minimum black, its maximum white), laid out in a grid with
    ``border`` pixels of white between kernels. RGB kernels (C = 3) give an
    (H, W, 3) image; otherwise each channel is its own grey tile, (H, W)."""
    w = to_numpy(weights).astype(np.float64)
    f, c, kh, kw = w.shape
    if c == 3:
        tiles = w.transpose(0, 2, 3, 1)  # (F, kh, kw, 3)
    else:
        tiles = w.reshape(f * c, kh, kw)[..., None]  # grey: one tile per (kernel, channel)
    lo = tiles.min(axis=(1, 2, 3), keepdims=True)
    hi = tiles.max(axis=(1, 2, 3), keepdims=True)
    tiles = (tiles - lo) / np.where(hi > lo, hi - lo, 1.0)
    n = len(tiles)
    columns = columns or (16 if n >= 64 else 8 if n > 8 else n)
    rows = math.ceil(n / columns)
    mosaic = np.ones((rows * (kh + border) + border, columns * (kw + border) + border, tiles.shape[3]))
    for i, tile in enumerate(tiles):
        r, col = divmod(i, columns)
        top, left = border + r * (kh + border), border + col * (kw + border)
        mosaic[top:top + kh, left:left + kw] = tile
    return mosaic if c == 3 else mosaic[..., 0]


def first_conv(model):
    """The first ``Conv2d`` of a Sequential (conv1)."""
    for layer in model.layers:
        if isinstance(layer, Conv2d):
            return layer
    raise ValueError("the model has no Conv2d layer, so there are no first-layer kernels to draw")


def kernel_chroma(weights):
    """(F,) colour-specificity of RGB kernels W (F, 3, kh, kw): the share of each
    kernel's variation that is colour rather than brightness.

    Each pixel's weights (r, g, b) split into a grey part (their mean, the same in all
    three channels) and a colour part (what is left). The measure is
    ||colour part||^2 / ||kernel - its mean||^2: 0 for a kernel that sees only
    brightness (its channels move together), near 1 for one that responds to
    colour differences; random weights give about 2/3.
    """
    w = to_numpy(weights).astype(np.float64)
    if w.ndim != 4 or w.shape[1] != 3:
        raise ValueError(f"colour-specificity needs RGB kernels (F, 3, kh, kw), got shape {w.shape}")
    colour = w - w.mean(axis=1, keepdims=True)
    varying = w - w.mean(axis=(1, 2, 3), keepdims=True)
    return (colour ** 2).sum(axis=(1, 2, 3)) / np.maximum((varying ** 2).sum(axis=(1, 2, 3)), 1e-300)


def kernel_groups(model):
    """How many groups the layer after the first convolution has (AlexNet's conv2: 2, the
    paper's two GPUs); 1 when the model has no second, grouped convolution."""
    convs = [layer for layer in model.layers if isinstance(layer, Conv2d)]
    return convs[1].groups if len(convs) > 1 else 1


def plot_kernels(model, path, title=None, columns=None):
    """Figure 3: the first convolutional layer's kernels as grids of small
    images (colour for RGB input, grey otherwise), each contrast-normalised on
    its own. When the second convolution is grouped (AlexNet's conv2, the
    paper's two GPUs), the kernels that feed each group form their own block:
    for AlexNet kernels 0-47 (GPU 1) above kernels 48-95 (GPU 2), each block
    titled with its mean colour-specificity (``kernel_chroma``). Returns ``path``."""
    conv = first_conv(model)
    w = conv.params["W"]
    f, c, kh, kw = w.shape
    groups = kernel_groups(model)
    if f % groups:
        groups = 1
    blocks = [w[g * f // groups:(g + 1) * f // groups] for g in range(groups)]
    mosaics = [kernel_mosaic(block, columns or (16 if f >= 64 else None)) for block in blocks]
    height, width = mosaics[0].shape[:2]
    fig_w = min(11.0, max(4.0, 0.12 * width))
    fig = Figure(figsize=(fig_w, groups * (fig_w * height / width + 0.35) + 0.3))
    axes = fig.subplots(groups, 1, squeeze=False)[:, 0]
    for g, (ax, mosaic) in enumerate(zip(axes, mosaics)):
        ax.imshow(mosaic, cmap=None if mosaic.ndim == 3 else "gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        if groups > 1:
            first, last = g * f // groups, (g + 1) * f // groups - 1
            label = f"kernels {first}-{last}: feed group {g + 1} of the next convolution (GPU {g + 1})"
            if c == 3:
                label += f"; colour-specificity {kernel_chroma(blocks[g]).mean():.2f}"
            ax.set_title(label, fontsize=8)
    fig.suptitle(title or f"{f} first-layer kernels, {kh}x{kw}x{c} (each scaled to its own range)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def kernel_colours(model):
    """{"groups": [...]} with each block's kernels and their colour-specificity
    (``kernel_chroma``): the numbers behind Figure 3's claim that one GPU's kernels
    are largely colour-agnostic and the other's colour-specific."""
    w = first_conv(model).params["W"]
    groups = kernel_groups(model) if len(w) % kernel_groups(model) == 0 else 1
    chroma = kernel_chroma(w)
    size = len(w) // groups
    return {"measure": "share of each kernel's variation that is colour rather than brightness "
                       "(0: grey only, 1: colour only, random weights about 2/3)",
            "groups": [{"kernels": [g * size, (g + 1) * size - 1],
                        "mean": float(chroma[g * size:(g + 1) * size].mean()),
                        "median": float(np.median(chroma[g * size:(g + 1) * size])),
                        "per_kernel": [round(float(c), 4) for c in chroma[g * size:(g + 1) * size]]}
                       for g in range(groups)]}


def write_kernel_colours(model, path, name):
    """kernel_colours as JSON at ``path`` (beside the kernels' picture), named after the run."""
    import json
    with open(path, "w") as f:
        json.dump({"run": name, **kernel_colours(model)}, f, indent=1)
    return path


def top5(probs, k=5):
    """(indices (N, k), probabilities (N, k)) of the k most probable classes, most probable first."""
    k = min(k, probs.shape[1])
    idx = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(probs, idx, 1)


def short_name(name, width=22):
    """A class name cut to ``width`` characters (ImageNet's run to 40 and more), so that it stays
    beside its bar instead of running into the next picture."""
    return name if len(name) <= width else name[:width - 1].rstrip(" ,") + "\u2026"


def plot_predictions(model, images, labels, classes, path, mean=None, crop=None, columns=4, title=None):
    """Figure 4 (left): each image with its true label under it and the model's
    five most probable labels as bars; the bar of the true label (if it is in
    the top five) is red, the others blue. ``images`` uint8 (N, C, H, W) are
    shown as they are and fed to the model as ``model_input(images, mean, crop)``.
    Returns ``path``."""
    labels = np.asarray(labels)
    probs = predict_proba(model, model_input(images, mean, crop))
    idx, p = top5(probs)
    n = len(images)
    columns = min(columns, n)
    rows = math.ceil(n / columns)
    fig = Figure(figsize=(3.6 * columns, 1.9 * rows))
    # per image: the picture, room for the class names, the bars
    grid = fig.add_gridspec(rows, 3 * columns, width_ratios=[1, 0.75, 1.25] * columns, wspace=0.05, hspace=0.6)
    for i in range(n):
        r, c = divmod(i, columns)
        ax_img = fig.add_subplot(grid[r, 3 * c])
        _show_image(ax_img, images[i])
        ok = idx[i, 0] == labels[i]
        ax_img.set_xlabel(short_name(classes[labels[i]], 26), fontsize=9, fontweight="bold")
        ax_img.set_title("right" if ok else "wrong", fontsize=8, color="green" if ok else "red")
        ax_bar = fig.add_subplot(grid[r, 3 * c + 2])
        y = np.arange(len(idx[i]))
        colors = ["tab:red" if j == labels[i] else "tab:blue" for j in idx[i]]
        ax_bar.barh(y, p[i], color=colors, height=0.7)
        ax_bar.set_yticks(y, [short_name(classes[j]) for j in idx[i]], fontsize=8)
        ax_bar.tick_params(axis="y", length=0)
        ax_bar.set_xlim(0, 1)
        ax_bar.set_ylim(len(y) - 0.5, -0.5)
        ax_bar.set_xticks([0, 0.5, 1])
        ax_bar.tick_params(axis="x", labelsize=7)
        ax_bar.set_xlabel("probability", fontsize=7, labelpad=1)
        for side in ("top", "right"):
            ax_bar.spines[side].set_visible(False)
    fig.suptitle(title or "top-5 predictions (red bar: the true label)", fontsize=10)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def plot_neighbours(model, query_images, query_labels, train_images, train_labels, classes, path, k=6,
                    mean=None, crop=None, batch_size=256, train_features=None, title=None):
    """Figure 4 (right): each query image (first column) and the k training
    images whose last-hidden-layer feature vectors (``features``) are nearest to
    its own in Euclidean distance, nearest first, with their labels (green where
    the label matches the query's) and distances. ``train_features`` may be
    passed to skip recomputing them. Beside the picture, ``<path>.json`` records every
    neighbour's class and distance and how many share their query's class, counted from
    the labels rather than read off the picture. Returns ``path``."""
    query_labels, train_labels = np.asarray(query_labels), np.asarray(train_labels)
    q = image_features(model, query_images, mean, crop, batch_size)
    if train_features is None:
        train_features = image_features(model, train_images, mean, crop, batch_size)
    idx, dist = nearest_neighbours(q, train_features, k)
    n = len(query_images)
    fig = Figure(figsize=(1.35 * (k + 1) + 0.3, 1.55 * n))
    axes = fig.subplots(n, k + 1, squeeze=False)
    for i in range(n):
        _show_image(axes[i, 0], query_images[i])
        axes[i, 0].set_title(f"test: {classes[query_labels[i]]}", fontsize=8, fontweight="bold")
        for spine in axes[i, 0].spines.values():
            spine.set_edgecolor("black")
            spine.set_linewidth(2.5)
        for j in range(k):
            ax = axes[i, j + 1]
            t = idx[i, j]
            _show_image(ax, train_images[t])
            same = train_labels[t] == query_labels[i]
            ax.set_title(classes[train_labels[t]], fontsize=8, color="green" if same else "red")
            ax.set_xlabel(f"d = {dist[i, j]:.3g}", fontsize=7)
    same_class = train_labels[idx] == query_labels[:, None]  # (n, k)
    _write_neighbour_counts(path, query_labels, train_labels[idx], dist, same_class, classes)
    fig.suptitle((title or f"the {k} training images nearest in last-hidden-layer features "
                           f"({train_features.shape[1]} values)") +
                 f"; {int(same_class.sum())} of {same_class.size} share the test image's class" +
                 "\nd: Euclidean distance between the test image's feature vector and the training image's",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def _write_neighbour_counts(path, query_labels, neighbour_labels, dist, same_class, classes):
    import json
    record = {"same_class": int(same_class.sum()), "neighbours": int(same_class.size),
              "queries": [{"class": classes[q], "same_class": int(row.sum()),
                           "neighbours": [{"class": classes[t], "distance": float(d)} for t, d in zip(ts, ds)]}
                          for q, ts, ds, row in zip(query_labels, neighbour_labels, dist, same_class)]}
    with open(os.path.splitext(str(path))[0] + ".json", "w") as f:
        json.dump(record, f, indent=1)


# -- the command line ----------------------------------------------------------------------


def _pick(n, total, seed):
    """n distinct indices of range(total), drawn with ``seed``, sorted."""
    if not 1 <= n <= total:
        raise ValueError(f"--n must be between 1 and {total} (the number of test images), got {n}")
    return np.sort(np.random.default_rng(seed).choice(total, n, replace=False))


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m minialex.visualize", description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    helps = {"kernels": "the first-layer kernels (paper Figure 3)",
             "predictions": "test images with the model's top-5 labels (Figure 4, left)",
             "neighbours": "test images and their nearest training images in feature space (Figure 4, right)"}
    for name in COMMANDS:
        s = sub.add_parser(name, help=helps[name], description=helps[name], formatter_class=HelpFormatter)
        s.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of python -m minialex.train, or a "
                       "weights file (model.npz, python -m minialex.convert's)")
        s.add_argument("--out", default=None, help=f"PNG to write (default: RUN_DIR/{name}.png, or "
                       f"NAME-{name}.png beside a weights file NAME.npz)")
        s.add_argument("--device", choices=["cpu", "gpu"], default=None,
                       help="(default: $MINIALEX_DEVICE, else cpu)")
        if name != "kernels":
            s.add_argument("--n", type=int, default=8 if name == "predictions" else 5, help="how many test images")
            s.add_argument("--seed", type=int, default=0, help="which test images (a random draw with this seed)")
        if name == "neighbours":
            s.add_argument("--k", type=int, default=6, help="neighbours per test image")
            s.add_argument("--max-train", type=int, default=None,
                           help="search only a stratified subset of this many training images (big data sets)")
    return p.parse_args(argv)


def run(a):
    """Carry out the parsed command ``a``; returns the path written. The network comes from the
    checkpoint alone; ``predictions`` loads the validation images, ``neighbours`` the training
    images as well (the run's subset of them)."""
    saved = load_saved_model(a.run_dir, a.device)
    out = a.out or (os.path.join(a.run_dir, f"{a.command}.png") if os.path.isdir(a.run_dir)
                    else f"{os.path.splitext(a.run_dir)[0]}-{a.command}.png")
    model, classes, c = saved.model, saved.classes, saved.config
    if c is None:  # converted weights, or minialex.save's: no run, no data set
        if a.command != "kernels":
            raise ValueError(f"{a.run_dir} holds weights that no run of python -m minialex.train made, so it "
                             f"names no data set to draw {a.command} from; kernels works on it")
        name = (saved.source or os.path.basename(a.run_dir)).split(" (")[0]
    else:
        name = f"{c.model} on {saved.trained_on}, epoch {saved.epoch}"
    if a.command == "kernels":
        if first_conv(model).params["W"].shape[1] == 3:  # colour-specificity needs colour kernels
            write_kernel_colours(model, os.path.splitext(out)[0] + ".json", name)
        return plot_kernels(model, out, title=f"first-layer kernels: {name}")
    if a.command == "predictions":
        test = load_validation_set(c, classes, log=None)
        pick = _pick(a.n, len(test), a.seed)
        return plot_predictions(model, test.images[pick], test.labels[pick], classes, out, saved.mean,
                                saved.crop, title=f"top-5 predictions (red bar: the true label); {name}")
    train, test = load_dataset(c.dataset, c.data_dir, c.download, c.subset, c.seed, c.val_dir, log=None)
    pick = _pick(a.n, len(test), a.seed)
    if a.max_train and a.max_train < len(train):
        train = train.subset(a.max_train, seed=a.seed)
    return plot_neighbours(model, test.images[pick], test.labels[pick], train.images, train.labels, classes, out,
                           a.k, saved.mean, saved.crop,
                           title=f"nearest training images by last-hidden-layer features; {name}")


def main(argv=None):
    a = parse_args(argv)
    try:
        path = run(a)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
