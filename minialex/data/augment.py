"""Data augmentation, section 4.1 of the paper: the two label-preserving transformations.

1. Random crops and horizontal reflections: train on a random 224x224 (here 227x227)
   patch of each 256x256 image, flipped left-right half of the time. At test time,
   average the predictions on ten patches: the four corner crops and the centre crop,
   and their reflections (``ten_crop``).
2. PCA lighting: shift the colour of the whole image along the principal components
   of the training set's RGB values, mimicking a change in the colour and intensity
   of the illumination (``pca_lighting``).

Every random function takes an explicit ``rng`` (a ``np.random.Generator``), never
NumPy's global state, so an experiment is reproducible from its seeds alone.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def random_crop_flip(images, crop, rng, flip=True, pad=0):
    """(N, C, crop, crop): a random crop of each image (N, C, H, W), each its own offset.

    With flip=True each crop is also mirrored left-right with probability 1/2.
    pad > 0 first surrounds the images with `pad` rows and columns of zeros, so crops
    may hang over the border: the usual trick for 32x32 CIFAR-10 images (not in the
    paper, whose 256x256 images are larger than the crop).
    """
    _check_rng(rng)
    if pad:
        images = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, _, height, width = images.shape
    _check_crop(images, crop)
    top = rng.integers(0, height - crop + 1, size=n)
    left = rng.integers(0, width - crop + 1, size=n)
    # windows[i, c, y, x] is the crop x crop patch whose top-left corner is (y, x):
    # a view, so no memory is used until we pick one window per image below.
    windows = sliding_window_view(images, (crop, crop), axis=(2, 3))
    out = windows[np.arange(n), :, top, left]  # (N, C, crop, crop), a copy
    if flip:
        mirrored = rng.random(n) < 0.5
        out[mirrored] = out[mirrored, :, :, ::-1]
    return out


def center_crop(images, crop):
    """(N, C, crop, crop): the central crop x crop patch of images (N, C, H, W), a view (no copy)."""
    _check_crop(images, crop)
    top, left = (images.shape[2] - crop) // 2, (images.shape[3] - crop) // 2
    return images[:, :, top:top + crop, left:left + crop]


def ten_crop(images, crop):
    """(10, N, C, crop, crop): the paper's ten test patches of each image (N, C, H, W).

    Order: top-left, top-right, bottom-left, bottom-right, centre, then the
    horizontal reflections of those five in the same order.
    """
    _check_crop(images, crop)
    height, width = images.shape[2:]
    bottom, right = height - crop, width - crop
    corners = [images[:, :, :crop, :crop], images[:, :, :crop, right:],
               images[:, :, bottom:, :crop], images[:, :, bottom:, right:]]
    five = np.stack(corners + [center_crop(images, crop)])
    return np.concatenate([five, five[..., ::-1]])


def pca_lighting(x, eigvals, eigvecs, rng, std=0.1, pixel_scale=255.0):
    """x (N, 3, H, W) float plus a random colour shift per image; a new array of x's dtype.

    The paper adds [p1 p2 p3][a1*l1, a2*l2, a3*l3]^T to every pixel, with p_i, l_i the
    eigenvectors and eigenvalues of the RGB covariance and a_i ~ N(0, std), drawn once
    per image. Taken literally, the size of that shift depends on the units of the
    pixels (the eigenvalues are squared pixel units): with [0, 1] pixels it is
    invisibly small, with 0..255 pixels it swamps the image. We use sqrt(l_i), the
    standard deviation along p_i, instead: then the shifts have the covariance
    std**2 times the data's own RGB covariance, i.e. they vary the colour the way
    the training images vary, at 10 % of its spread.

    eigvals, eigvecs: from ``preprocess.pca_lighting_basis`` (pixels scaled to [0, 1]).
    pixel_scale: the value of a white pixel in x; 255 for ``batches.to_float`` output.
    """
    _check_rng(rng)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"PCA lighting needs RGB images (N, 3, H, W), got shape {x.shape}")
    alphas = rng.normal(0.0, std, size=(len(x), 3))
    shift = pixel_scale * (alphas * np.sqrt(eigvals)) @ np.asarray(eigvecs).T  # (N, 3), one RGB offset per image
    return x + shift[:, :, None, None].astype(x.dtype)


def _check_crop(images, crop):
    if images.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {images.shape}")
    if not 0 < crop <= min(images.shape[2:]):
        raise ValueError(
            f"crop {crop} does not fit images of {images.shape[2]}x{images.shape[3]}; "
            "use a smaller crop or pad the images")


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a np.random.Generator, e.g. np.random.default_rng(seed); got {type(rng).__name__}")
