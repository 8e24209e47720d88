"""CIFAR-10 from the official "python version" batches (Krizhevsky 2009).

The paper's Figure 1 (ReLU versus tanh) and its LRN ablation were run on CIFAR-10:
60,000 32x32 colour images in 10 classes, 50,000 for training and 10,000 for testing.
The official release is a folder ``cifar-10-batches-py/`` of pickled dicts:
``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` (10,000 images each) and
``batches.meta`` (the class names). In every batch ``b"data"`` is uint8 (10000, 3072):
one row per image holding the 1024 red, then green, then blue values, each plane row
by row, so a reshape to (N, 3, 32, 32) gives NCHW without copying.

Loading a pickle can run any code the file names, and a data folder may come from
anywhere, so the batches are read with ``BatchUnpickler``, which builds only dicts,
lists, bytes, numbers and NumPy arrays and refuses every other global a file asks for.
A pickle can also ask for far more memory than its size (a list that holds itself
through pickle's memo, a byte string of a size it does not have), so a file is read
whole first (no larger than ``MAX_FILE_BYTES``), its instructions are counted before
any is run, and what it builds is checked (types, shapes, label range) before use.
"""
import io
import pickle
import pickletools
from pathlib import Path

import numpy as np

from ..files import open_regular
from .dataset import ArrayDataset
from .download import default_cache_dir, download_and_extract

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILES = ["test_batch"]
META_FILE = "batches.meta"
MAX_FILE_BYTES = 256 << 20  # an official batch is 31 MB
MAX_OPCODES = 200_000       # an official batch has about 40,000 pickle instructions: a few per label and file name
MAX_CLASSES = 1_000


def load_cifar10(data_dir=None, download=False, progress=True):
    """(train, test) ArrayDatasets of uint8 images (N, 3, 32, 32), N = 50,000 and 10,000.

    data_dir may be the cifar-10-batches-py folder itself or a folder that contains it;
    None means the cache folder (see default_cache_dir). With download=True a missing
    data set is downloaded there from the official site and extracted (with a progress bar, unless
    ``progress`` is False).
    """
    root = Path(data_dir) if data_dir is not None else default_cache_dir()
    batches_dir = _find_batches_dir(root)
    if batches_dir is None:
        if not download:
            raise FileNotFoundError(
                f"CIFAR-10 not found in {root}: expected a folder {root / FOLDER} holding "
                f"{', '.join(TRAIN_FILES + TEST_FILES + [META_FILE])}. Either add --download "
                f"to fetch it, or download {URL} (MD5 {MD5}), extract it and "
                f"put the {FOLDER} folder in {root}.")
        batches_dir = download_and_extract(URL, MD5, root, FOLDER, "CIFAR-10", progress)
    classes = _class_names(batches_dir / META_FILE)
    train = _read_split(batches_dir, TRAIN_FILES, classes, "cifar10-train")
    test = _read_split(batches_dir, TEST_FILES, classes, "cifar10-test")
    return train, test


def _find_batches_dir(root):
    """The folder that holds batches.meta: root/cifar-10-batches-py, root itself, or None."""
    for candidate in (root / FOLDER, root):
        if (candidate / META_FILE).is_file():
            return candidate
    return None


def _class_names(path):
    """The class names in batches.meta: a list of 2 to MAX_CLASSES byte strings (or str), UTF-8 text."""
    names = _read_pickle(path, [b"label_names"])[b"label_names"]
    if not (isinstance(names, list) and 2 <= len(names) <= MAX_CLASSES
            and all(isinstance(n, (bytes, str)) and 0 < len(n) <= 200 for n in names)):
        raise ValueError(f"{path} does not hold CIFAR-10 class names: expected a list of 2 to {MAX_CLASSES} names, "
                         f"got {_describe(names)}. Delete the {FOLDER} folder and extract {URL} again.")
    try:
        return [n.decode("utf-8") if isinstance(n, bytes) else n for n in names]
    except UnicodeDecodeError:
        raise ValueError(f"{path} holds a class name that is not UTF-8 text. Delete the {FOLDER} folder and "
                         f"extract {URL} again.") from None


def _read_split(batches_dir, file_names, classes, name):
    images, labels = [], []
    for file_name in file_names:
        path = batches_dir / file_name
        batch = _read_pickle(path, [b"data", b"labels"])
        data, batch_labels = batch[b"data"], batch[b"labels"]
        # Types first: np.asarray on a list built through pickle's memo could expand it a billion-fold.
        if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
                and data.shape[1] == 3 * 32 * 32 and isinstance(batch_labels, list) and len(batch_labels) == len(data)):
            raise ValueError(
                f"{path} does not hold CIFAR-10 images: expected uint8 data of shape (N, 3072) "
                f"and a list of N labels, got {_describe(data)} and {_describe(batch_labels)}. "
                "Delete the folder and download the data set again.")
        if not all(type(label) is int and 0 <= label < len(classes) for label in batch_labels):
            bad = next(label for label in batch_labels if not (type(label) is int and 0 <= label < len(classes)))
            shown = " ".join(repr(bad).split())[:40]  # one line, even for an array
            raise ValueError(f"{path} holds the label {shown}, not a class number from 0 to "
                             f"{len(classes) - 1}. Delete the folder and download the data set again.")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.array(batch_labels, np.int64))
    return ArrayDataset(np.concatenate(images), np.concatenate(labels), classes, name)


def _describe(value):
    """A short description of what a file held, for the messages."""
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _count_instructions(raw, path):
    """Refuse a pickle of more than MAX_OPCODES instructions before running any: every object a pickle
    builds costs it an instruction, so this bounds the memory of what it builds to about the file's size."""
    for count, _ in enumerate(pickletools.genops(raw)):
        if count == MAX_OPCODES:
            raise UnsafeBatchError(f"{path} holds more than {MAX_OPCODES:,} pickle instructions, which no CIFAR-10 "
                                   f"batch does. Delete the {FOLDER} folder and extract {URL} again.")


class UnsafeBatchError(ValueError):
    """A batch file asked the unpickler for something a CIFAR-10 batch never holds."""


class BatchUnpickler(pickle.Unpickler):
    """An unpickler that admits only what CIFAR-10 batches are made of.

    A pickle builds objects by naming a global (a module's function or class) and
    calling it; a hostile file names ``os.system``. Dicts, lists, bytes and numbers
    need no globals at all; a NumPy array needs the three below (``numpy.core`` is
    NumPy 1's name, in the official files; ``numpy._core`` NumPy 2's). Every other
    global is refused before anything is called.
    """
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def __init__(self, file, path):
        super().__init__(file, encoding="bytes")  # the official files are Python 2 pickles of byte strings
        self.path = path

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise UnsafeBatchError(
                f"{self.path} asks to load {module}.{name}, which a CIFAR-10 batch never needs: refusing to "
                f"unpickle it, since that could run code. Delete the {FOLDER} folder and extract {URL} again.")
        return super().find_class(module, name)


def _read_pickle(path, required_keys):
    """The dict in one batch file; a missing, truncated or foreign file gets an error naming it."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the {FOLDER} folder is incomplete. Delete it and extract "
            f"{URL} again (or pass --download).")
    with open_regular(path, "CIFAR-10 file") as f:
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_FILE_BYTES >> 20} MiB, which no CIFAR-10 batch is. "
                         f"Delete the {FOLDER} folder and extract {URL} again.")
    try:
        _count_instructions(raw, path)
        content = BatchUnpickler(io.BytesIO(raw), path).load()
    except UnsafeBatchError:
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            OverflowError, RecursionError, MemoryError) as err:
        raise ValueError(
            f"{path} is truncated or corrupt ({type(err).__name__}: {err}"[:300] + "). "
            f"Delete the {FOLDER} folder and download/extract it again.") from None
    if not isinstance(content, dict) or not all(key in content for key in required_keys):
        raise ValueError(
            f"{path} is not a CIFAR-10 python batch: expected a dict with keys "
            f"{[k.decode() for k in required_keys]}. Delete it and extract {URL} again.")
    return content

