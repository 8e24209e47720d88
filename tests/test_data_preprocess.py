"""mean_image and pca_lighting_basis, computed in chunks."""
import numpy as np
import pytest

from minialex.data import mean_image, pca_lighting_basis
from minialex.data import preprocess


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (37, 3, 5, 4), dtype=np.uint8)


@pytest.fixture(params=[1 << 22, 7], ids=["one chunk", "tiny chunks"])
def chunk_values(request, monkeypatch):
    monkeypatch.setattr(preprocess, "CHUNK_VALUES", request.param)


def test_mean_image_is_the_per_pixel_mean(images, chunk_values):
    mean = mean_image(images)
    assert mean.shape == (3, 5, 4) and mean.dtype == np.float32
    assert np.allclose(mean, images.mean(axis=0, dtype=np.float64), atol=1e-4)


def test_mean_image_rejects_an_empty_set():
    with pytest.raises(ValueError, match="non-empty"):
        mean_image(np.zeros((0, 3, 4, 4), np.uint8))


def test_pca_basis_diagonalises_the_rgb_covariance(images, chunk_values):
    # correlate the channels so the eigenvalues differ clearly
    images = images.copy()
    images[:, 1] = images[:, 0] // 2 + images[:, 1] // 2
    eigvals, eigvecs = pca_lighting_basis(images)
    assert eigvals.shape == (3,) and eigvecs.shape == (3, 3) and eigvals.dtype == np.float32
    pixels = images.transpose(1, 0, 2, 3).reshape(3, -1) / 255.0
    covariance = np.cov(pixels, bias=True)
    assert np.all(np.diff(eigvals) <= 0), "largest first"
    assert np.allclose(eigvecs.T @ eigvecs, np.eye(3), atol=1e-5)
    assert np.allclose(eigvecs @ np.diag(eigvals) @ eigvecs.T, covariance, atol=1e-5)


def test_pca_basis_of_gray_pixels_points_along_the_diagonal():
    gray = np.random.default_rng(1).integers(0, 256, (10, 1, 6, 6), dtype=np.uint8)
    eigvals, eigvecs = pca_lighting_basis(np.repeat(gray, 3, axis=1))
    assert np.allclose(eigvecs[:, 0], 1 / np.sqrt(3), atol=1e-5)
    assert np.allclose(eigvals[1:], 0, atol=1e-6)
    assert np.isclose(eigvals[0], 3 * (gray / 255.0).var(), rtol=1e-4)


def test_pca_basis_refuses_grayscale_images():
    with pytest.raises(ValueError, match="RGB images.*grayscale"):
        pca_lighting_basis(np.zeros((4, 1, 28, 28), np.uint8))
