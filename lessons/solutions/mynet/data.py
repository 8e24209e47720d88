"""Lesson 1: images as arrays (section 2 of the paper: the mean image)."""
import numpy as np


def to_nchw(batch):
    """Exercise 1.1. uint8 (N, H, W, C) -> uint8 (N, C, H, W)."""
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def mean_image(images):
    """Exercise 1.2. uint8 (N, C, H, W) -> float32 (C, H, W): the mean over the images, per pixel."""
    return images.astype(np.float64).mean(axis=0).astype(np.float32)
