"""The Fashion-MNIST sample shipped inside the package."""
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from minialex.data import load_embedded
from minialex.data import embedded

SHARED_FASHION_MNIST = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "fashion-mnist"


def test_counts_shapes_and_classes():
    train, test = load_embedded()
    assert train.images.shape == (6000, 1, 28, 28) and test.images.shape == (1000, 1, 28, 28)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert np.bincount(train.labels).tolist() == [600] * 10
    assert np.bincount(test.labels).tolist() == [100] * 10
    assert train.classes[0] == "T-shirt/top" and test.classes == train.classes
    assert 60 < train.images.mean() < 90, "real photos, not zeros"


def test_licence_and_size():
    folder = Path(embedded.__file__).parent
    licence = (folder / "LICENSE-fashion-mnist.txt").read_text()
    assert "Copyright (c) 2017 Zalando SE" in licence
    assert "https://github.com/zalandoresearch/fashion-mnist" in licence
    assert (folder / embedded.SAMPLE_FILE).stat().st_size < 4 * 2 ** 20


@pytest.mark.skipif(not SHARED_FASHION_MNIST.is_dir(), reason="needs ../shared/datasets/fashion-mnist")
def test_build_command_reproduces_the_shipped_file(tmp_path, monkeypatch, capsys):
    argv = ["minialex.data.embedded", "build", str(SHARED_FASHION_MNIST), "--out", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_module("minialex.data.embedded", run_name="__main__")
    built = tmp_path / embedded.SAMPLE_FILE
    assert str(built) in capsys.readouterr().out
    assert built.read_bytes() == (Path(embedded.__file__).parent / embedded.SAMPLE_FILE).read_bytes()
