"""A trained network from its checkpoint alone: the weights, the mean image, the crop and the class
names, so that using it (``visualize``, ``--eval-only``) needs no training data.

    saved = load_model("runs/demo")
    logits = saved.model.forward(center_crop(to_float(images, saved.mean), saved.crop))
"""
import dataclasses
import os

import numpy as np

from . import checkpoint
from .backend import check_device
from .config import TrainConfig, input_size
from .data import load_dataset, mean_image
from .layers import Sequential
from .models import build_model
from .run_files import CHECKPOINT, check_config_json


@dataclasses.dataclass
class SavedModel:
    """A run's network as its checkpoint holds it, with what it takes to use it."""
    model: Sequential      # the network, its weights from the checkpoint
    mean: np.ndarray       # float32 (C, H, W): the training set's mean image, subtracted from every input
    crop: int              # the input's side in pixels
    classes: list          # the class names, by label
    config: TrainConfig    # the run's options
    epoch: int             # epochs trained
    trained_on: str        # the training set's name


def load_model(run_dir, device=None, log=print):
    """The SavedModel of the run in ``run_dir``, its network on ``device`` (None: the run's own).

    It needs only the checkpoint. A checkpoint written before checkpoints held the mean image and the
    crop gets them as the run computed them, from its training set, which is loaded for that (``log``
    reports the loading)."""
    state = checkpoint.load(os.path.join(run_dir, CHECKPOINT))
    config = TrainConfig(**state["config"])
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
