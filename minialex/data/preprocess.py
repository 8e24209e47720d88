"""Statistics of the training set that preprocessing and augmentation need.

* The mean image (section 2): "We did not pre-process the images in any other way,
  except for subtracting the mean activity over the training set from each pixel."
  It is a per-pixel mean, an array (C, H, W), not one number per channel.
* The PCA lighting basis (section 4.1): the eigenvectors and eigenvalues of the 3x3
  covariance of RGB pixel values over the training set, used by
  ``augment.pca_lighting`` to change the colour of the lighting.

Both are computed in chunks with float64 sums, so a big uint8 training set is never
converted to floats all at once, and summing millions of values loses no precision.

Convention for the lighting basis: pixel values are scaled to [0, 1] before the
covariance is taken, so the eigenvalues do not depend on how the images are stored
(about 0.18 for the first component on CIFAR-10).
"""
import numpy as np

CHUNK_VALUES = 1 << 22  # about 32 MB of float64 per chunk


def mean_image(images):
    """float32 (C, H, W): the mean of uint8 images (N, C, H, W), pixel by pixel, in the 0..255 scale."""
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"expected a non-empty batch of images (N, C, H, W), got shape {images.shape}")
    total = np.zeros(images.shape[1:], np.float64)
    for chunk in _chunks(images):
        total += chunk.sum(axis=0, dtype=np.float64)
    return (total / len(images)).astype(np.float32)


def pca_lighting_basis(images):
    """(eigvals (3,), eigvecs (3, 3)) of the RGB covariance of uint8 images (N, 3, H, W).

    Pixel values are scaled to [0, 1]. eigvecs[:, i] is the unit eigenvector for
    eigvals[i]; eigenvalues are sorted largest first. Both are float32.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"PCA lighting needs RGB images (N, 3, H, W), got shape {images.shape}; "
            "for grayscale data such as Fashion-MNIST there is no colour to vary, so leave it out")
    total = np.zeros(3, np.float64)
    products = np.zeros((3, 3), np.float64)
    count = 0
    for chunk in _chunks(images):
        rgb = chunk.transpose(1, 0, 2, 3).reshape(3, -1).astype(np.float64) / 255.0  # one column per pixel
        total += rgb.sum(axis=1)
        products += rgb @ rgb.T
        count += rgb.shape[1]
    mean = total / count
    covariance = products / count - np.outer(mean, mean)
    eigvals, eigvecs = np.linalg.eigh(covariance)  # ascending order for a symmetric matrix
    eigvals, eigvecs = eigvals[::-1], eigvecs[:, ::-1]
    # An eigenvector's sign is arbitrary; fix it so the result is reproducible.
    eigvecs = eigvecs * np.sign(eigvecs.sum(axis=0) + 1e-12)
    return np.maximum(eigvals, 0).astype(np.float32), eigvecs.astype(np.float32)


def _chunks(images):
    """Consecutive slices of images, each about CHUNK_VALUES values."""
    step = max(1, CHUNK_VALUES // int(np.prod(images.shape[1:])))
    for start in range(0, len(images), step):
        yield images[start:start + step]
