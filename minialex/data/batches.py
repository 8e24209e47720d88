"""Mini-batches: shuffling once per epoch, and turning uint8 images into float input (``to_float``,
``model_input``).

The shuffle for an epoch comes from ``np.random.default_rng([seed, epoch])``: a fresh
generator seeded by the pair. So epoch 17 has the same order whether the run went
straight through or was stopped after epoch 16 and resumed, without saving any
random-number-generator state in the checkpoint.
"""
import numpy as np

from .augment import center_crop


def epoch_order(n, seed, epoch):
    """int64 (n,): the permutation of range(n) used in this epoch of this run."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def minibatches(dataset, batch_size, seed, epoch, shuffle=True, drop_last=False):
    """Yield (images uint8 (B, C, H, W), labels int64 (B,)) covering the dataset once.

    B = batch_size, except for a smaller last batch unless drop_last=True
    (the paper used batches of 128).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    n = len(dataset)
    order = epoch_order(n, seed, epoch) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        indices = order[start:start + batch_size]
        yield dataset.images[indices], dataset.labels[indices]


def to_float(images, mean=None, dtype=np.float32):
    """images uint8 (N, C, H, W) as floats in the 0..255 scale, minus mean (C, H, W) if given.

    The paper trains on "the (centred) raw RGB values", so pixels are not divided by
    255: a centred input lies roughly in -128..128.
    """
    x = images.astype(dtype)
    if mean is not None:
        x -= np.asarray(mean, dtype)
    return x


def model_input(images, mean=None, crop=None):
    """uint8 images (N, C, H, W) -> float32 network input, as a trained network sees a test image: minus
    the mean image, then the centre crop of size ``crop`` (the single-crop test view). ``to_float`` alone
    is the first half, which training follows with random crops instead."""
    x = to_float(images, mean)
    if crop is not None and crop != x.shape[2]:
        x = center_crop(x, crop)
    return np.ascontiguousarray(x)
