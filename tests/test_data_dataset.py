"""ArrayDataset: input validation, stratified subsets and splits."""
import numpy as np
import pytest

from minialex.data import ArrayDataset


def make_dataset(counts, side=2):
    """A dataset with counts[k] images of class k; image i is filled with the value i."""
    labels = np.repeat(np.arange(len(counts)), counts)
    images = np.broadcast_to(np.arange(len(labels), dtype=np.uint8)[:, None, None, None],
                             (len(labels), 1, side, side)).copy()
    return ArrayDataset(images, labels, [f"class{k}" for k in range(len(counts))], "toy")


def test_attributes_and_label_dtype():
    ds = ArrayDataset(np.zeros((3, 1, 4, 4), np.uint8), np.array([0, 1, 1], np.int32), ["a", "b"], "toy")
    assert len(ds) == 3 and ds.labels.dtype == np.int64 and ds.classes == ["a", "b"] and ds.name == "toy"
    assert "3 images 1x4x4" in repr(ds)


@pytest.mark.parametrize("images, labels, fragment", [
    (np.zeros((2, 1, 4, 4), np.float32), [0, 1], "uint8"),
    (np.zeros((2, 4, 4), np.uint8), [0, 1], "(N, C, H, W)"),
    (np.zeros((2, 1, 4, 4), np.uint8), [0, 1, 1], "shape (2,)"),
    (np.zeros((2, 1, 4, 4), np.uint8), [0.0, 1.0], "integers"),
    (np.zeros((2, 1, 4, 4), np.uint8), [0, 2], "0..1"),
])
def test_bad_input_is_explained(images, labels, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        ArrayDataset(images, np.array(labels), ["a", "b"], "toy")


def test_subset_is_stratified_and_deterministic():
    ds = make_dataset([30, 30, 30])
    sub = ds.subset(12, seed=1)
    assert np.bincount(sub.labels).tolist() == [4, 4, 4]
    assert sub.classes == ds.classes and sub.name == ds.name
    assert np.array_equal(sub.images, ds.subset(12, seed=1).images)
    assert not np.array_equal(sub.images, ds.subset(12, seed=2).images)
    ids = sub.images[:, 0, 0, 0]
    assert np.all(np.diff(ids) > 0), "images keep their original order"
    assert np.array_equal(ds.labels[ids], sub.labels), "each image keeps its own label"


def test_subset_when_classes_do_not_divide_evenly_or_run_out():
    assert np.bincount(make_dataset([10, 10, 10]).subset(7).labels).tolist() == [3, 2, 2]
    assert np.bincount(make_dataset([2, 10, 10]).subset(12).labels).tolist() == [2, 5, 5]
    with pytest.raises(ValueError, match="cannot take 40"):
        make_dataset([10, 10]).subset(40)


def test_split_holds_out_a_disjoint_stratified_fraction():
    ds = make_dataset([20, 30])
    rest, held = ds.split(0.1, seed=0)
    assert np.bincount(held.labels).tolist() == [3, 2]  # 5 images, dealt class 0 first
    assert held.name == "toy-heldout"
    ids = np.concatenate([rest.images[:, 0, 0, 0], held.images[:, 0, 0, 0]])
    assert sorted(ids.tolist()) == list(range(50))
    with pytest.raises(ValueError, match="between 0 and 1"):
        ds.split(1.5)
