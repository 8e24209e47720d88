"""Mini-batches: every image once per epoch, in an order that a resumed run can replay."""
import numpy as np
import pytest

from minialex.data import ArrayDataset, center_crop, epoch_order, minibatches, to_float
from minialex.data.batches import model_input


@pytest.fixture
def dataset():
    """103 images; image i has the value i in its top-left pixel and the label i % 4."""
    images = np.zeros((103, 1, 2, 2), np.uint8)
    images[:, 0, 0, 0] = np.arange(103)
    return ArrayDataset(images, np.arange(103) % 4, list("abcd"), "toy")


def test_epoch_order_is_a_repeatable_permutation():
    order = epoch_order(50, seed=1, epoch=3)
    assert sorted(order.tolist()) == list(range(50))
    assert np.array_equal(order, epoch_order(50, seed=1, epoch=3)), "a resumed run replays it"
    assert not np.array_equal(order, epoch_order(50, seed=1, epoch=4))
    assert not np.array_equal(order, epoch_order(50, seed=2, epoch=3))


def test_minibatches_cover_every_image_once(dataset):
    batches = list(minibatches(dataset, 10, seed=0, epoch=5))
    assert [len(labels) for _, labels in batches] == [10] * 10 + [3]
    ids = np.concatenate([images[:, 0, 0, 0] for images, _ in batches])
    assert np.array_equal(ids, epoch_order(103, seed=0, epoch=5))
    for images, labels in batches:
        assert images.dtype == np.uint8 and np.array_equal(labels, images[:, 0, 0, 0] % 4)


def test_minibatches_drop_last_and_no_shuffle(dataset):
    batches = list(minibatches(dataset, 10, seed=0, epoch=0, shuffle=False, drop_last=True))
    assert len(batches) == 10
    assert np.array_equal(np.concatenate([b[0][:, 0, 0, 0] for b in batches]), np.arange(100))
    with pytest.raises(ValueError, match="batch_size"):
        next(minibatches(dataset, 0, seed=0, epoch=0))


def test_to_float_keeps_the_0_255_scale_and_subtracts_the_mean():
    images = np.array([[[[0, 255]]], [[[10, 20]]]], np.uint8)
    x = to_float(images)
    assert x.dtype == np.float32 and x.max() == 255
    mean = np.array([[[5, 137.5]]], np.float32)
    centred = to_float(images, mean, dtype=np.float64)
    assert centred.dtype == np.float64
    assert np.array_equal(centred[:, 0, 0], [[-5, 117.5], [5, -117.5]])
    assert images[0, 0, 0, 1] == 255, "the input is untouched"


def test_model_input_is_the_centred_centre_crop():
    images = np.random.default_rng(0).integers(0, 256, (3, 2, 6, 6)).astype(np.uint8)
    mean = images.mean(axis=0).astype(np.float32)
    x = model_input(images, mean, 4)
    assert x.dtype == np.float32 and x.flags.c_contiguous and x.shape == (3, 2, 4, 4)
    assert np.array_equal(x, center_crop(images.astype(np.float32) - mean, 4))
    assert np.array_equal(model_input(images), images), "no mean, no crop: the pixels as floats"
