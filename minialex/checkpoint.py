"""Saving and restoring everything a run needs to continue exactly where it stopped.

A checkpoint is one pickle of plain NumPy arrays and Python values, written
atomically: to a temporary file first, then renamed over the old one. A crash
or Ctrl-C during the write leaves the previous checkpoint intact, never half
of a new one.
"""
import os
import pickle
import tempfile

from .backend import to_device, to_numpy
from .layers import Dropout


def model_state(model):
    """{"params": {name: ndarray}, "rng": [state of each dropout generator]}."""
    return {"params": {name: to_numpy(owner.params[key]).copy() for name, owner, key in model.parameters()},
            "rng": [layer.rng.bit_generator.state for layer in model.layers if isinstance(layer, Dropout)]}


def load_model_state(model, state, device="cpu"):
    """Put the arrays of ``model_state`` back into ``model`` (on ``device``)."""
    params = state["params"]
    expected = {name for name, _, _ in model.parameters()}
    if set(params) != expected:
        raise ValueError(f"checkpoint does not fit this model: it has {sorted(params)}, the model "
                         f"{sorted(expected)}; was it saved with other --model options?")
    for name, owner, key in model.parameters():
        if params[name].shape != owner.params[key].shape:
            raise ValueError(f"checkpoint does not fit this model: {name} is {params[name].shape} there, "
                             f"{owner.params[key].shape} here")
        owner.params[key] = to_device(params[name], device)
    for layer, rng_state in zip([l for l in model.layers if isinstance(l, Dropout)], state["rng"]):
        layer.rng.bit_generator.state = rng_state


def save(path, state):
    """Write ``state`` (a dict) to ``path`` atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".checkpoint-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Read a checkpoint; a missing or damaged file gets an error that says what to do."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}: start a new run without --resume, "
                                "or point --out at the run directory to continue")
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as err:
        raise ValueError(f"checkpoint {path} is damaged or truncated ({err}); delete it to start over") from err
