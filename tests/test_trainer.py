"""The training loop: exact resume, Ctrl-C, divergence, checkpoints, the CLI."""
import json
import os
import signal

import numpy as np
import pytest

from minialex import checkpoint
from minialex.data import ArrayDataset
from minialex.optim import parameter_state
from minialex.train import main
from minialex.run_files import CHECKPOINT
from minialex.run_state import EpochProgress
from minialex.config import TrainConfig
from minialex.trainer import Trainer, TrainingDiverged


def toy_data(n=96, channels=3, size=12, seed=0):
    """Images whose class is visible (a bright stripe at a class-dependent row)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    images = rng.integers(0, 60, size=(n, channels, size, size)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, :, 2 * label + 1] = 250
    split = n * 3 // 4
    classes = ["a", "b", "c", "d"]
    return (ArrayDataset(images[:split], labels[:split], classes, "toy-train"),
            ArrayDataset(images[split:], labels[split:], classes, "toy-test"))


def config(**overrides):
    base = dict(dataset="toy", epochs=2, batch_size=16, lr=0.01, dropout=0.5, augment=True, points_per_epoch=3)
    base.update(overrides)
    return TrainConfig(**base)


def params(trainer):
    return {name: w.copy() for name, w in trainer.model.named_parameters().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def test_resume_between_epochs_is_bit_identical(tmp_path):
    data = toy_data()
    straight = Trainer(config(), tmp_path / "straight", data=data, progress=False, log=lambda s: None)
    straight.fit()
    first = Trainer(config(epochs=1), tmp_path / "split", data=data, progress=False, log=lambda s: None)
    first.fit()
    resumed = Trainer.resume(tmp_path / "split", epochs=2, data=data, progress=False, log=lambda s: None)
    assert resumed.epoch == 1
    resumed.fit()
    assert_same(params(straight), params(resumed))
    assert straight.history[-1]["train_loss"] == resumed.history[-1]["train_loss"]
    assert straight.points == resumed.points


def write_the_old_layout(path):
    """Rewrite the checkpoint at ``path`` as checkpoints were before they held the network's input (mean
    image, crop, training set's name) and before EpochProgress (the epoch's position as lists)."""
    state = checkpoint.load(path)
    for key in ("mean", "crop", "trained_on"):
        del state[key]
    p = state["position"]
    if p is not None:
        state["position"] = {"batch": p["batch"], "rng": p["rng_state"],
                             "sums": [p["loss_sum"], p["error_sum"], p["seen"]],
                             "window": [p["window_loss"], p["window_errors"], p["window_seen"]], "points": p["points"]}
    checkpoint.save(path, state)


@pytest.mark.parametrize("layout, options", [
    ("current", {}), ("old", {}),
    ("current", {"optimizer": "adam", "lr": 0.001}),  # Adam's moments and step count
    ("current", {"batch_norm": True}),                 # the running statistics
])
def test_interrupt_mid_epoch_saves_and_resumes_exactly(tmp_path, layout, options):
    data = toy_data()
    straight = Trainer(config(**options), tmp_path / "straight", data=data, progress=False, log=lambda s: None)
    straight.fit()

    interrupted = Trainer(config(**options), tmp_path / "cut", data=data, progress=False, log=lambda s: None)
    step, calls = interrupted.optimizer.step, []

    def step_then_ctrl_c(lr=None):  # Ctrl-C arrives during the 7th update of the run
        step(lr)
        calls.append(1)
        if len(calls) == 7:
            os.kill(os.getpid(), signal.SIGINT)

    interrupted.optimizer.step = step_then_ctrl_c
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit()
    saved = checkpoint.load(tmp_path / "cut" / CHECKPOINT)
    assert saved["epoch"] == 1 and saved["position"]["batch"] == 2  # 5 batches per epoch; stopped after the 2nd
    if layout == "old":
        write_the_old_layout(tmp_path / "cut" / CHECKPOINT)

    resumed = Trainer.resume(tmp_path / "cut", data=data, progress=False, log=lambda s: None)
    assert resumed.position == EpochProgress.from_state(saved["position"])
    resumed.fit()
    assert_same(straight.model.state_dict(), resumed.model.state_dict())  # parameters and buffers
    for key, arrays in parameter_state(straight.optimizer.state_dict()).items():
        assert_same(arrays, parameter_state(resumed.optimizer.state_dict())[key])
    assert resumed.points == straight.points


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_stops_with_a_clear_message_and_keeps_the_checkpoint(tmp_path):
    data = toy_data()
    trainer = Trainer(config(epochs=1), tmp_path / "run", data=data, progress=False, log=lambda s: None)
    trainer.fit()
    before = params(trainer)
    trainer = Trainer.resume(tmp_path / "run", epochs=3, data=data, progress=False, log=lambda s: None)
    trainer.optimizer.lr = 1e30
    with pytest.raises(TrainingDiverged, match="learning rate .* too high"):
        trainer.fit()
    kept = Trainer.resume(tmp_path / "run", data=data, progress=False, log=lambda s: None)
    assert kept.epoch == 1
    assert_same(before, params(kept))


def test_outputs_of_a_run(tmp_path):
    trainer = Trainer(config(), tmp_path / "run", data=toy_data(), progress=False, log=lambda s: None)
    history = trainer.fit()
    assert [h["epoch"] for h in history] == [1, 2]
    lines = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    epochs = [line for line in lines if line["kind"] == "epoch"]
    assert len(epochs) == 2 and {"train_loss", "train_error", "val_top1_error", "val_top5_error"} <= set(epochs[0])
    assert len([line for line in lines if line["kind"] == "point"]) == 6
    assert os.path.getsize(tmp_path / "run" / "curves.png") > 1000
    assert json.load(open(tmp_path / "run" / "config.json"))["batch_size"] == 16


def test_ten_crop_evaluation(tmp_path):
    trainer = Trainer(config(epochs=1, crop=14, augment=True), tmp_path / "run", data=toy_data(size=16),
                      progress=False, log=lambda s: None)
    trainer.fit()
    single, ten = trainer.evaluate(), trainer.evaluate(ten_crops=True)
    # By hand: the softmax of each of the ten patches, averaged, as section 4.1 tests.
    from minialex.data import ten_crop, to_float
    from minialex.functional import softmax
    test = trainer.test_set
    trainer.model.eval()
    views = ten_crop(to_float(test.images, trainer.mean), 14)
    probs = np.mean([softmax(trainer.model.forward(np.ascontiguousarray(v)).astype(np.float64)) for v in views],
                    axis=0)
    assert ten["top1_error"] == pytest.approx(np.mean(probs.argmax(axis=1) != test.labels))
    assert ten["loss"] == pytest.approx(-np.mean(np.log(probs[np.arange(len(test.labels)), test.labels] + 1e-12)))
    assert ten["loss"] != single["loss"]


def test_damaged_checkpoint_gives_a_clear_error(tmp_path):
    path = tmp_path / CHECKPOINT
    checkpoint.save(path, {"weights": np.ones(100)})
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ValueError, match="damaged or truncated"):
        checkpoint.load(path)
    with pytest.raises(FileNotFoundError, match="without --resume"):
        checkpoint.load(tmp_path / "missing.npz")


def test_cli_trains_resumes_and_evaluates(tmp_path, capsys):
    out = str(tmp_path / "run")
    args = ["--epochs", "1", "--subset", "300", "--batch-size", "64", "--out", out, "--no-progress"]
    assert main(args) == 0
    assert "epoch   1/1" in capsys.readouterr().out
    assert main(args) == 1  # the directory holds a run: refuse to overwrite it
    assert "add --resume" in capsys.readouterr().err
    assert main(["--out", out, "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert "resuming after epoch 1" in capsys.readouterr().out
    assert main(["--out", out, "--eval-only", "--ten-crop", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "centre crop" in printed and "ten crops" in printed


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["--dataset", "cifar10", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")]) == 1
    assert "--download" in capsys.readouterr().err
    assert main(["--out", str(tmp_path / "none"), "--resume"]) == 1
    assert "no checkpoint" in capsys.readouterr().err


def test_warmup_scales_the_first_steps_and_resumes_exactly(tmp_path):
    data = toy_data()
    seen = []
    trainer = Trainer(config(epochs=2, warmup=1.0, lr=0.01), tmp_path / "w", data=data, progress=False,
                      log=lambda s: None)
    real_step = trainer.optimizer.step
    trainer.optimizer.step = lambda lr=None: seen.append(lr) or real_step(lr)
    trainer.fit()
    batches = 5  # 72 training images in batches of 16
    assert np.allclose(seen[:batches], [0.01 * (b + 1) / batches for b in range(batches)])
    assert np.allclose(seen[batches:], 0.01), "after the warm-up, the scheduled rate"
    first = Trainer(config(epochs=1, warmup=1.0), tmp_path / "split", data=data, progress=False, log=lambda s: None)
    first.fit()
    resumed = Trainer.resume(tmp_path / "split", epochs=2, data=data, progress=False, log=lambda s: None)
    resumed.fit()
    assert_same(params(trainer), params(resumed))


def test_a_loss_far_above_chance_gets_a_warning(tmp_path):
    messages = []
    trainer = Trainer(config(epochs=1, dropout=0.0, lr=1e-9, batch_size=8), tmp_path / "run",
                      data=toy_data(), progress=False, log=messages.append)
    trainer.model["fc"].params["b"][:] = [0, 0, 60, 0]  # confidently "c" for every image: loss about 45
    trainer.fit()
    warnings = [m for m in messages if "above 3 x ln(4)" in m]
    assert len(warnings) == 1 and "--lr" in warnings[0] and "--warmup" in warnings[0]


def test_training_learns_the_toy_problem_and_one_class_answers_get_a_warning(tmp_path):
    messages = []
    data = toy_data(n=96)
    trainer = Trainer(config(epochs=1), tmp_path / "run", data=data, progress=False, log=messages.append)
    fc = trainer.model["fc"]
    fc.params["W"][:] = 0
    fc.params["b"][:] = [0, 0, 5, 0]  # every image gets class "c"
    result = trainer.evaluate()
    assert result["top_class"] == "c" and result["top_class_share"] == 1.0 and result["images"] == 24
    trainer.guard_rails.warn_if_one_class(result)
    assert any("predicts 'c' for 100% of the 24 validation images" in m for m in messages)
    messages.clear()
    trainer.guard_rails.warned.clear()
    trainer.config.epochs = 3
    trainer.fit()  # lr 0.01 does not undo a bias of 5 in one epoch: two one-class epochs in a row
    assert sum("predicts 'c'" in m for m in messages) == 1, "warned once, at the second epoch"

    # This toy network answers one class for 7 epochs (the warning's "train longer"), then learns.
    learned = Trainer(config(epochs=12, dropout=0.0, augment=False, lr=0.003, schedule="constant"),
                      tmp_path / "learned", data=toy_data(n=256), progress=False, log=lambda s: None)
    learned.fit()
    assert learned.history[-1]["val_top1_error"] < 0.3
    result = learned.evaluate()
    learned.guard_rails.warned.clear()
    learned.guard_rails.log = messages.append
    messages.clear()
    learned.guard_rails.warn_if_one_class(result)
    assert result["top_class_share"] < 0.5 and messages == []


def test_init_is_for_alexnet_only(tmp_path):
    with pytest.raises(ValueError, match="init 'caffe' is for alexnet"):
        Trainer(config(init="caffe"), tmp_path / "run", data=toy_data(), progress=False, log=lambda s: None)
