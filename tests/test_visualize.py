"""python -m minialex.visualize: the pictures of section 6.1 from a run directory."""
import numpy as np
import pytest

from minialex import visualize
from minialex.layers import Conv2d, Dropout, Flatten, Linear, ReLU, Sequential
from minialex.config import TrainConfig
from minialex.trainer import Trainer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny run on the embedded Fashion-MNIST sample: 200 images, one epoch, a few seconds."""
    out = tmp_path_factory.mktemp("vis") / "run"
    config = TrainConfig(epochs=1, subset=200, batch_size=50, validate=False, schedule="constant", seed=0)
    Trainer(config, str(out), progress=False, log=lambda *a: None).fit()
    return out


def _is_png(path):
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize("command, extra", [
    ("kernels", []),
    ("predictions", ["--n", "4"]),
    ("neighbours", ["--n", "2", "--k", "3"]),
])
def test_command_writes_png(run_dir, tmp_path, command, extra, capsys):
    out = tmp_path / f"{command}.png"
    assert visualize.main([command, str(run_dir), "--out", str(out), *extra]) == 0
    assert _is_png(out)
    assert f"wrote {out}" in capsys.readouterr().out


def test_default_output_is_in_the_run_directory(run_dir):
    assert visualize.main(["kernels", str(run_dir)]) == 0
    assert _is_png(run_dir / "kernels.png")
    assert not (run_dir / "kernels.json").exists(), "grey kernels have no colour to measure"


def test_missing_run_dir_or_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert visualize.main(["kernels", str(tmp_path / "nowhere")]) == 1
    assert "no run directory" in capsys.readouterr().err
    assert visualize.main(["predictions", str(tmp_path)]) == 1
    assert "checkpoint.npz" in capsys.readouterr().err


def test_bad_n_is_a_clear_error(run_dir, capsys):
    assert visualize.main(["predictions", str(run_dir), "--n", "0"]) == 1
    assert "--n must be between 1 and" in capsys.readouterr().err


def test_features_of_the_trained_model(run_dir):
    trainer = visualize.load_run(str(run_dir))
    x = visualize.model_input(trainer.train_set.images[:7], trainer.mean, trainer.crop)
    f = visualize.features(trainer.model, x, batch_size=3)
    # figure1 net on 28x28: conv3's 64 maps pooled to 3x3, flattened: the input of fc
    assert f.shape == (7, trainer.model["fc"].in_features) == (7, 64 * 3 * 3)
    assert trainer.model.training  # the mode is restored
    from_images = visualize.image_features(trainer.model, trainer.train_set.images[:7], trainer.mean, trainer.crop,
                                           batch_size=2)
    np.testing.assert_allclose(from_images, f, rtol=1e-5, atol=1e-5)


def test_features_stop_before_the_last_linear_layer_in_eval_mode():
    rng = np.random.default_rng(0)
    model = Sequential(Conv2d(1, 2, 3, rng=rng), ReLU(), Flatten(), Linear(2 * 4 * 4, 5, rng=rng), ReLU(),
                       Dropout(0.5, rng=rng), Linear(5, 3, rng=rng),
                       names=["conv", "relu", "flatten", "fc1", "relu1", "drop", "fc2"])
    x = rng.standard_normal((10, 1, 6, 6)).astype(np.float32)
    f = visualize.features(model, x, batch_size=4)
    expected = np.maximum(model["fc1"].forward(model["flatten"].forward(np.maximum(model["conv"].forward(x), 0))), 0)
    np.testing.assert_allclose(f, expected, rtol=1e-5, atol=1e-6)  # dropout off: eval mode
    np.testing.assert_array_equal(f, visualize.features(model, x, batch_size=4))


def test_nearest_neighbours_match_brute_force_and_find_themselves():
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((300, 8)).astype(np.float32)
    query = np.concatenate([reference[[5, 17]], rng.standard_normal((3, 8)).astype(np.float32)])
    idx, dist = visualize.nearest_neighbours(query, reference, k=4, chunk=64)
    brute = np.linalg.norm(query[:, None, :].astype(np.float64) - reference[None].astype(np.float64), axis=2)
    np.testing.assert_array_equal(idx, np.argsort(brute, axis=1)[:, :4])
    np.testing.assert_allclose(dist, np.sort(brute, axis=1)[:, :4], rtol=1e-12)
    assert idx[0, 0] == 5 and idx[1, 0] == 17 and dist[0, 0] == 0 and dist[1, 0] == 0


def test_a_training_image_is_its_own_nearest_neighbour(run_dir):
    trainer = visualize.load_run(str(run_dir))
    x = visualize.model_input(trainer.train_set.images, trainer.mean, trainer.crop)
    feats = visualize.features(trainer.model, x)
    idx, dist = visualize.nearest_neighbours(feats[[0, 42]], feats, k=6)
    assert 0 in idx[0] and 42 in idx[1]
    assert dist[0, 0] == 0 and dist[1, 0] == 0


def test_kernel_mosaic_normalises_each_kernel():
    w = np.stack([np.full((3, 2, 2), -5.0), np.arange(12.0).reshape(3, 2, 2) * 100])
    w[0, 0, 0, 0] = 1.0
    mosaic = visualize.kernel_mosaic(w, columns=2, border=1)
    assert mosaic.shape == (4, 7, 3)
    for left in (1, 4):
        tile = mosaic[1:3, left:left + 2]
        assert tile.min() == 0 and tile.max() == 1
    grey = visualize.kernel_mosaic(np.random.default_rng(0).standard_normal((5, 1, 3, 3)))
    assert grey.ndim == 2


def test_kernel_chroma_tells_grey_from_colour_kernels():
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.standard_normal((4, 1, 5, 5)), 3, axis=1)  # the three channels move together
    colour = grey * np.array([1.0, -1.0, 0.0])[None, :, None, None]  # red against green
    assert np.allclose(visualize.kernel_chroma(grey), 0)
    assert np.all(visualize.kernel_chroma(colour) > 0.99)
    assert abs(visualize.kernel_chroma(rng.standard_normal((2000, 3, 5, 5))).mean() - 2 / 3) < 0.01
    with pytest.raises(ValueError, match="needs RGB kernels"):
        visualize.kernel_chroma(np.zeros((2, 1, 3, 3)))


def test_alexnet_kernels_are_drawn_in_the_two_gpu_blocks(tmp_path):
    from minialex.models import alexnet
    net = alexnet(num_classes=10)
    assert visualize.kernel_groups(net) == 2
    visualize.plot_kernels(net, tmp_path / "k.png")
    assert _is_png(tmp_path / "k.png")
    colours = visualize.kernel_colours(net)
    assert [g["kernels"] for g in colours["groups"]] == [[0, 47], [48, 95]]
    assert all(len(g["per_kernel"]) == 48 and 0.6 < g["mean"] < 0.72 for g in colours["groups"]), \
        "untrained kernels are random: about 2/3 colour"


def test_learning_curves_mark_the_learning_rate_drops(tmp_path):
    from minialex.plots import lr_drops, plot_learning_curves
    history = [{"epoch": e, "lr": lr, "train_loss": 2.0 / e, "train_error": 0.9 / e, "val_loss": 2.1 / e,
                "val_top1_error": 0.8 / e, "val_top5_error": 0.3 / e}
               for e, lr in [(1, 0.01), (2, 0.01), (3, 0.001), (4, 0.001), (5, 0.0001)]]
    assert lr_drops(history) == [(2, 0.01, 0.001), (4, 0.001, 0.0001)]
    plot_learning_curves(history, [], tmp_path / "c.png", "toy")
    assert _is_png(tmp_path / "c.png")
    plot_learning_curves(history[:1], [{"epoch": 0.5, "train_error": 0.9, "train_loss": 2.2}], tmp_path / "one.png")
    assert _is_png(tmp_path / "one.png")


def test_neighbours_are_counted_from_the_labels(run_dir, tmp_path):
    import json
    out = tmp_path / "neighbours.png"
    assert visualize.main(["neighbours", str(run_dir), "--out", str(out), "--n", "3", "--k", "4"]) == 0
    record = json.loads((tmp_path / "neighbours.json").read_text())
    assert record["neighbours"] == 12 and len(record["queries"]) == 3
    assert record["same_class"] == sum(q["same_class"] for q in record["queries"])
    for q in record["queries"]:
        assert q["same_class"] == sum(n["class"] == q["class"] for n in q["neighbours"])
        distances = [n["distance"] for n in q["neighbours"]]
        assert distances == sorted(distances)
