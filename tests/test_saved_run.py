"""A run's network from its checkpoint alone (saved_model.load_model): --eval-only and visualize need no
training images; checkpoints written before the checkpoint held the network's input still work."""
import shutil

import numpy as np
import pytest
from PIL import Image

from minialex import checkpoint, saved_model, train, trainer as trainer_module, visualize
from minialex.data.batches import model_input
from minialex.run_files import CHECKPOINT
from minialex.saved_model import load_model
from minialex.config import TrainConfig
from minialex.trainer import Trainer

from test_trainer import config, toy_data, write_the_old_layout


def quiet(message):
    pass


def no_data(*args, **kwargs):
    raise AssertionError("the data set was loaded")


def test_the_checkpoint_alone_gives_the_network_and_its_input(tmp_path, monkeypatch):
    data = toy_data()
    trainer = Trainer(config(epochs=1), tmp_path / "run", data=data, progress=False, log=quiet)
    trainer.fit()
    monkeypatch.setattr(trainer_module, "load_dataset", no_data)
    monkeypatch.setattr(saved_model, "load_dataset", no_data)
    saved = load_model(tmp_path / "run")
    assert saved.mean.dtype == np.float32 and np.array_equal(saved.mean, trainer.mean)
    assert (saved.crop, saved.classes, saved.trained_on, saved.epoch) == (12, ["a", "b", "c", "d"], "toy-train", 1)
    x = model_input(data[1].images, saved.mean, saved.crop)
    assert np.array_equal(saved.model.eval().forward(x), trainer.model.eval().forward(x))


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    """A one-epoch run on 300 images of the embedded sample: (its directory, its Trainer)."""
    run_dir = tmp_path_factory.mktemp("saved") / "run"
    run = Trainer(TrainConfig(epochs=1, subset=300, batch_size=50, seed=0), run_dir, progress=False, log=quiet)
    run.fit()
    return run_dir, run


def test_a_checkpoint_from_before_gets_the_mean_image_from_the_training_set(embedded_run, tmp_path, capsys):
    run_dir, run = embedded_run
    evaluate = ["--out", str(run_dir), "--eval-only", "--ten-crop", "--no-progress"]
    assert train.main(evaluate) == 0
    current = capsys.readouterr().out
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    write_the_old_layout(old / CHECKPOINT)
    assert "mean" not in checkpoint.load(old / CHECKPOINT)

    saved = load_model(old, log=quiet)
    assert np.array_equal(saved.mean, run.mean) and saved.crop == run.crop == 28
    assert saved.trained_on == run.train_set.name
    assert train.main(["--out", str(old), *evaluate[2:]]) == 0
    assert capsys.readouterr().out == current, "the same numbers as from the current checkpoint"
    assert visualize.main(["kernels", str(old)]) == 0
    assert (old / "kernels.png").is_file()


def write_images(root, classes, per_class):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (40 + i, 32), (60 * c, 20 * i, 200 - 60 * c)).save(root / name / f"{i}.png")


def test_eval_only_and_visualize_need_no_training_images(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path / "cache"))
    photos = tmp_path / "photos"
    write_images(photos / "train", ("ants", "bees"), 4)
    write_images(photos / "val", ("ants", "bees"), 2)
    out = str(tmp_path / "run")
    assert train.main(["--dataset", "folder", "--data-dir", str(photos), "--crop", "32", "--epochs", "1",
                       "--batch-size", "4", "--out", out, "--no-progress"]) == 0
    shutil.rmtree(photos / "train")
    shutil.rmtree(tmp_path / "cache")  # nor any decoded copy of them
    capsys.readouterr()

    assert train.main(["--out", out, "--eval-only", "--no-progress"]) == 0
    assert "photos-val (validation, centre crop): top-1 error" in capsys.readouterr().out
    assert visualize.main(["kernels", out]) == 0
    assert visualize.main(["predictions", out, "--n", "2"]) == 0
    assert visualize.main(["neighbours", out, "--n", "1", "--k", "1"]) == 1  # by its nature
    assert "error: " in capsys.readouterr().err

    other = tmp_path / "other"
    write_images(other / "val", ("ants", "wasps"), 1)
    (other / "train").mkdir()
    assert train.main(["--out", out, "--eval-only", "--data-dir", str(other), "--no-progress"]) == 1
    assert "(ants, wasps) are not those the run was trained on (ants, bees)" in capsys.readouterr().err


def test_train_error_tests_the_runs_own_training_images(embedded_run, capsys):
    run_dir, run = embedded_run
    assert train.main(["--out", str(run_dir), "--eval-only", "--train-error", "--no-progress"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if "training images" in l)
    expected = run.evaluate(run.train_set)  # the 300 images it trained on, centre crops, dropout off
    assert f"top-1 error {expected['top1_error']:.4f}" in line
    assert train.main(["--out", str(run_dir), "--train-error", "--no-progress"]) == 1  # a test: --eval-only only
