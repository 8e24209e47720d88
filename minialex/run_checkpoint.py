"""A run's checkpoint: what it holds (``state``), writing it with model.npz beside it (``save``), and
continuing from it (``read_run``, ``restore``), so that the resumed run goes on as the uninterrupted one
would have. Where an epoch stood is ``run_state``'s; the files' names and lock are ``run_files``'.

    Trainer.resume("runs/demo", epochs=10).fit()   # ``Trainer.resume`` is ``read_run`` then ``restore``

The checkpoint is a state of the run that its options define: the fields of CHANGEABLE_ON_RESUME (more
epochs, another rate) and WHERE_IT_RUNS (the device, where the data set is now) may change, and each change
is logged; another value for any other field is refused.
"""
import dataclasses
import os

from . import checkpoint, weights
from .config import CHANGEABLE_ON_RESUME, WHERE_IT_RUNS, TrainConfig, option_name
from .run_check import check_fits, load_run_state
from .run_files import CHECKPOINT, check_config_json
from .run_state import EpochProgress


def state(trainer):
    """What a checkpoint holds: everything to continue the run, and (mean, crop, classes, trained_on and the
    config's model options) everything to use its network without the training set (``load_model``)."""
    return {"config": dataclasses.asdict(trainer.config), "model": checkpoint.model_state(trainer.model),
            "optimizer": trainer.optimizer.state_dict(), "schedule": trainer.schedule.state_dict(),
            "epoch": trainer.epoch, "history": trainer.history, "points": trainer.points,
            "position": dataclasses.asdict(trainer.position) if trainer.position else None,
            "stopped": trainer.stopped, "classes": trainer.train_set.classes, "mean": trainer.mean,
            "crop": trainer.crop, "trained_on": trainer.train_set.name}


def save(trainer):
    """Write the run's checkpoint (the whole model's state, gathered from every process) and, unless the run
    keeps the checkpoint alone, model.npz: the network's weights (``minialex.weights``) with the mean image,
    crop, class names and options that ``load_model`` needs. Returns ``place(trainer)``, what it holds."""
    whole = trainer.parallel.full_state(state(trainer))
    if trainer.parallel.is_main:
        checkpoint.save(os.path.join(trainer.run_dir, CHECKPOINT), whole)
        if trainer.config.keep != "checkpoint":
            model = whole["model"]  # checkpoint.model_state of the whole network: its state dict, in two parts
            weights.write(os.path.join(trainer.run_dir, weights.RUN_FILE), trainer.architecture,
                          {**model["params"], **model.get("buffers", {})}, trainer.mean, trainer.crop,
                          trainer.train_set.classes, trainer.config.half_weights, whole["config"], trainer.epoch,
                          trainer.train_set.name)
    return place(trainer)


def place(trainer):
    """(epoch, batch): where the run stands (batch 0: between two epochs)."""
    return trainer.epoch, trainer.position.batch if trainer.position else 0


def read_run(run_dir, changes, log):
    """(checkpoint state, config, changed) of the run in ``run_dir``: its checkpoint (structure checked by
    ``run_check``), its config with ``changes`` applied (TrainConfig fields; None keeps the run's value),
    and the fields that changed. Refuses a change to a field that defines the run."""
    state = load_run_state(os.path.join(run_dir, CHECKPOINT))
    config = TrainConfig(**state["config"])
    check_config_json(run_dir, config)
    changed = {k: v for k, v in changes.items() if v is not None and v != getattr(config, k)}
    refused = [k for k in changed if k not in CHANGEABLE_ON_RESUME + WHERE_IT_RUNS]
    if refused:
        raise ValueError("a resumed run keeps its own " + ", ".join(
            f"{option_name(k)} (the run's {getattr(config, k)!r}, asked for {changed[k]!r})" for k in refused)
            + f": the checkpoint in {run_dir} is a state of the run they define. Leave them out, or start a "
            "new run (another --out) to train with them")
    for k, v in changed.items():
        was = state["optimizer"]["lr"] if k == "lr" else getattr(config, k)  # the rate may have dropped
        log(f"resuming with {option_name(k)} {v} (the run had {was})")
    return state, dataclasses.replace(config, **changed), changed


def restore(trainer, state, changed):
    """Give ``trainer``, built from the run's (changed) config, the checkpoint's state: weights, optimiser,
    schedule, epochs and curves so far, and where an interrupted epoch stopped."""
    config = trainer.config
    state = trainer.parallel.local_state(state)  # the model split: this process's half of the checkpoint
    check_fits(state, trainer, os.path.join(trainer.run_dir, CHECKPOINT))
    checkpoint.load_model_state(trainer.model, state["model"])
    trainer.optimizer.load_state_dict({**state["optimizer"], "lr": config.lr} if "lr" in changed
                                      else state["optimizer"], config.device)
    # The new schedule has the new options; the checkpoint gives it the rest (best error, drops so far).
    trainer.schedule.load_state_dict({k: v for k, v in state["schedule"].items() if k not in changed})
    for key in ("epoch", "history", "points", "stopped"):
        setattr(trainer, key, state[key])
    trainer.position = EpochProgress.from_state(state["position"]) if state["position"] else None
    trainer.saved = place(trainer)


def kept(run_dir, saved):
    """What the last checkpoint in ``run_dir`` holds, in a sentence, for the messages of a run that stopped.
    ``saved``: its (epoch, batch), batch 0 between two epochs; None: none was saved."""
    if saved is None:
        return f"No checkpoint was saved in {run_dir}: the run stopped before its first epoch ended."
    epoch, batch = saved
    return (f"The checkpoint in {run_dir} holds the run " +
            (f"at epoch {epoch + 1}, batch {batch}." if batch else f"after epoch {epoch}."))
