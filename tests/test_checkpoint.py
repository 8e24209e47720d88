"""Checkpoints: an npz of arrays plus a JSON header, never a pickle, refused when damaged or altered."""
import json
import math
import os
import pickle
import re
import shlex

import numpy as np
import pytest

from minialex import checkpoint, run_checkpoint, train, visualize
from minialex.data import ArrayDataset
from minialex.run_files import CHECKPOINT
from minialex.config import TrainConfig
from minialex.trainer import Trainer


def assert_same(a, b, where="state"):
    """a and b are equal and of the same types all the way down (NaN equal to NaN)."""
    assert type(a) is type(b), where
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def nested_state():
    return {
        "arrays": [np.arange(6, dtype=np.int64).reshape(2, 3), np.linspace(0, 1, 5, dtype=np.float32),
                   np.array([0, 255], np.uint8), np.array([True, False]), np.array([1 + 2j], np.complex64),
                   np.array(7.5), np.zeros((0, 4)), np.asfortranarray(np.ones((3, 2))),
                   np.array([np.nan, np.inf], np.float16)],
        "big ints": [2 ** 200 + 1, -(2 ** 100), 0],
        "floats": [0.1, -0.0, 1e300, float("nan"), float("inf"), -float("inf")],
        "tuples": (1, ("a", None), ()),
        "none": None,
        "bools": [True, False],
        "numpy scalars": [np.float32(0.1), np.int64(3), np.bool_(True), np.float64("nan")],
        "other keys": {3: "three", (1, 2): "a tuple", None: 0, "$tuple": "a key that looks like a tag"},
        "text": "é ☃ \u0000",
        "generators": [np.random.default_rng(5).bit_generator.state,              # 128-bit integers
                       np.random.Generator(np.random.MT19937(5)).bit_generator.state],  # a uint32 array
    }


def test_a_nested_state_comes_back_exactly(tmp_path):
    state = nested_state()
    checkpoint.save(tmp_path / CHECKPOINT, state)
    loaded = checkpoint.load(tmp_path / CHECKPOINT)
    assert_same(state, loaded)
    assert loaded["arrays"][7].flags.f_contiguous
    pcg, mt = np.random.PCG64(), np.random.MT19937()
    pcg.state, mt.state = loaded["generators"]  # the restored generators draw what the originals draw
    assert np.random.Generator(pcg).random() == np.random.default_rng(5).random()
    assert np.random.Generator(mt).random() == np.random.Generator(np.random.MT19937(5)).random()


def test_the_file_is_plain_arrays_and_readable_json(tmp_path):
    checkpoint.save(tmp_path / CHECKPOINT, {"w": np.ones(3), "epoch": 2, "milestones": (5, 8)})
    with np.load(tmp_path / CHECKPOINT, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["a0", "header"]
        header = json.loads(npz["header"].tobytes().decode("utf-8"))
    assert header["format"] == checkpoint.FORMAT and len(header["sha256"]) == 64
    assert header["state"] == {"w": {"$array": "a0"}, "epoch": 2, "milestones": {"$tuple": [5, 8]}}


@pytest.mark.parametrize("value, fragment", [
    ({1, 2}, "state['bad'] in a checkpoint: it is a set"),
    (np.array([object()]), "state['bad'] in a checkpoint: an array of Python objects"),
    (b"bytes", "state['bad'] in a checkpoint: it is a bytes"),
])
def test_values_a_checkpoint_cannot_hold_are_refused_before_writing(tmp_path, value, fragment):
    with pytest.raises(TypeError, match=re.escape(fragment)):
        checkpoint.save(tmp_path / CHECKPOINT, {"good": 1, "bad": value})
    assert os.listdir(tmp_path) == []


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / CHECKPOINT
    checkpoint.save(path, {"epoch": 1})

    def disk_full(fd):
        raise OSError("no space left on device")

    monkeypatch.setattr(checkpoint.os, "fsync", disk_full)
    with pytest.raises(OSError):
        checkpoint.save(path, {"epoch": 2})
    monkeypatch.undo()
    assert checkpoint.load(path) == {"epoch": 1}
    assert os.listdir(tmp_path) == [CHECKPOINT], "no temporary file left behind"


# -- a real run's checkpoint --------------------------------------------------------------


def toy_data(n=32, size=12):
    """A tiny 4-class data set, enough for a trainer."""
    images = np.random.default_rng(0).integers(0, 255, size=(n, 3, size, size)).astype(np.uint8)
    labels, classes = np.arange(n) % 4, ["a", "b", "c", "d"]
    return (ArrayDataset(images[:24], labels[:24], classes, "toy-train"),
            ArrayDataset(images[24:], labels[24:], classes, "toy-test"))


@pytest.fixture
def saved_run(tmp_path):
    """The trainer of a one-epoch run (with dropout generators), its checkpoint in its run directory."""
    config = TrainConfig(dataset="toy", epochs=1, batch_size=8, dropout=0.5, schedule="step", milestones=(3,))
    trainer = Trainer(config, tmp_path / "run", data=toy_data(), progress=False, log=lambda s: None)
    trainer.fit()
    return trainer


def test_a_trainers_state_comes_back_exactly(saved_run):
    assert_same(run_checkpoint.state(saved_run), checkpoint.load(saved_run.run_dir / CHECKPOINT))


def rewrite(path, change):
    """Rewrite the npz at path after ``change(entries)``: a consistent zip, so only the checksum can tell."""
    with np.load(path, allow_pickle=False) as npz:
        entries = {name: npz[name].copy() for name in npz.files}
    change(entries)
    np.savez(path, **entries)


def flip_a_weight_byte(entries):
    weights = max((name for name in entries if name != "header"), key=lambda name: entries[name].nbytes)
    entries[weights].reshape(-1).view(np.uint8)[0] ^= 1


def edit_the_json(entries):
    header = json.loads(entries["header"].tobytes())
    header["state"]["epoch"] = 5
    entries["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)


@pytest.mark.parametrize("change", [flip_a_weight_byte, edit_the_json])
def test_an_altered_checkpoint_is_refused_by_its_checksum(saved_run, change):
    path = saved_run.run_dir / CHECKPOINT
    rewrite(path, change)
    with pytest.raises(ValueError, match=r"checkpoint .*checkpoint\.npz is damaged or was altered.*SHA-256 "
                                         r"checksum.*delete it, or resume from another copy"):
        checkpoint.load(path)


def test_a_byte_flipped_on_disk_is_refused(saved_run):
    path = saved_run.run_dir / CHECKPOINT
    raw = bytearray(path.read_bytes())
    weights = saved_run.model.parameters()[0]
    start = raw.index(weights.tobytes()[:32])
    raw[start + 10] ^= 1
    path.write_bytes(raw)
    with pytest.raises(ValueError, match="damaged or truncated.*CRC"):  # the zip's own checksum sees it first
        checkpoint.load(path)


# -- hostile files ------------------------------------------------------------------------------


class RunsCode:
    """Unpickling this calls ``action(*args)``: how a hostile pickle runs code."""

    def __init__(self, action, *args):
        self.action, self.args = action, args

    def __reduce__(self):
        return self.action, self.args


def payloads(marker):
    return {"os.system": RunsCode(os.system, f"touch {shlex.quote(str(marker))}"),
            "open": RunsCode(open, str(marker), "w")}


@pytest.mark.parametrize("payload", ["os.system", "open"])
def test_the_payloads_do_run_code_when_unpickled(tmp_path, payload):
    """So the tests below, where the marker file never appears, prove something."""
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(payloads(marker)[payload]))
    assert marker.exists()


def write_pickled_array_npz(run_dir, payload):
    np.savez(run_dir / CHECKPOINT, header=np.frombuffer(b"{}", np.uint8), a0=np.array([payload], dtype=object))


def write_pickle_named_npz(run_dir, payload):
    (run_dir / CHECKPOINT).write_bytes(pickle.dumps({"model": payload}))


def write_legacy_pickle(run_dir, payload):
    (run_dir / "checkpoint.pkl").write_bytes(pickle.dumps({"model": payload}))


@pytest.mark.parametrize("payload", ["os.system", "open"])
@pytest.mark.parametrize("write, message", [
    (write_pickled_array_npz, "damaged or truncated, or not a minialex checkpoint"),
    (write_pickle_named_npz, "damaged or truncated, or not a minialex checkpoint"),
    (write_legacy_pickle, "checkpoint.pkl is an old pickle checkpoint.*no longer loads pickles.*Train the run again"),
])
def test_a_hostile_checkpoint_is_refused_and_runs_nothing(tmp_path, capsys, payload, write, message):
    run_dir, marker = tmp_path / "run", tmp_path / "marker"
    run_dir.mkdir()
    write(run_dir, payloads(marker)[payload])
    with pytest.raises(ValueError, match=message):
        Trainer.resume(run_dir, data=toy_data(), progress=False, log=lambda s: None)
    for command in (lambda: train.main(["--out", str(run_dir), "--resume", "--no-progress"]),
                    lambda: train.main(["--out", str(run_dir), "--eval-only", "--no-progress"]),
                    lambda: visualize.main(["kernels", str(run_dir)])):
        assert command() == 1
        assert re.search(message, capsys.readouterr().err)
    assert not marker.exists()
