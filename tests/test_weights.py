"""Weights apart from training state (minialex.weights): minialex.save / minialex.load, a run's model.npz
and --keep, and what uses them (--eval-only, visualize); the slips of issue 28 in the same commands."""
import os
import signal

import numpy as np
import pytest

import minialex
from minialex import checkpoint, train, visualize, weights
from minialex.config import TrainConfig
from minialex.evaluation import one_class_warning
from minialex.layers import (AvgPool2d, Conv2d, Dropout, Flatten, Linear, LocalResponseNorm, MaxPool2d, ReLU,
                             Sequential, Tanh)
from minialex.plots import log_ticks
from minialex.run_files import CHECKPOINT
from minialex.saved_model import load_model
from minialex.trainer import Trainer, TrainingInterrupted

from test_trainer import config, toy_data


def quiet(message):
    pass


def odd_net():
    """Every kind of layer a weights file describes, on odd sizes: 3 channels of 11x9."""
    rng = np.random.default_rng(1)
    return Sequential(Conv2d(3, 4, (3, 2), stride=2, padding=1, rng=rng), Tanh(),
                      LocalResponseNorm(3, 2e-4, 0.6, 1.5, groups=2), MaxPool2d(2, 1, ceil_mode=True),
                      Conv2d(4, 6, 3, padding=1, groups=2, rng=rng), ReLU(), AvgPool2d(3, 2, padding=1), Flatten(),
                      Dropout(0.3, rng=rng), Linear(6 * 3 * 2, 5, bias=False, rng=rng),
                      names=["c1", "t1", "n1", "p1", "c2", "r2", "p2", "flat", "drop", "fc"])


def test_save_and_load_give_the_same_network(tmp_path):
    net = odd_net().eval()
    mean = np.full((3, 11, 9), 0.5, np.float32)
    path = minialex.save(net, tmp_path / "net.npz", mean=mean, crop=9, classes=list("vwxyz"))
    saved = minialex.load(path)
    x = np.random.default_rng(2).standard_normal((2, 3, 11, 9)).astype(np.float32)
    assert np.array_equal(saved.model.eval().forward(x), net.forward(x))
    assert repr(saved.model) == repr(net)
    assert np.array_equal(saved.mean, mean) and saved.crop == 9 and saved.classes == list("vwxyz")
    assert saved.config is None and saved.epoch is None
    assert "b" not in saved.model["fc"].params, "bias=False comes back"


def test_buffers_come_back_with_the_weights(tmp_path):
    """Batch normalisation's running statistics are state_dict entries, not parameters."""
    net = Sequential(Conv2d(3, 5, 3, bias=False), minialex.layers.BatchNorm2d(5), ReLU(), names=["c", "bn", "r"])
    x = np.random.default_rng(3).standard_normal((4, 3, 7, 6)).astype(np.float32)
    net.train().forward(x)  # moves the running statistics away from their initial values
    saved = minialex.load(minialex.save(net, tmp_path / "bn.npz"))
    assert np.array_equal(saved.model.eval().forward(x), net.eval().forward(x))


def test_half_weights_are_half_the_size_and_load_as_float32(tmp_path):
    net = minialex.figure1_net(in_channels=3, input_size=33).eval()
    full, half = tmp_path / "full.npz", tmp_path / "half.npz"
    minialex.save(net, full)
    minialex.save(net, half, half=True)
    assert os.path.getsize(half) < 0.55 * os.path.getsize(full)
    model = minialex.load(half).model.eval()
    assert all(w.dtype == np.float32 for w in model.state_dict().values())
    x = np.random.default_rng(0).standard_normal((2, 3, 33, 33)).astype(np.float32) * 50
    np.testing.assert_allclose(model.forward(x), net.forward(x), rtol=2e-2, atol=2e-3 * np.abs(net.forward(x)).max())


def write_state(path, **changes):
    """A weights file of odd_net() with some of its entries replaced (as an attacker or damage would)."""
    net = odd_net()
    state = {"format": weights.FORMAT, "layers": weights.architecture(net), "state_dict": net.state_dict(),
             "mean": None, "crop": None, "classes": None, "half": False, "config": None, "epoch": None,
             "trained_on": None, "source": None}
    state.update(changes)
    checkpoint.save(path, state)
    return path


@pytest.mark.parametrize("changes, message", [
    ({"layers": [["c1", "Popen", {}]]}, "is not \\[name, one of"),
    ({"layers": [["c1", "Conv2d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "shell": 1}]]},
     "has no argument shell"),
    ({"layers": [["c1", "Conv2d", {"in_channels": 3, "out_channels": 10 ** 9, "kernel_size": 3}]]},
     "larger than its weights allow"),
    ({"layers": [["c1", "Conv2d", {"in_channels": "3", "out_channels": 4, "kernel_size": 3}]]}, "must be numbers"),
    ({"classes": ["only one"]}, "'classes' must be 5 names"),
    ({"mean": np.zeros((11, 9), np.float32)}, "'mean' must be a \\(C, H, W\\)"),
    ({"format": "something else"}, "neither a minialex weights file nor a run's checkpoint"),
    ({"config": {"model": "figure1", "shell": "rm -rf"}}, "holds options that are not a run's"),
])
def test_a_bad_weights_file_is_refused_with_one_line_naming_it(tmp_path, changes, message):
    path = write_state(tmp_path / "bad.npz", **changes)
    with pytest.raises(ValueError, match=message) as err:
        minialex.load(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_weights_of_no_layer_and_a_damaged_file_are_refused(tmp_path):
    net = odd_net()
    stray = write_state(tmp_path / "stray.npz", state_dict={**net.state_dict(), "evil.W": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="evil.W, of no layer"):
        minialex.load(stray)
    path = minialex.save(net, tmp_path / "net.npz")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged"):
        minialex.load(damaged)
    with pytest.raises(FileNotFoundError, match="no weights file or checkpoint"):
        minialex.load(tmp_path / "missing.npz")


# -- a training run's model.npz and --keep ------------------------------------------------------


def test_a_run_writes_model_npz_which_gives_the_network_of_its_checkpoint(tmp_path):
    data = toy_data()
    run = Trainer(config(epochs=1), tmp_path / "run", data=data, progress=False, log=quiet)
    run.fit()
    from_checkpoint = load_model(tmp_path / "run")
    from_weights = load_model(tmp_path / "run" / weights.RUN_FILE)
    x = np.random.default_rng(0).standard_normal((3, 3, 12, 12)).astype(np.float32)
    assert np.array_equal(from_weights.model.eval().forward(x), from_checkpoint.model.eval().forward(x))
    assert np.array_equal(from_weights.mean, from_checkpoint.mean)
    assert (from_weights.crop, from_weights.classes, from_weights.epoch, from_weights.trained_on) == \
        (from_checkpoint.crop, from_checkpoint.classes, 1, "toy-train")
    assert from_weights.config == from_checkpoint.config


@pytest.mark.parametrize("keep, files", [("checkpoint", {CHECKPOINT}), ("weights", {weights.RUN_FILE}),
                                         ("both", {CHECKPOINT, weights.RUN_FILE})])
def test_keep_chooses_what_the_run_directory_keeps(tmp_path, keep, files):
    Trainer(config(epochs=2, keep=keep), tmp_path / "run", data=toy_data(), progress=False, log=quiet).fit()
    assert {f for f in os.listdir(tmp_path / "run") if f.endswith(".npz")} == files


def test_eval_only_and_visualize_use_a_run_that_kept_only_its_weights(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert train.main(["--subset", "100", "--epochs", "1", "--batch-size", "50", "--keep", "weights",
                       "--out", str(run_dir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "done: 1 epoch," in out, "one epoch, not '1 epochs'"
    assert sorted(f for f in os.listdir(run_dir) if f.endswith(".npz")) == [weights.RUN_FILE]
    for target in (run_dir, run_dir / weights.RUN_FILE):
        assert train.main(["--out", str(target), "--eval-only", "--no-progress"]) == 0
        assert "top-1 error" in capsys.readouterr().out
    assert visualize.main(["kernels", str(run_dir / weights.RUN_FILE), "--out", str(run_dir / "k.png")]) == 0
    assert (run_dir / "k.png").is_file()
    assert visualize.main(["predictions", str(run_dir), "--n", "2", "--out", str(run_dir / "p.png")]) == 0


def test_converted_weights_draw_kernels_but_name_no_data_set(tmp_path, capsys):
    path = minialex.save(minialex.figure1_net(), tmp_path / "net.npz", source="a test network (made here)")
    assert visualize.main(["kernels", str(path)]) == 0
    assert (tmp_path / "net-kernels.png").is_file()
    assert visualize.main(["predictions", str(path)]) == 1
    assert "names no data set" in capsys.readouterr().err
    assert train.main(["--out", str(path), "--eval-only"]) == 1
    assert "names no data set" in capsys.readouterr().err


# -- the slips ------------------------------------------------------------------------------------


def test_eval_only_without_a_run_does_not_talk_of_resume(tmp_path, capsys):
    assert train.main(["--out", str(tmp_path / "nothing"), "--eval-only"]) == 1
    err = capsys.readouterr().err
    assert "without --resume" not in err and "no run directory or weights file" in err


def test_an_interrupted_run_names_its_out_in_the_command_to_continue(tmp_path):
    messages = []

    def interrupt(trainer, point):  # as Ctrl-C's handler does, between two batches
        trainer.signal_received = signal.SIGINT

    run = Trainer(config(epochs=2), tmp_path / "run", data=toy_data(), progress=False, log=messages.append)
    with pytest.raises(TrainingInterrupted):
        run.fit(stop=interrupt)
    assert f"python -m minialex.train --out {tmp_path / 'run'} --resume" in messages[-1]


def test_the_collapse_advice_leaves_out_the_init_the_run_has():
    result = {"top_class_share": 1.0, "top_class": "tench", "images": 100}
    assert "--init caffe" in one_class_warning(result, 10, TrainConfig(model="alexnet"))
    assert "--init caffe" not in one_class_warning(result, 10, TrainConfig(model="alexnet", init="caffe"))
    assert "--init caffe" not in one_class_warning(result, 10, TrainConfig())


def test_help_texts_state_each_default_once_and_open_with_words(capsys):
    with pytest.raises(SystemExit):
        visualize.parse_args(["kernels", "--help"])
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "RUN_DIR/kernels.png" in text
    description = train.build_parser().description
    assert not description.startswith("``") and description[0].isupper()


def test_the_cifar_error_speaks_of_the_command_line(tmp_path):
    from minialex.data.cifar10 import load_cifar10

    with pytest.raises(FileNotFoundError) as err:
        load_cifar10(tmp_path)
    assert "--download" in str(err.value) and "download=True" not in str(err.value)


def test_long_class_names_are_cut_beside_their_bars():
    assert visualize.short_name("tench") == "tench"
    cut = visualize.short_name("great grey owl, great gray owl, Strix nebulosa")
    assert len(cut) <= 22 and cut.endswith("\u2026")


def test_the_loss_axis_is_labelled_over_its_whole_range():
    ticks = log_ticks(0.4, 2.3)
    assert min(ticks) <= 0.5 and max(ticks) >= 2 and any(1 < t < 2 for t in ticks)
    assert 4 <= len(log_ticks(0.67, 0.85)) <= 8, "a narrow range gets a finer series"


def test_predict_prints_the_top_classes_of_each_photo(tmp_path, capsys):
    from PIL import Image

    from minialex import predict

    classes = [f"class {c} with a long name" for c in "abcdefghij"]
    minialex.save(minialex.figure1_net(input_size=30), tmp_path / "net.npz", mean=np.full((3, 36, 36), 120,
                  np.float32), crop=30, classes=classes)
    photos = [tmp_path / "wide.png", tmp_path / "tall.jpg"]
    Image.new("RGB", (50, 40), (200, 30, 30)).save(photos[0])
    Image.new("RGB", (20, 64), (30, 30, 200)).save(photos[1])
    assert predict.main([str(tmp_path / "net.npz"), *map(str, photos), "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(photos[0]) and lines[4] == str(photos[1]) and len(lines) == 8
    assert all(line.strip().split("  ")[-1] in classes for line in lines[1:4] + lines[5:])
    assert predict.main([str(tmp_path / "net.npz"), str(tmp_path / "missing.png")]) == 1
    assert "missing.png" in capsys.readouterr().err
