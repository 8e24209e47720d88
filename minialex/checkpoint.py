"""Saving and restoring everything a run needs to continue exactly where it stopped.

Why not a pickle, Python's one-line way to save any object? Loading a pickle
runs whatever code the file asks for, so a checkpoint that someone shares, or
that is swapped on a shared disk, could take over the machine that loads it.
A checkpoint is therefore one ``.npz`` file (NumPy's zip of ``.npy`` arrays),
read with ``allow_pickle=False``: it can hold numbers and text, never code.

Inside the npz:

* every NumPy array of the state is its own entry, ``a0``, ``a1``, ...;
* the entry ``header`` is a JSON document (UTF-8 bytes in a uint8 array) that
  describes the nested structure (dicts, lists, tuples, str, int, float, bool,
  None) and names the array entry that belongs at each place, plus a SHA-256
  checksum over the structure and every array's dtype, shape and bytes. A file
  damaged on disk or edited afterwards is refused, instead of quietly giving a
  run other weights than the ones that were saved. (It is no signature:
  whoever rewrites a file can compute a new checksum. What keeps code out is
  the format itself.)

JSON has no tuples, NaN, infinities or non-string keys, so those are written
as small tagged objects, ``{"$tuple": [...]}`` and the like (see ``_encode``).
JSON integers have no size limit in Python, which the random generators' states
need: their 128-bit integers come back exactly.

The file is written atomically (``files.atomic_write``): to a temporary file
first, then renamed over the old one. A crash or Ctrl-C during the write leaves
the previous checkpoint intact, never half of a new one.
"""
import hashlib
import json
import math
import os
import zipfile

import numpy as np

from .files import NotARegularFile, atomic_write, read_npz

FORMAT = "minialex checkpoint 1"  # the header's "format": what this module can read
WHAT_TO_DO = "delete it, or resume from another copy of the run"


def model_state(model):
    """{"params": {name: ndarray}, "buffers": {name: ndarray}, "rng": [each layer's extra state]}: the
    model's ``state_dict`` split into parameters and buffers, and what its layers keep outside it
    (``Layer.extra_state``: dropout's generators)."""
    state = model.state_dict()
    params = set(model.named_parameters())
    return {"params": {name: array for name, array in state.items() if name in params},
            "buffers": {name: array for name, array in state.items() if name not in params},
            "rng": model.extra_state()}


def load_model_state(model, state):
    """Put the arrays of ``model_state`` back into ``model``, each on the device and of the dtype of the
    array it replaces. A checkpoint from before buffers were saved has none, as the networks of that
    time had none."""
    try:
        model.load_state_dict({**state["params"], **state.get("buffers", {})})
        model.load_extra_state(state["rng"])
    except ValueError as err:
        raise ValueError(f"checkpoint does not fit this model ({err}); was it saved with other --model "
                         "options?") from None


# -- the state as JSON plus arrays ---------------------------------------------------


def _encode(value, arrays, where):
    """``value`` as JSON-ready data; its arrays are moved into ``arrays`` (the npz
    entries) and referred to by name. ``where`` (e.g. "state['model']") names the
    value in the error for a type a checkpoint cannot hold."""
    # NumPy first: np.float64 is also a float and np.str_ a str, but they should come back as NumPy types.
    if isinstance(value, (np.ndarray, np.generic)):
        return {"$scalar" if isinstance(value, np.generic) else "$array": _add_array(value, arrays, where)}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"$float": repr(float(value))}  # "nan", "inf", "-inf"
    if isinstance(value, (list, tuple)):
        items = [_encode(item, arrays, f"{where}[{i}]") for i, item in enumerate(value)]
        return {"$tuple": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        # A JSON object when it can be one; "$" is reserved for the tags, so such keys take the long form too.
        if all(isinstance(key, str) and not key.startswith("$") for key in value):
            return {key: _encode(item, arrays, f"{where}[{key!r}]") for key, item in value.items()}
        return {"$dict": [[_encode(key, arrays, f"{where} key {key!r}"), _encode(item, arrays, f"{where}[{key!r}]")]
                          for key, item in value.items()]}
    raise TypeError(f"cannot save {where} in a checkpoint: it is a {type(value).__name__}, and a checkpoint holds "
                    "only dicts, lists, tuples, str, int, float, bool, None and NumPy arrays and scalars")


def _add_array(value, arrays, where):
    array = np.asarray(value)  # a NumPy scalar becomes a 0-d array, which keeps its dtype
    if array.dtype.hasobject:
        raise TypeError(f"cannot save {where} in a checkpoint: an array of Python objects ({array.dtype}) "
                        "could only be stored as a pickle")
    name = f"a{len(arrays)}"
    arrays[name] = array
    return name


def _decode(data, arrays):
    """The inverse of ``_encode``."""
    if isinstance(data, list):
        return [_decode(item, arrays) for item in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1 and next(iter(data)).startswith("$"):
        (tag, content), = data.items()
        if tag == "$array":
            return arrays[content]
        if tag == "$scalar":
            return arrays[content][()]
        if tag == "$float":
            return float(content)
        if tag == "$tuple":
            return tuple(_decode(item, arrays) for item in content)
        if tag == "$dict":
            return {_decode(key, arrays): _decode(item, arrays) for key, item in content}
        raise ValueError(f"unknown tag {tag!r} in the header")
    return {key: _decode(item, arrays) for key, item in data.items()}


def _checksum(structure, arrays):
    """SHA-256 over the structure's JSON and each array's name, dtype, shape and bytes:
    any change to what ``load`` would return changes it."""
    digest = hashlib.sha256(json.dumps(structure, allow_nan=False).encode())
    for name in sorted(arrays):
        array = arrays[name]
        digest.update(f"\n{name} {np.lib.format.dtype_to_descr(array.dtype)} {array.shape}\n".encode())
        digest.update(np.ascontiguousarray(array))
    return digest.hexdigest()


# -- files -----------------------------------------------------------------------------


def save(path, state):
    """Write ``state`` (a dict) to ``path`` atomically."""
    arrays = {}
    structure = _encode(state, arrays, "state")
    header = {"format": FORMAT, "sha256": _checksum(structure, arrays), "state": structure}
    header_bytes = np.frombuffer(json.dumps(header, allow_nan=False).encode("utf-8"), np.uint8)
    with atomic_write(path) as f:
        np.savez(f, header=header_bytes, **arrays)


def load(path):
    """Read a checkpoint; a missing, damaged or altered file gets an error that says what to do."""
    refuse_legacy_pickle(path)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"no checkpoint at {path}: start a new run without --resume, "
                                "or point --out at the run directory to continue")
    try:
        header, arrays = _read(path)
        intact = _checksum(header["state"], arrays) == header["sha256"]
    except NotARegularFile:
        raise
    except (ValueError, KeyError, TypeError, EOFError, RecursionError, zipfile.BadZipFile,
            zipfile.LargeZipFile, NotImplementedError) as err:
        raise ValueError(f"checkpoint {path} is damaged or truncated, or not a minialex checkpoint ({err}); "
                         f"{WHAT_TO_DO}") from None
    if not intact:
        raise ValueError(f"checkpoint {path} is damaged or was altered after it was saved: its content does not "
                         f"match its SHA-256 checksum, so it would not give back the weights that were saved; "
                         f"{WHAT_TO_DO}")
    try:
        return _decode(header["state"], arrays)
    except (ValueError, KeyError, TypeError, IndexError, RecursionError) as err:  # a checksum that fits, over a
        # structure that save never writes
        raise ValueError(f"checkpoint {path} was not written by minialex ({err}); {WHAT_TO_DO}") from None


def _read(path):
    """(header, {name: array}) of a checkpoint file; never unpickles anything, and allocates no more than
    the file's size (``files.read_npz``)."""
    arrays = read_npz(path, "checkpoint")
    if "header" not in arrays:
        raise ValueError("it has no header entry")
    header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
    if not isinstance(header, dict) or header.get("format") != FORMAT or {"sha256", "state"} - set(header):
        raise ValueError(f"its header is not that of a {FORMAT!r} file")
    return header, arrays


def refuse_legacy_pickle(path):
    """Stop with a clear error where ``path`` is missing but an old pickle checkpoint
    (the same name ending in .pkl) lies there: it is never opened."""
    legacy = os.path.splitext(os.fspath(path))[0] + ".pkl"
    if not os.path.exists(path) and os.path.exists(legacy):
        raise ValueError(f"{legacy} is an old pickle checkpoint, and minialex no longer loads pickles, because "
                         f"loading one can run any code hidden in the file; it was not opened. Train the run "
                         f"again (start it without --resume) to get a {os.path.basename(path)} checkpoint.")
