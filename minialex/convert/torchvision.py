"""torchvision's trained ``alexnet`` as a minialex network.

torchvision's AlexNet is not the paper's: it is the one-GPU variant of
Krizhevsky's "One weird trick" (2014): 64, 192, 384, 256 and 256 kernels, no
groups, no response normalisation, conv1 padded by 2, and 224x224 inputs;
its weights reach 56.5 % top-1 and 79.1 % top-5 accuracy on ILSVRC-2012.
``torchvision_alexnet()`` builds that network from minialex's layers, and
``convert`` puts the published weights into it, with these conversions:

* **Input scale.** torchvision's network takes RGB in [0, 1], normalised per
  channel: (x / 255 - m) / s with m = (0.485, 0.456, 0.406) and s = (0.229,
  0.224, 0.225). minialex's input is x - mean with x in 0..255. So the mean
  image is 255 m, and conv1's kernels are divided by 255 s, input channel by
  input channel: the same numbers, exactly (the padding's zeros stay zeros).
* **Pooling before the classifier.** torchvision's ``AdaptiveAvgPool2d((6,
  6))`` does nothing to the 6x6 maps of a 224 input, so it is left out: the
  converted network takes 224x224 inputs only (minialex checks this).
* **Names.** ``features.0`` is conv1, ``classifier.1`` fc6, and so on
  (``NAMES``); PyTorch's "weight" and "bias" are minialex's "W" and "b", in the
  same layouts.

The file is a zip (``torch.save``'s format): a pickle, ``data.pkl``, that
describes the tensors, and their raw bytes in ``data/0``, ``data/1``, ...
Loading a pickle with ``pickle.load`` runs whatever code it names, so
``read_state_dict`` unpickles with ``RestrictedUnpickler``, which builds only
dicts, numbers, strings and tensors (as NumPy arrays) and refuses every other
name; every size is checked against the zip's members before it is read.

    python -m minialex.convert torchvision alexnet-owt-7be5be79.pth torchvision_alexnet.npz --download
"""
import collections
import io
import os
import pickle
import zipfile

import numpy as np

from ..layers import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential
from .files import LIMIT

URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
SHA256_PREFIX = "7be5be79"  # torchvision's convention: the first digits of the file's SHA-256 are in its name
MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet normalisation, RGB, for pixels in [0, 1]
STD = (0.229, 0.224, 0.225)
CROP = 224
NAMES = {"features.0": "conv1", "features.3": "conv2", "features.6": "conv3", "features.8": "conv4",
         "features.10": "conv5", "classifier.1": "fc6", "classifier.4": "fc7", "classifier.6": "fc8"}
KEYS = {"weight": "W", "bias": "b"}


def torchvision_alexnet(num_classes=1000, dropout=0.5):
    """torchvision's AlexNet (input (N, 3, 224, 224) -> logits (N, num_classes)) in minialex's layers,
    named as ``alexnet()``'s are; dropout comes before fc6 and fc7, as there."""
    named = [
        ("conv1", Conv2d(3, 64, 11, stride=4, padding=2)), ("relu1", ReLU()), ("pool1", MaxPool2d(3, 2)),
        ("conv2", Conv2d(64, 192, 5, padding=2)), ("relu2", ReLU()), ("pool2", MaxPool2d(3, 2)),
        ("conv3", Conv2d(192, 384, 3, padding=1)), ("relu3", ReLU()),
        ("conv4", Conv2d(384, 256, 3, padding=1)), ("relu4", ReLU()),
        ("conv5", Conv2d(256, 256, 3, padding=1)), ("relu5", ReLU()), ("pool5", MaxPool2d(3, 2)),
        ("flatten", Flatten()),
        ("drop6", Dropout(dropout)), ("fc6", Linear(256 * 6 * 6, 4096)), ("relu6", ReLU()),
        ("drop7", Dropout(dropout)), ("fc7", Linear(4096, 4096)), ("relu7", ReLU()),
        ("fc8", Linear(4096, num_classes)),
    ]
    return Sequential(*[layer for _, layer in named], names=[name for name, _ in named])


# -- torch.save's zip, without torch and without pickle.load -------------------------------------


STORAGES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
            "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
            "BoolStorage": "?"}


class StorageType:
    """What the pickle's ``torch.FloatStorage`` (and the like) stands for: a dtype; never called."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    """torch._utils._rebuild_tensor_v2: the tensor ``size`` at ``offset`` in ``storage`` (a 1-D array)
    with ``stride`` (in elements), as a NumPy array of its own; every index checked to lie inside."""
    if not (isinstance(storage, np.ndarray) and isinstance(offset, int) and offset >= 0
            and isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
            and all(isinstance(v, int) and v >= 0 for v in size + stride)):
        raise pickle.UnpicklingError("a tensor with a malformed offset, size or stride")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
    if last >= storage.size:
        raise pickle.UnpicklingError(f"a tensor of size {size} reaches past its storage of {storage.size} values")
    strides = tuple(s * storage.itemsize for s in stride)
    return np.lib.stride_tricks.as_strided(storage[offset:], size, strides).copy()


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles the data.pkl of ``torch.save(state_dict)``: an OrderedDict of tensors. The only names it
    resolves are collections.OrderedDict, torch._utils._rebuild_tensor_v2 (``_rebuild_tensor``) and the
    storage types; the storages themselves come from the zip (``persistent_load``)."""

    def __init__(self, file, archive, prefix):
        super().__init__(file)
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGES:
            return StorageType(STORAGES[name])
        raise pickle.UnpicklingError(f"it names {module}.{name}, which a state dict of tensors does not need; "
                                     "it was not loaded")

    def persistent_load(self, pid):
        """('storage', storage type, key, location, number of values): the raw bytes of data/<key>."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], StorageType) and isinstance(pid[2], str) and pid[2].isdigit()
                and isinstance(pid[4], int) and pid[4] >= 0):
            raise pickle.UnpicklingError(f"a storage reference {pid!r:.80} is not torch.save's")
        dtype, member, numel = pid[1].dtype, f"{self.prefix}data/{pid[2]}", pid[4]
        try:
            info = self.archive.getinfo(member)
        except KeyError:
            raise pickle.UnpicklingError(f"it refers to {member}, which the archive does not hold") from None
        if info.file_size != numel * dtype.itemsize:
            raise pickle.UnpicklingError(f"{member} holds {info.file_size} bytes, not {numel} values of {dtype}")
        return np.frombuffer(self.archive.read(member), dtype=dtype)


def read_state_dict(path):
    """{name: NumPy array} of a file written by ``torch.save(model.state_dict(), path)``; a ValueError
    that names the file for anything else (an old non-zip torch file, other objects, damage)."""
    try:
        if os.path.getsize(path) > LIMIT:
            raise ValueError(f"it is larger than {LIMIT:,} bytes")
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(pickles) != 1:
                raise ValueError("it holds no data.pkl (torch.save's zip format, PyTorch 1.6 and later)")
            info = archive.getinfo(pickles[0])
            if info.file_size > 1 << 24:
                raise ValueError(f"its data.pkl is {info.file_size:,} bytes, too large for a state dict")
            prefix = pickles[0][:-len("data.pkl")]
            byteorder = prefix + "byteorder"
            if byteorder in archive.namelist() and archive.read(byteorder).strip() not in (b"little", b""):
                raise ValueError("its tensors are big-endian, which this reader does not convert")
            state = RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), archive, prefix).load()
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError,
            AttributeError, IndexError) as err:
        raise ValueError(f"{path} is not a readable torch.save state dict: {err}") from err
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, np.ndarray)
                                              for k, v in state.items()):
        raise ValueError(f"{path} does not hold a state dict (names to tensors)")
    return dict(state)


# -- the conversion ------------------------------------------------------------------------


def state_dict(torch_state):
    """minialex's state dict of ``torchvision_alexnet()`` from torchvision's, conv1 scaled to take
    minialex's input (``x - 255 m`` instead of ``(x / 255 - m) / s``)."""
    expected = {f"{old}.{key}" for old in NAMES for key in KEYS}
    if set(torch_state) != expected:
        raise ValueError("it is not torchvision's alexnet: "
                         + "; ".join(part for part in (
                             "missing " + ", ".join(sorted(expected - set(torch_state))) if expected - set(torch_state)
                             else "", "unexpected " + ", ".join(sorted(set(torch_state) - expected))
                             if set(torch_state) - expected else "") if part))
    out = {}
    for name, array in torch_state.items():
        layer, key = name.rsplit(".", 1)
        out[f"{NAMES[layer]}.{KEYS[key]}"] = array.astype(np.float32)
    out["conv1.W"] = out["conv1.W"] / (255 * np.float32(STD))[None, :, None, None]
    return out


def convert(path):
    """(model, mean image, crop, description) of torchvision's alexnet weights in the file ``path``."""
    torch_state = read_state_dict(path)
    try:
        weights = state_dict(torch_state)
        classes = len(weights["fc8.b"])
        if weights["fc8.W"].shape != (classes, 4096):  # before fc8 is built with that many outputs
            raise ValueError(f"its fc8 weights are {weights['fc8.W'].shape}, for {classes} classes ({classes}, 4096)")
        model = torchvision_alexnet(classes)
        model.load_state_dict(weights)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
    mean = np.broadcast_to((255 * np.float32(MEAN))[:, None, None], (3, 256, 256)).copy()
    source = (f"torchvision's alexnet ({URL}), the one-GPU variant: conv1 divided by 255 x std per channel, "
              "the mean image 255 x torchvision's mean, 224 crops")
    return model, mean, CROP, source
