"""load_dataset by name, and the whole pipeline on the real images in ../shared/datasets."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minialex.data import (load_dataset, load_fashion_mnist, load_image_folder, mean_image, minibatches,
                           pca_lighting, pca_lighting_basis, random_crop_flip, ten_crop, to_float)

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"


def test_embedded_by_name():
    train, test = load_dataset("embedded")
    assert (len(train), len(test)) == (6000, 1000)


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown data set 'imagenet'.*embedded, cifar10, fashion-mnist, folder"):
        load_dataset("imagenet")


def test_downloadable_sets_pass_on_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="CIFAR-10 not found"):
        load_dataset("cifar10", tmp_path)
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST not found"):
        load_dataset("fashion-mnist", tmp_path)


def test_folder_holds_out_a_stratified_tenth(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path / "cache"))
    for cls in ("a", "b"):
        for i in range(10):
            (tmp_path / "root" / cls).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (20 + i, 12), (i * 20, 0, 0)).save(tmp_path / "root" / cls / f"{i}.png")
    train, test = load_dataset("folder", tmp_path / "root")
    assert train.images.shape == (18, 3, 256, 256) and np.bincount(test.labels).tolist() == [1, 1]
    again = load_dataset("folder", tmp_path / "root")[1]
    assert np.array_equal(again.images, test.images), "the same split every time"
    with pytest.raises(ValueError, match="needs data_dir"):
        load_dataset("folder")


@pytest.mark.skipif(not (SHARED / "cifar10-jpeg-sample").is_dir(), reason="needs ../shared/datasets")
def test_pipeline_on_the_cifar10_jpeg_sample(tmp_path):
    data = load_image_folder(SHARED / "cifar10-jpeg-sample", size=32, cache_dir=tmp_path)
    assert data.images.shape == (300, 3, 32, 32) and np.bincount(data.labels).tolist() == [30] * 10
    assert data.classes[0] == "airplane" and data.classes[-1] == "truck"
    mean = mean_image(data.images)
    eigvals, eigvecs = pca_lighting_basis(data.images)
    assert 0.05 < eigvals[0] < 0.5 and eigvals[0] > 5 * eigvals[1], "one dominant brightness axis"
    assert np.all(eigvecs[:, 0] > 0), "the first component brightens all three channels"
    rng = np.random.default_rng(0)
    images, labels = next(minibatches(data, 128, seed=0, epoch=0))
    x = pca_lighting(to_float(random_crop_flip(images, 28, rng), mean[:, 2:30, 2:30]), eigvals, eigvecs, rng)
    assert x.shape == (128, 3, 28, 28) and x.dtype == np.float32 and abs(x.mean()) < 20
    assert ten_crop(data.images[:4], 28).shape == (10, 4, 3, 28, 28)


@pytest.mark.skipif(not (SHARED / "fashion-mnist").is_dir(), reason="needs ../shared/datasets")
def test_full_fashion_mnist_from_shared():
    train, test = load_fashion_mnist(SHARED / "fashion-mnist")
    assert (len(train), len(test)) == (60000, 10000)
    assert np.bincount(train.labels).tolist() == [6000] * 10


def write_tree(root, classes=("a", "b"), per_class=5):
    for cls in classes:
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.new("RGB", (20 + i, 12), (i * 20, 0, 100 if cls == "b" else 0)).save(root / cls / f"{i}.png")


def test_folder_with_train_and_val_tests_on_val(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path / "cache"))
    write_tree(tmp_path / "photos" / "train", per_class=6)
    write_tree(tmp_path / "photos" / "val", per_class=2)
    train, test = load_dataset("folder", tmp_path / "photos", log=None)
    assert (len(train), len(test)) == (12, 4)
    assert (train.name, test.name) == ("photos-train", "photos-val"), "named after the root, not 'train'"
    sub, _ = load_dataset("folder", tmp_path / "photos", subset=4, log=None)
    assert np.bincount(sub.labels).tolist() == [2, 2]


def test_val_dir_names_the_test_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path / "cache"))
    write_tree(tmp_path / "mine", per_class=4)
    write_tree(tmp_path / "held", per_class=1)
    train, test = load_dataset("folder", tmp_path / "mine", val_dir=tmp_path / "held", log=None)
    assert (len(train), len(test)) == (8, 2)
    write_tree(tmp_path / "other", classes=("a", "c"), per_class=1)
    with pytest.raises(ValueError, match="class folders of .*other .*differ"):
        load_dataset("folder", tmp_path / "mine", val_dir=tmp_path / "other", log=None)
    with pytest.raises(ValueError, match="--val-dir.* is for the 'folder' data set"):
        load_dataset("cifar10", tmp_path, val_dir=tmp_path / "held")


def test_subset_of_an_in_memory_set_is_stratified():
    train, _ = load_dataset("embedded", subset=50, seed=3)
    assert len(train) == 50 and np.bincount(train.labels).tolist() == [5] * 10
