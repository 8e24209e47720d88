"""Reference solutions for lesson 01."""
import numpy as np


def my_to_nchw(batch):
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def my_mean_image(images):
    return images.astype(np.float64).mean(axis=0).astype(np.float32)
