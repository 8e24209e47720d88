"""Testing a trained network, as section 6 of the paper does: top-1 and top-5 error rates on the
validation set, of the centre crop, or of the average of the softmax outputs of ten crops (the four
corners and the centre, and their mirror images).

    result = evaluate(model, val_set, mean, crop, ten_crops=True)

The Trainer calls ``evaluate`` after every epoch; ``python -m minialex.train --eval-only`` calls it
with a network rebuilt from its checkpoint and the validation images alone (``load_validation_set``).
"""
import math
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .backend import to_device, to_numpy
from .data import center_crop, default_cache_dir, load_dataset, load_image_folder, ten_crop, to_float
from .data.imagenette import CLASS_NAMES, FOLDER
from .functional import softmax

ONE_CLASS_FRACTION = 0.9  # "predicts one class": this share of the validation images


def evaluate(model, dataset, mean, crop, device="cpu", ten_crops=False, batch_size=256, progress=True):
    """{"loss", "top1_error", "top5_error", "images", "top_class", "top_class_share"} of ``model`` on
    ``dataset`` (uint8 images, minus the mean image ``mean``), centre crop of size ``crop``, or the
    ten-crop average of softmax outputs. ``top_class``: the class predicted most often, for
    ``top_class_share`` of the images. Evaluated in eval mode (no dropout); the mode is restored."""
    was_training = model.training
    model.eval()
    totals = np.zeros(3)
    predicted = []
    batches = tqdm(range(0, len(dataset), batch_size), desc=f"evaluating on {dataset.name}", unit="batch",
                   disable=None if progress else True, leave=False, dynamic_ncols=True)
    for start in batches:
        x = to_float(dataset.images[start:start + batch_size], mean)
        y = dataset.labels[start:start + batch_size]
        views = ten_crop(x, crop) if ten_crops else center_crop(x, crop)[None]
        probs = sum(_probabilities(model, view, device) for view in views) / len(views)
        top5 = np.argsort(-probs, axis=1)[:, :5]
        predicted.append(top5[:, 0])
        totals += [-np.log(probs[np.arange(len(y)), y] + 1e-12).sum(),
                   (top5[:, 0] != y).sum(), (top5 != y[:, None]).all(axis=1).sum()]
    if was_training:
        model.train()
    counts = np.bincount(np.concatenate(predicted), minlength=len(dataset.classes))
    loss, top1, top5 = totals / len(dataset)
    return {"loss": float(loss), "top1_error": float(top1), "top5_error": float(top5), "images": len(dataset),
            "top_class": dataset.classes[int(counts.argmax())], "top_class_share": float(counts.max() / len(dataset))}


def _probabilities(model, x, device):
    """Softmax outputs (N, classes) for one view x, as float64 NumPy: ten of them are summed."""
    logits = model.forward(to_device(np.ascontiguousarray(x), device))
    return softmax(to_numpy(logits).astype(np.float64))


def advise_caffe_init(config):
    """Whether to advise ``--init caffe``: AlexNet with the paper's initial biases of 1 collapses to one
    class (results/imagenette/README.md), and Caffe's biases of 0.1 learn; a run that has them already
    needs other advice."""
    return config.model == "alexnet" and config.init != "caffe"


def one_class_warning(result, classes, config):
    """The warning for a network that gives (nearly) every image the same class, which has learned
    nothing about the images; None when it does not. ``result``: what ``evaluate`` returned;
    ``classes``: how many the run has; ``config``: its TrainConfig (``advise_caffe_init``)."""
    share, top, n = result["top_class_share"], result["top_class"], result["images"]
    if n < 20 or classes < 2 or share < ONE_CLASS_FRACTION:
        return None
    return (f"the network predicts '{top}' for {share:.0%} of the {n} validation images: it has not learned "
            f"to tell the images apart. If the training loss stays near ln({classes}) = {math.log(classes):.2f}, "
            f"train longer or change the learning rate; if it rose far above that, lower --lr or add --warmup 1"
            + (" or --init caffe" if advise_caffe_init(config) else ""))


# -- the validation images alone ---------------------------------------------------------------


def load_validation_set(config, classes, log=print, progress=True):
    """The validation images of a run's data set (``config``: its TrainConfig), checked against the
    run's ``classes``. Where they have a folder of their own (Imagenette's val/, an image folder's val/
    or --val-dir), only that folder is read: testing a run needs none of its training images. Otherwise
    ``load_dataset`` reads them, from the files that also hold the training images (CIFAR-10,
    Fashion-MNIST, the embedded sample) or held out of the one image folder ("folder" without val/).
    ``progress``: the decoding's progress bar."""
    folder = _validation_folder(config)
    if folder is None:
        test = load_dataset(config.dataset, config.data_dir, config.download, seed=config.seed,
                            val_dir=config.val_dir, log=log, progress=progress,
                            skip_bad_images=config.skip_bad_images)[1]
    else:
        path, name, class_names = folder
        test = load_image_folder(path, name=name, class_names=class_names, log=log, progress=progress,
                                 skip_bad=config.skip_bad_images)
    if list(test.classes) != list(classes):
        raise ValueError(f"the classes of {test.name} ({', '.join(test.classes)}) are not those the run was "
                         f"trained on ({', '.join(classes)}): point --data-dir (or --val-dir) at the run's data set")
    return test


def _validation_folder(c):
    """(folder, name, class names) of a run's validation images where they have a folder of their own,
    else None. The folders and names are those ``load_dataset`` uses, so that the decoded images come
    from the same cache (see ``image_folder.load_image_folder``). A root's val/ counts even without
    train/ beside it: a copy of the data set for testing may leave the training images out."""
    if c.dataset == "imagenette":
        root = Path(c.data_dir) if c.data_dir is not None else default_cache_dir()
        root = next((r for r in (root, root / FOLDER) if (r / "val").is_dir()), None)
        return None if root is None else (root / "val", f"{root.resolve().name}-val", CLASS_NAMES)
    if c.dataset != "folder" or c.data_dir is None:
        return None
    root = Path(c.data_dir)
    name = f"{root.resolve().name}-val"
    if c.val_dir is not None:
        return Path(c.val_dir), name, None
    return (root / "val", name, None) if (root / "val").is_dir() else None
