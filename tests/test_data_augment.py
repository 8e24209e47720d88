"""Section 4.1 augmentation: random crops and flips, the ten test crops, PCA lighting."""
import numpy as np
import pytest

from minialex.data import center_crop, pca_lighting, random_crop_flip, ten_crop


def distinct_images(n, c=3, h=8, w=8):
    """uint8 images whose every crop is different, so a crop tells where it came from."""
    return np.random.default_rng(123).integers(0, 256, (n, c, h, w), dtype=np.uint8)


def find_origin(crop, image):
    """(top, left, flipped) of the window of image equal to crop; fails if there is none."""
    size = crop.shape[-1]
    for top in range(image.shape[1] - size + 1):
        for left in range(image.shape[2] - size + 1):
            window = image[:, top:top + size, left:left + size]
            for flipped in (False, True):
                if np.array_equal(crop, window[..., ::-1] if flipped else window):
                    return top, left, flipped
    raise AssertionError("crop is not a window of the image")


def test_random_crops_are_windows_of_their_own_image():
    images = distinct_images(60)
    out = random_crop_flip(images, 5, np.random.default_rng(0))
    assert out.shape == (60, 3, 5, 5) and out.dtype == np.uint8
    origins = [find_origin(out[i], images[i]) for i in range(60)]
    assert len({(top, left) for top, left, _ in origins}) > 8, "each image gets its own offset"
    assert 15 < sum(flipped for _, _, flipped in origins) < 45, "about half are mirrored"


def test_crops_reach_every_offset_and_flip_can_be_off():
    images = np.repeat(distinct_images(1), 400, axis=0)
    out = random_crop_flip(images, 5, np.random.default_rng(1), flip=False)
    origins = {find_origin(crop, images[0]) for crop in out}
    assert origins == {(t, l, False) for t in range(4) for l in range(4)}


def test_padding_lets_crops_hang_over_the_border():
    images = distinct_images(200, h=6, w=6) | 1  # no zero pixels in the image itself
    out = random_crop_flip(images, 6, np.random.default_rng(2), pad=2)
    assert out.shape == (200, 3, 6, 6)
    assert (out == 0).any() and (out != 0).any()
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for i in range(0, 200, 20):
        find_origin(out[i], padded[i])


def test_random_crop_flip_is_deterministic_for_a_seed():
    images = distinct_images(30)
    a = random_crop_flip(images, 6, np.random.default_rng(7))
    assert np.array_equal(a, random_crop_flip(images, 6, np.random.default_rng(7)))
    assert not np.array_equal(a, random_crop_flip(images, 6, np.random.default_rng(8)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="crop 9 does not fit images of 8x8"):
        random_crop_flip(distinct_images(2), 9, np.random.default_rng(0))
    with pytest.raises(TypeError, match="np.random.default_rng"):
        random_crop_flip(distinct_images(2), 4, 0)


def test_center_crop():
    images = distinct_images(2, h=7, w=9)
    assert np.array_equal(center_crop(images, 4), images[:, :, 1:5, 2:6])


def test_ten_crop_order():
    images = distinct_images(2, h=7, w=9)
    out = ten_crop(images, 4)
    assert out.shape == (10, 2, 3, 4, 4)
    expected = [images[:, :, :4, :4], images[:, :, :4, 5:], images[:, :, 3:, :4], images[:, :, 3:, 5:],
                images[:, :, 1:5, 2:6]]
    for k in range(5):
        assert np.array_equal(out[k], expected[k])
        assert np.array_equal(out[k + 5], expected[k][..., ::-1])


@pytest.fixture
def basis():
    """A rotated 3-D basis with clearly different eigenvalues (pixels in [0, 1])."""
    eigvecs, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))
    return np.array([0.2, 0.02, 0.002], np.float32), eigvecs.astype(np.float32)


def test_pca_lighting_shifts_each_image_by_one_colour(basis):
    x = np.random.default_rng(4).normal(size=(5, 3, 4, 6)).astype(np.float32)
    out = pca_lighting(x, *basis, np.random.default_rng(5))
    assert out.dtype == np.float32 and out is not x
    shift = out - x
    assert np.allclose(shift, shift[:, :, :1, :1], atol=1e-4), "the same RGB offset at every pixel"
    assert not np.allclose(shift[0], shift[1]), "a new draw for every image"
    assert np.array_equal(out, pca_lighting(x, *basis, np.random.default_rng(5)))


def test_pca_lighting_shifts_have_the_data_covariance_scaled_by_std_squared(basis):
    eigvals, eigvecs = basis
    x = np.zeros((20000, 3, 1, 1), np.float64)
    shifts = pca_lighting(x, eigvals, eigvecs, np.random.default_rng(6), std=0.1)[:, :, 0, 0]
    expected = 0.1 ** 2 * 255 ** 2 * eigvecs @ np.diag(eigvals) @ eigvecs.T
    assert np.allclose(np.cov(shifts.T), expected, atol=0.05 * expected.max())
    assert np.allclose(shifts.mean(axis=0), 0, atol=0.5)


def test_pca_lighting_needs_rgb(basis):
    with pytest.raises(ValueError, match="RGB"):
        pca_lighting(np.zeros((2, 1, 4, 4), np.float32), *basis, np.random.default_rng(0))


def test_a_runs_training_input_centres_crops_and_pads_only_crop_sized_images():
    from minialex.data import TrainingInput, mean_image, to_float
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (6, 3, 16, 16), dtype=np.uint8)
    inputs = TrainingInput.of(small, crop=16, augment=True)
    assert inputs.pad == 2 and inputs.pca is None and np.array_equal(inputs.mean, mean_image(small))
    assert inputs(small, np.random.default_rng(1)).shape == (6, 3, 16, 16)
    large = rng.integers(0, 256, (6, 3, 20, 20), dtype=np.uint8)
    assert TrainingInput.of(large, crop=16, augment=True).pad == 0
    plain = TrainingInput.of(large, crop=16, augment=False)
    assert np.array_equal(plain(large, None), center_crop(to_float(large, plain.mean), 16))
    lit = TrainingInput.of(large, crop=16, augment=False, pca_lighting=True)
    a, b = lit(large, np.random.default_rng(2)), lit(large, np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, plain(large, None))  # the lighting draws from rng
