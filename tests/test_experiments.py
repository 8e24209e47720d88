"""The experiment logic on tiny synthetic data: crossings, sweeps, resume, output files.
(The science is in results/, produced by the real runs.)"""
import json
import os
import pickle
from types import SimpleNamespace

import numpy as np
import pytest

from minialex.experiments import ablations, figure1


def write_cifar(root, n_train=200, n_test=40, seed=0):
    """A tiny CIFAR-10 in the official python-batch layout whose classes are learnable."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def batch(n, name):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, size=(n, 3, 32, 32)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, label % 3, 3 * label:3 * label + 3] = 255  # a coloured stripe says the class
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": images.reshape(n, -1), b"labels": labels.tolist(), b"batch_label": name.encode(),
                         b"filenames": [b"x.png"] * n}, f)

    for i in range(1, 6):
        batch(n_train // 5, f"data_batch_{i}")
    batch(n_test, "test_batch")
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)], b"num_vis": 3072}, f)
    return root


def test_epochs_to_target_uses_the_first_window_at_or_below():
    points = [{"epoch": 0.5, "train_error": 0.6}, {"epoch": 1.0, "train_error": 0.3},
              {"epoch": 1.5, "train_error": 0.2}, {"epoch": 2.0, "train_error": 0.26}]
    first, interpolated = figure1.epochs_to(points, 0.25)
    assert first == 1.5
    assert abs(interpolated - 1.25) < 1e-12
    assert figure1.epochs_to(points, 0.1) == (None, None)
    assert figure1.error_at(points, 1.2) == 0.3 and figure1.error_at(points, 0.1) == float("inf")


def test_figure1_reports_the_epochs_to_its_own_target(tmp_path, monkeypatch, capsys):
    """With --target 0.4 the crossing is at 1.5 epochs, not at 2.0 (where it reaches 25 %)."""
    points = [{"epoch": 0.5, "train_error": 0.7}, {"epoch": 1.0, "train_error": 0.5},
              {"epoch": 1.5, "train_error": 0.3}, {"epoch": 2.0, "train_error": 0.2}]
    finished_run = SimpleNamespace(points=points, history=[{"seconds": 1.0}], epoch=2)
    monkeypatch.setattr(figure1, "sweep", lambda args, activation, data: ([], 0.01))
    monkeypatch.setattr(figure1, "open_run", lambda args, activation, lr, data: finished_run)
    args = figure1.parse_args(["--out", str(tmp_path), "--target", "0.4", "--max-epochs", "3"])
    figure1.run_activation(args, "relu", data=None)
    summary = json.load(open(tmp_path / "relu.json"))
    assert "reached 40% after 1.50 epochs" in capsys.readouterr().out
    assert summary["epochs_to_target"] == 1.5 and abs(summary["epochs_to_target_interpolated"] - 1.25) < 1e-12
    assert summary["reached_target"] and summary["target_train_error"] == 0.4


def test_figure1_command_sweeps_runs_resumes_and_draws(tmp_path, capsys):
    data_dir = write_cifar(tmp_path / "data")
    out = tmp_path / "f1"
    args = ["--data-dir", str(data_dir), "--out", str(out), "--lrs", "0.001", "0.01", "--sweep-epochs", "0.5",
            "--max-epochs", "2", "--target", "0.6", "--points-per-epoch", "4", "--batch-size", "25", "--no-progress"]
    figure1.main(args)
    report = json.load(open(out / "figure1.json"))
    assert set(report["activations"]) == {"relu", "tanh"}
    for act, r in report["activations"].items():
        assert [row["lr"] for row in r["sweep"]] == [0.001, 0.01]
        assert r["lr"] == min(r["sweep"], key=lambda row: row["train_error_after_sweep"])["lr"]
        assert r["curve"][0][0] == 0.25  # four points per epoch
        assert r["max_epochs"] == 2 and r["device"] == "cpu"  # how the run was made, not the plot
        # Whether this tiny run gets there or not, the summary must say which, and stop accordingly:
        # at the crossing (or the end of the sweep, if it crossed there), else only after --max-epochs.
        crossing = next((epoch for epoch, error in r["curve"] if error <= 0.6), None)
        assert r["target_train_error"] == 0.6
        assert r["epochs_to_target"] == crossing and r["reached_target"] == (crossing is not None)
        assert r["epochs_trained"] == (2 if crossing is None else max(crossing, 0.5))
    assert os.path.getsize(out / "figure1.png") > 5000
    # Running again finds every run finished and changes nothing.
    before = {p: os.path.getmtime(out / p / "checkpoint.npz") for p in os.listdir(out) if (out / p).is_dir()}
    figure1.main(args)
    assert before == {p: os.path.getmtime(out / p / "checkpoint.npz") for p in before}
    assert json.load(open(out / "figure1.json"))["activations"] == report["activations"]


def test_ablation_command_writes_curves_and_table(tmp_path):
    data_dir = write_cifar(tmp_path / "data")
    out = tmp_path / "abl"
    ablations.main(["dropout", "--data-dir", str(data_dir), "--out", str(out), "--epochs", "2",
                    "--batch-size", "50", "--no-progress"])
    result = json.load(open(out / "dropout.json"))
    assert set(result["variants"]) == {"on", "off"} and len(result["variants"]["on"]["curve"]) == 2
    assert os.path.getsize(out / "dropout.png") > 5000
    assert {p.name for p in out.iterdir() if p.is_dir()} == {"baseline", "dropout-on"}  # "off" is the shared plain net
    table = open(out / "ablations.md").read()
    assert table.count("dropout 0.5") == 2


def test_figure1_interrupt_says_how_to_continue(tmp_path, monkeypatch):
    data_dir = write_cifar(tmp_path / "data")

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(figure1, "run_activation", ctrl_c)
    with pytest.raises(SystemExit, match="rerun the same command to continue"):
        figure1.main(["--data-dir", str(data_dir), "--out", str(tmp_path / "f1"), "--no-progress"])
