"""Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) from its gzip-compressed IDX files.

70,000 grayscale 28x28 photos of clothing in 10 classes: a drop-in replacement for
MNIST that is small enough to train on a CPU but not solved by a linear model.

IDX is a tiny binary format: a 4-byte big-endian magic number (0x00000803 = unsigned
bytes, 3 dimensions, for images; 0x00000801 for labels), then one 4-byte big-endian
size per dimension, then the values row by row. A few megabytes of gzip can
decompress to gigabytes, so the sizes in the header are checked first, and the file
is decompressed into an array of exactly that size, never further.
"""
import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..files import open_regular
from .dataset import ArrayDataset
from .download import default_cache_dir, download as fetch

URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FOLDER = "fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# file name -> MD5 of the upstream download
FILES = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
IMAGES_MAGIC, LABELS_MAGIC = 0x0803, 0x0801
SIDE = 28
MAX_ITEMS = 1_000_000  # images (or labels) in one file; Fashion-MNIST's largest holds 60,000
CHUNK = 1 << 20        # bytes decompressed at a time


def load_fashion_mnist(data_dir=None, download=False, progress=True):
    """(train, test) ArrayDatasets of uint8 images (N, 1, 28, 28), N = 60,000 and 10,000.

    data_dir is the folder holding the four .gz files, or a folder containing a
    fashion-mnist/ folder that does; None means <cache dir>/fashion-mnist. With
    download=True the missing files are downloaded there from Zalando's mirror (with a progress bar,
    unless ``progress`` is False).
    """
    folder = _find_folder(Path(data_dir) if data_dir is not None else default_cache_dir() / FOLDER)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing and not download:
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {folder}: missing {', '.join(missing)}. Either add "
            f"--download to fetch them, or download them from {URL} and put "
            f"them in {folder}.")
    for name in missing:
        fetch(URL + name, folder / name, FILES[name], progress)
    train = _read_split(folder, "train", "fashion-mnist-train")
    test = _read_split(folder, "t10k", "fashion-mnist-test")
    return train, test


def _find_folder(root):
    """root/fashion-mnist if that holds any of the files, otherwise root itself."""
    nested = root / FOLDER
    return nested if any((nested / name).is_file() for name in FILES) else root


def _read_split(folder, prefix, name):
    images = _read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", IMAGES_MAGIC, (SIDE, SIDE))
    labels_path = folder / f"{prefix}-labels-idx1-ubyte.gz"
    labels = _read_idx(labels_path, LABELS_MAGIC, ())
    if len(labels) != len(images):
        raise ValueError(
            f"{folder}: {prefix} has {len(images)} images but {len(labels)} labels. "
            "Delete both files and download them again.")
    if len(labels) and labels.max() >= len(CLASSES):
        raise ValueError(f"{labels_path} holds the label {labels.max()}, but Fashion-MNIST has {len(CLASSES)} "
                         "classes. Delete it and download it again.")
    return ArrayDataset(images[:, None], labels.astype(np.int64), CLASSES, name)


def _read_idx(path, magic, item_shape):
    """The uint8 array stored in one gzip-compressed IDX file whose items have ``item_shape`` ((28, 28)
    for images, () for labels). The header is checked before the array is allocated, and the file is
    decompressed only as far as the header says, plus one byte to find out whether more follows."""
    ndim = magic & 0xFF
    again = f"Delete it and download it again from {URL}."
    try:
        with open_regular(path, "Fashion-MNIST file") as raw, gzip.GzipFile(fileobj=raw) as f:
            header = f.read(4 + 4 * ndim)
            if len(header) < 4 + 4 * ndim or struct.unpack(">I", header[:4])[0] != magic:
                raise ValueError(
                    f"{path} is not an IDX file of {ndim}-D unsigned bytes (bad magic number "
                    f"{header[:4].hex()}, expected {magic:08x}). {again}")
            shape = struct.unpack(f">{ndim}I", header[4:])
            if shape[1:] != item_shape:
                raise ValueError(f"{path} holds {'x'.join(map(str, shape[1:]))} images, expected "
                                 f"{'x'.join(map(str, item_shape))}: it is not a Fashion-MNIST file. {again}")
            if shape[0] > MAX_ITEMS:
                raise ValueError(f"{path} claims {shape[0]:,} items, more than the {MAX_ITEMS:,} this loader "
                                 f"reads (Fashion-MNIST has 60,000): it is not a Fashion-MNIST file. {again}")
            values = math.prod(shape)
            array = np.empty(values, np.uint8)
            filled = _fill(f, memoryview(array))
            extra = f.read(1)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path} is truncated or corrupt ({err}). {again}") from None
    if filled != values or extra:
        raise ValueError(
            f"{path} is truncated or corrupt: its header promises {shape} = {values} "
            f"values but it holds {'more' if extra else filled}. {again}")
    return array.reshape(shape)


def _fill(f, view):
    """Read ``f`` into ``view`` a chunk at a time, until it is full or ``f`` ends; the bytes read."""
    filled = 0
    while filled < len(view):
        chunk = f.read(min(CHUNK, len(view) - filled))
        if not chunk:
            break
        view[filled:filled + len(chunk)] = chunk
        filled += len(chunk)
    return filled
