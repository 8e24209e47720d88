"""Lesson 1: images as arrays (section 2 of the paper: the mean image)."""
import numpy as np


def to_nchw(batch):
    """Exercise 1.1. uint8 (N, H, W, C) -> uint8 (N, C, H, W)."""
    raise NotImplementedError("Exercise 1.1: to_nchw in mynet/data.py")  # your code here


def mean_image(images):
    """Exercise 1.2. uint8 (N, C, H, W) -> float32 (C, H, W): the mean over the images, per pixel."""
    raise NotImplementedError("Exercise 1.2: mean_image in mynet/data.py")  # your code here
