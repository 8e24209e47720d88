"""Checks for lesson 01, images as arrays."""
import numpy as np

from minialex.data import mean_image

from . import ExerciseFailed


def _expect_array(result, shape, dtype_kind=None, what="the result"):
    if not isinstance(result, np.ndarray):
        raise ExerciseFailed(f"{what} should be a NumPy array, got {type(result).__name__}")
    if result.shape != tuple(shape):
        raise ExerciseFailed(f"{what} should have shape {tuple(shape)}, got {result.shape}")
    if dtype_kind is not None and result.dtype.kind not in dtype_kind:
        raise ExerciseFailed(f"{what} has dtype {result.dtype}, expected kind {dtype_kind!r}")


def check_to_nchw(to_nchw):
    """to_nchw(batch) turns uint8 (N, H, W, C) images into uint8 (N, C, H, W)."""
    rng = np.random.default_rng(1)
    for shape in [(2, 4, 5, 3), (1, 32, 32, 3), (3, 6, 2, 1)]:
        nhwc = rng.integers(0, 256, size=shape, dtype=np.uint8)
        out = to_nchw(nhwc.copy())
        n, h, w, c = shape
        _expect_array(out, (n, c, h, w), "u", f"to_nchw of a {shape} batch")
        if out.dtype != np.uint8:
            raise ExerciseFailed(f"keep the images uint8 (1 byte per value), got {out.dtype}")
        for (ni, hi, wi, ci) in [(0, 0, 0, 0), (n - 1, h - 1, w - 1, c - 1), (n // 2, h // 2, 1, c // 2)]:
            if out[ni, ci, hi, wi] != nhwc[ni, hi, wi, ci]:
                raise ExerciseFailed(f"pixel (row {hi}, column {wi}, channel {ci}) of image {ni} moved: "
                                     "only the axis order should change")
        if not np.array_equal(out, nhwc.transpose(0, 3, 1, 2)):
            raise ExerciseFailed("some pixels are in the wrong place: out[n, c, y, x] must equal batch[n, y, x, c]")


def check_mean_image(my_mean_image):
    """my_mean_image(images) is the per-pixel mean (C, H, W) of uint8 images (N, C, H, W), as float32."""
    rng = np.random.default_rng(2)
    for shape in [(5, 3, 4, 4), (300, 1, 6, 7)]:
        images = rng.integers(0, 256, size=shape, dtype=np.uint8)
        images[:, 0, 0, 0] = 255  # sums past 255 overflow uint8 arithmetic
        out = my_mean_image(images.copy())
        c = shape[1]
        if getattr(out, "shape", None) in [(c,), (c, 1, 1)]:
            raise ExerciseFailed("that is one mean per channel; the paper subtracts a mean per pixel "
                                 "(average over the images only, axis 0)")
        _expect_array(out, shape[1:], "f", f"the mean of a {shape} batch")
        if out.dtype != np.float32:
            raise ExerciseFailed(f"the mean image should be float32 (the dtype the network computes in), "
                                 f"got {out.dtype}: sum in float64 if you like, then .astype(np.float32)")
        expected = mean_image(images)
        if not np.allclose(out, expected, rtol=1e-5, atol=1e-3):
            raise ExerciseFailed(f"max difference from minialex.data.mean_image: {np.abs(out - expected).max():.4g} "
                                 "(summing uint8 values overflows past 255: convert to float first)")
