"""Reference solutions for lesson 11."""
import numpy as np


def my_ten_crop(images, crop):
    h, w = images.shape[2:]
    top, left = (h - crop) // 2, (w - crop) // 2
    corners = [(0, 0), (0, w - crop), (h - crop, 0), (h - crop, w - crop), (top, left)]
    five = np.stack([images[:, :, r:r + crop, c:c + crop] for r, c in corners])
    return np.concatenate([five, five[..., ::-1]])
