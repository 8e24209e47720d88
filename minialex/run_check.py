"""Checking what a checkpoint holds before a run uses it.

A checkpoint's SHA-256 checksum (``checkpoint.py``) proves that the file is
the one that was saved, not that minialex saved it: anyone can write a file
with a checksum that fits. So before ``--resume``, ``--eval-only`` or
``visualize`` use a checkpoint, every entry is checked here: the keys, the
types, the ranges, the shapes and dtypes of the arrays, and that the numbers
that must be finite are (NaN weights mean a damaged file, not a learning rate
to lower). A checkpoint that fails gets one line (a ``ValueError``) naming the
file and the entry.

    state = load_run_state("runs/demo/checkpoint.npz")   # checkpoint.load, then check_run_state
    ...build the Trainer from state["config"]...
    check_fits(state, trainer, path)                      # the optimiser's and schedule's state fit them

The checks are generic: an optimiser's or a schedule's saved state must have
the keys and kinds of values of the ``state_dict()`` of a fresh one, so a new
optimiser needs nothing here.
"""
import dataclasses
import math
import numbers

import numpy as np

from . import checkpoint
from .config import FIELDS, TrainConfig, check_config
from .run_state import EpochProgress

WHAT_TO_DO = checkpoint.WHAT_TO_DO
MAX_CLASSES = 100_000   # ImageNet has 21,841 in all; more is not a class list
MAX_NAME = 1_000        # characters in a class name


class CheckpointError(ValueError):
    """A checkpoint whose content is not what minialex writes."""


def load_run_state(path):
    """The state in the checkpoint at ``path`` (``checkpoint.load``), after ``check_run_state``."""
    state = checkpoint.load(path)
    check_run_state(state, path)
    return state


def check_run_state(state, path):
    """Raise a CheckpointError naming ``path`` and the entry, for the first entry of a run's ``state``
    that is not what ``Trainer.state`` writes. Entries it does not know are ignored: nothing reads them."""
    try:
        _check_state(state)
    except _Bad as bad:
        raise CheckpointError(f"checkpoint {path} is not a minialex run's: {_one_line(bad)}; {WHAT_TO_DO}") from None


def check_fits(state, trainer, path):
    """Raise a CheckpointError unless the checkpoint's weights, optimiser and schedule states fit those of
    ``trainer`` (built from the checkpoint's options, before they are loaded into it)."""
    try:
        ours = {name: w.shape for name, w in trainer.model.named_parameters().items()}
        saved = {name: w.shape for name, w in state["model"]["params"].items()}
        _need(saved == ours, f"its weights are not those of its own --model options: {_differ(saved, ours)}")
        _check_like(state["optimizer"], trainer.optimizer.state_dict(), "optimizer")
        _check_like(state["schedule"], trainer.schedule.state_dict(), "schedule")
    except _Bad as bad:
        raise CheckpointError(f"checkpoint {path} does not fit its own run: {_one_line(bad)}; {WHAT_TO_DO}") from None


def _differ(saved, ours):
    """The first difference between two {name: shape} dicts, in words."""
    for name in sorted(set(saved) | set(ours)):
        if saved.get(name) != ours.get(name):
            return f"{name} is {saved.get(name, 'missing')} there, {ours.get(name, 'missing')} in the network"
    return "none"


class _Bad(Exception):
    """What is wrong, in words; check_run_state adds the file."""


def _one_line(bad, limit=300):
    """The message of ``bad`` on one line (an array's repr has several) and at most ``limit`` characters."""
    text = " ".join(str(bad).split())
    return text if len(text) <= limit else text[:limit] + "..."


# -- the parts of a run's state -------------------------------------------------------------------


def _check_state(state):
    _need(isinstance(state, dict), "it holds no dict of entries")
    missing = [key for key in ("config", "model", "optimizer", "schedule", "epoch", "history", "points",
                               "position", "stopped", "classes") if key not in state]
    _need(not missing, f"it has no {', '.join(repr(k) for k in missing)}")
    config = _check_config(state["config"])
    params = _check_model(state["model"])
    _check_numbers_dict(state["optimizer"], "optimizer", params)
    _check_numbers_dict(state["schedule"], "schedule", params)
    epoch = state["epoch"]
    _need(_is_int(epoch) and 0 <= epoch <= config.epochs,
          f"'epoch' must be a whole number from 0 to the run's {config.epochs} epochs, not {epoch!r}")
    _check_records(state["history"], "history", ("epoch",))
    _need(len(state["history"]) == epoch, f"'history' has {len(state['history'])} epochs, 'epoch' says {epoch}")
    _check_records(state["points"], "points", ("epoch", "train_loss", "train_error"))
    _need(isinstance(state["stopped"], bool), f"'stopped' must be True or False, not {state['stopped']!r}")
    _check_position(state["position"])
    classes = state["classes"]
    _need(isinstance(classes, list) and 1 <= len(classes) <= MAX_CLASSES
          and all(isinstance(c, str) and len(c) <= MAX_NAME for c in classes),
          f"'classes' must be a list of 1 to {MAX_CLASSES:,} names (str)")
    if "mean" in state:  # checkpoints from before it was saved have neither the mean image nor the crop
        mean, crop = state["mean"], state.get("crop")
        _need(_is_array(mean, "f") and mean.ndim == 3 and np.isfinite(mean).all(),
              "'mean' must be a finite float image (C, H, W)")
        _need(_is_int(crop) and 1 <= crop <= min(mean.shape[1:]),
              f"'crop' must be a whole number of pixels within the {mean.shape[1]}x{mean.shape[2]} mean image, "
              f"not {crop!r}")
        _need(isinstance(state.get("trained_on"), str), "'trained_on' must be a name (str)")


def _check_config(saved):
    """The run's TrainConfig, from a dict whose keys are its fields and whose values have their types."""
    _need(isinstance(saved, dict), "'config' must be a dict of options")
    unknown = sorted(str(key) for key in saved if key not in FIELDS)
    _need(not unknown, f"'config' has options this minialex does not know: {', '.join(unknown)}")
    for name, value in saved.items():
        f = FIELDS[name]
        if value is None and f.default is None:
            continue
        _need(_has_type(value, f.type), f"the option {name} must be {_type_name(f.type)}, not {value!r}")
    try:
        config = TrainConfig(**saved)
        check_config(config)
    except (ValueError, TypeError) as err:
        raise _Bad(f"its options cannot make a run ({err})") from None
    return config


def _check_model(model):
    """The model's parameters (a dict of finite float arrays), buffers and layer states."""
    _need(isinstance(model, dict) and isinstance(model.get("params"), dict) and model["params"],
          "'model' must hold a dict 'params' of arrays")
    _need(isinstance(model.get("buffers", {}), dict), "'model' must hold a dict 'buffers' of arrays")
    for part in ("params", "buffers"):
        for name, array in model.get(part, {}).items():
            _need(isinstance(name, str) and _is_array(array, "f"), f"model {part} {name!r} is not a float array")
            _need(bool(np.isfinite(array).all()), f"model {part} {name!r} holds NaN or infinite values: the "
                  "file is damaged (a run never saves such weights)")
    _need(isinstance(model.get("rng"), list), "'model' must hold a list 'rng' of the layers' random states")
    for i, generator in enumerate(model["rng"]):
        _check_generator_state(generator, f"model['rng'][{i}]")
    return model["params"]


def _check_numbers_dict(saved, what, params):
    """An optimiser's or schedule's state: str keys; numbers, text, None, lists of numbers, or per-parameter
    dicts of finite arrays shaped like the parameters."""
    _need(isinstance(saved, dict) and all(isinstance(key, str) for key in saved),
          f"'{what}' must be a dict of named values")
    for key, value in saved.items():
        if isinstance(value, dict):
            _check_per_parameter(value, f"{what}[{key!r}]", params)
        elif isinstance(value, (list, tuple)):
            _need(all(_is_number(v) for v in value), f"{what}[{key!r}] must hold numbers, not {value!r}")
        else:
            _need(value is None or isinstance(value, str) or _is_number(value),
                  f"{what}[{key!r}] must be a number, not {value!r}")


def _check_per_parameter(arrays, where, params):
    for name, array in arrays.items():
        _need(name in params, f"{where} has an entry {name!r} for no parameter of the model")
        _need(_is_array(array, "f") and array.shape == params[name].shape,
              f"{where}[{name!r}] must be a float array of the shape of the parameter, {params[name].shape}")
        _need(bool(np.isfinite(array).all()), f"{where}[{name!r}] holds NaN or infinite values: the file is damaged")


def _check_like(saved, fresh, what):
    """``saved`` must have exactly the keys of ``fresh`` (a new optimiser's or schedule's state_dict), each
    with the same kind of value."""
    missing, unknown = sorted(set(fresh) - set(saved)), sorted(set(saved) - set(fresh))
    _need(not missing, f"'{what}' lacks {', '.join(map(repr, missing))}")
    _need(not unknown, f"'{what}' has entries its {what} does not know: {', '.join(map(repr, unknown))}")
    for key, value in fresh.items():
        mine = saved[key]
        if isinstance(value, dict):
            _need(isinstance(mine, dict), f"{what}[{key!r}] must be a dict of arrays")
        elif isinstance(value, (list, tuple)):  # a resumed run may change their length (--milestones)
            _need(isinstance(mine, (list, tuple)), f"{what}[{key!r}] must be a list of numbers, not {mine!r}")
        elif value is None:
            _need(mine is None or _is_number(mine), f"{what}[{key!r}] must be a number or None, not {mine!r}")
        elif _is_number(value):  # infinite only where a fresh one is (a plateau's best error so far)
            _need(_is_number(mine) and (math.isfinite(mine) or not math.isfinite(value)),
                  f"{what}[{key!r}] must be a finite number, not {mine!r}")
        else:
            _need(type(mine) is type(value), f"{what}[{key!r}] must be a {type(value).__name__}, not {mine!r}")


def _check_records(records, what, required):
    _need(isinstance(records, list) and all(isinstance(r, dict) for r in records),
          f"'{what}' must be a list of records (dicts)")
    for r in records:  # NaN and infinities may be there: they are what happened (metrics.jsonl writes null)
        _need(all(isinstance(k, str) and _is_real(v) for k, v in r.items())
              and all(_is_real(r.get(k)) for k in required),
              f"'{what}' holds a record that is not one of numbers with {', '.join(required)}: {r!r}")


def _check_position(saved):
    """None, or where an interrupted epoch stopped (``run_state.EpochProgress``)."""
    if saved is None:
        return
    try:
        progress = EpochProgress.from_state(saved)
    except (TypeError, ValueError, KeyError) as err:
        raise _Bad(f"'position' is not where an epoch stopped ({err})") from None
    for f in dataclasses.fields(progress):
        value = getattr(progress, f.name)
        if f.type is dict or f.type == "dict":
            _check_generator_state(value, f"position {f.name}")
        else:
            _need(_has_type(value, int if f.type in (int, "int") else float) and value >= 0
                  and math.isfinite(value), f"position {f.name} must be a number >= 0, not {value!r}")


def _check_generator_state(state, where):
    try:
        np.random.default_rng().bit_generator.state = state
    except (ValueError, TypeError, KeyError, OverflowError) as err:
        raise _Bad(f"{where} is not a random generator's state ({err})") from None


# -- small tests -----------------------------------------------------------------------------


def _need(ok, message):
    if not ok:
        raise _Bad(message)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_number(value):
    """A real number, not NaN (infinities pass)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not (
        isinstance(value, float) and math.isnan(value))


def _is_array(value, kinds):
    return isinstance(value, np.ndarray) and value.dtype.kind in kinds


def _has_type(value, annotation):
    """Whether a JSON-read option ``value`` has the type that its field is annotated with."""
    name = annotation if isinstance(annotation, str) else annotation.__name__
    if name == "bool":
        return isinstance(value, bool)
    if name == "int":
        return _is_int(value)
    if name == "float":
        return _is_number(value)
    if name == "str":
        return isinstance(value, str)
    if name == "tuple":
        return isinstance(value, (list, tuple)) and all(_is_int(v) for v in value)
    return True  # a type this check does not know: check_config's rules still apply


def _type_name(annotation):
    name = annotation if isinstance(annotation, str) else annotation.__name__
    return {"bool": "True or False", "int": "a whole number", "float": "a number", "str": "text",
            "tuple": "a list of whole numbers"}.get(name, name)
