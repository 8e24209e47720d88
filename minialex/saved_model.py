"""A trained network with what using it takes: the weights, the mean image, the crop and the class
names, from a run's checkpoint or from a weights file alone, so that using it (``visualize``,
``--eval-only``) needs no training data.

    saved = load_model("runs/demo")            # a run directory: its checkpoint.npz, else its model.npz
    saved = load_model("bvlc_alexnet.npz")     # a weights file (minialex.save, the converters)
    logits = saved.model.forward(center_crop(to_float(images, saved.mean), saved.crop))

``minialex.load`` is ``load_model``.
"""
import dataclasses
import os
from typing import Optional

import numpy as np

from . import checkpoint, weights
from .backend import check_device, default_device
from .config import TrainConfig, input_size
from .data import load_dataset, mean_image
from .layers import Sequential
from .models import build_model
from .run_check import check_run_state
from .run_files import CHECKPOINT, check_config_json
from .weights import RUN_FILE as WEIGHTS


@dataclasses.dataclass
class SavedModel:
    """A network as its checkpoint or weights file holds it, with what it takes to use it. The fields
    after ``model`` are None where the file does not say (a bare ``minialex.save(model, path)``)."""
    model: Sequential                # the network, with its saved weights
    mean: Optional[np.ndarray]       # float32 (C, H, W): the mean image, subtracted from every input
    crop: Optional[int]              # the input's side in pixels
    classes: Optional[list]          # the class names, by label
    config: Optional[TrainConfig]    # the training run's options (None for converted weights)
    epoch: Optional[int]             # epochs trained
    trained_on: Optional[str]        # the training set's name
    source: Optional[str] = None     # where converted weights came from, and how they were converted


def find(path):
    """The file ``load_model`` reads for ``path``: a file as it is; in a run directory its checkpoint,
    else (a run that kept only its weights, ``--keep weights``) its model.npz."""
    if os.path.isfile(path):
        return path
    if os.fspath(path).endswith(".npz"):
        raise FileNotFoundError(f"no weights file or checkpoint {path}")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no run directory or weights file {path}: train a run first, e.g. "
                                f"python -m minialex.train --out {path}")
    for name in (CHECKPOINT, WEIGHTS):
        if os.path.exists(os.path.join(path, name)):
            return os.path.join(path, name)
    checkpoint.refuse_legacy_pickle(os.path.join(path, CHECKPOINT))
    raise FileNotFoundError(f"{path} holds neither {CHECKPOINT} nor {WEIGHTS}: it is not a run directory of "
                            "python -m minialex.train, or its first epoch has not finished yet")


def load_model(path, device=None, log=print):
    """The SavedModel of ``path``: a run directory, a checkpoint or a weights file; its network on
    ``device`` (None: the run's own, else $MINIALEX_DEVICE or the CPU).

    It needs only that file. A checkpoint written before checkpoints held the mean image and the crop
    gets them as the run computed them, from its training set, which is loaded for that (``log``
    reports the loading)."""
    file = find(path)
    state = checkpoint.load(file)
    if weights.is_weights_file(state):
        return _from_weights(weights.check(state, file), file, device)
    if not (isinstance(state, dict) and {"config", "model", "classes", "epoch"} <= set(state)):
        raise ValueError(f"{file} is neither a minialex weights file nor a run's checkpoint")
    check_run_state(state, file)  # its structure: types, shapes, finite weights (run_check)
    config = _config(state["config"], file)
    run_dir = os.path.dirname(file)
    check_config_json(run_dir, config)
    device = device or config.device
    check_device(device)
    if "mean" in state:
        mean, crop, trained_on = state["mean"], state["crop"], state["trained_on"]
    else:
        train = load_dataset(config.dataset, config.data_dir, config.download, config.subset, config.seed,
                             config.val_dir, log=log)[0]
        mean, crop, trained_on = mean_image(train.images), input_size(config, train.images.shape[2]), train.name
    model = build_model(config, len(mean), len(state["classes"]), crop)
    model.to(device)
    checkpoint.load_model_state(model, state["model"])
    return SavedModel(model, mean, crop, state["classes"], config, state["epoch"], trained_on)


def _config(options, file):
    """The TrainConfig of a run's saved options, or a ValueError naming the file."""
    try:
        return TrainConfig(**options)
    except TypeError as err:
        raise ValueError(f"{file} holds options that are not a run's: {err}") from err


def _from_weights(state, file, device):
    """The SavedModel of a checked weights file (``weights.check``)."""
    config = _config(state["config"], file) if state["config"] is not None else None
    device = device or (config.device if config else default_device())
    check_device(device)
    dtype = next(iter(state["state_dict"].values())).dtype
    try:
        model = weights.build(state["layers"], dtype)
        model.load_state_dict(state["state_dict"])
    except ValueError as err:
        raise ValueError(f"{file}: {err}") from err
    model.to(device)
    return SavedModel(model, state["mean"], state["crop"], state["classes"], config, state["epoch"],
                      state["trained_on"], state["source"])
