"""A real-image data set shipped inside the package, so everything runs offline.

``fashion_mnist_sample.npz`` beside this file is a stratified subset of Fashion-MNIST
(Xiao, Rasul, Vollgraf 2017; MIT licence, Copyright (c) 2017 Zalando SE, see
``LICENSE-fashion-mnist.txt``): 600 training images of each of the 10 classes, taken
from the official training set, and 100 test images of each class from the test set.
That is 6,000 + 1,000 uint8 images (1, 28, 28), small enough to train on in minutes
on a CPU, large enough to see a network learn.

The file holds the arrays train_images, train_labels, test_images, test_labels and
classes. To regenerate it (the result is the same, byte for byte, every time) from a
folder with the four Fashion-MNIST .gz files:

    python -m minialex.data.embedded build FASHION_MNIST_DIR
"""
import io
import zipfile
from pathlib import Path

import numpy as np

from ..dataset import ArrayDataset
from ..fashion_mnist import load_fashion_mnist

HERE = Path(__file__).parent
SAMPLE_FILE = "fashion_mnist_sample.npz"
TRAIN_PER_CLASS, TEST_PER_CLASS = 600, 100


def load_embedded():
    """(train, test) ArrayDatasets: 6,000 and 1,000 Fashion-MNIST images (N, 1, 28, 28)."""
    path = HERE / SAMPLE_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing from the installed package. Reinstall minialex, or rebuild it with "
            "python -m minialex.data.embedded build FASHION_MNIST_DIR")
    with np.load(path) as sample:
        classes = [str(c) for c in sample["classes"]]
        train = ArrayDataset(sample["train_images"], sample["train_labels"], classes, "fashion-mnist-sample-train")
        test = ArrayDataset(sample["test_images"], sample["test_labels"], classes, "fashion-mnist-sample-test")
    return train, test


def build(fashion_mnist_dir, out_dir=HERE):
    """Write out_dir/fashion_mnist_sample.npz from the full data set; returns its path."""
    train, test = load_fashion_mnist(fashion_mnist_dir)
    train = train.subset(TRAIN_PER_CLASS * len(train.classes), seed=0)
    test = test.subset(TEST_PER_CLASS * len(test.classes), seed=0)
    path = Path(out_dir) / SAMPLE_FILE
    _write_npz(path, {
        "train_images": train.images, "train_labels": train.labels,
        "test_images": test.images, "test_labels": test.labels,
        "classes": np.array(train.classes),
    })
    return path


def _write_npz(path, arrays):
    """Like np.savez_compressed, but with fixed time stamps so the same arrays give the same bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, value, allow_pickle=False)
            entry = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, buffer.getvalue(), compresslevel=9)
