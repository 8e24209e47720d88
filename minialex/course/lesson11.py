"""Checks for lesson 11, results and depth: the paper's ten test patches."""
import numpy as np

from minialex.data import ten_crop

from . import ExerciseFailed

NAMES = ["top-left", "top-right", "bottom-left", "bottom-right", "centre"]


def check_ten_crop(my_ten_crop):
    """my_ten_crop(images, crop) -> (10, N, C, crop, crop): the four corner patches and the centre
    patch of each image (N, C, H, W), then the same five mirrored left to right (section 4.1)."""
    rng = np.random.default_rng(21)
    for shape, crop in [((2, 3, 8, 8), 5), ((1, 1, 7, 10), 4), ((3, 2, 9, 6), 6)]:
        images = rng.integers(0, 256, size=shape).astype(np.float32)
        want = ten_crop(images, crop)
        got = my_ten_crop(images.copy(), crop)
        if not isinstance(got, np.ndarray) or got.shape != want.shape:
            raise ExerciseFailed(f"images {shape}, crop {crop}: expected shape {want.shape}, "
                                 f"got {getattr(got, 'shape', type(got).__name__)}")
        for i in range(10):
            if np.array_equal(got[i], want[i]):
                continue
            name = NAMES[i % 5] + (" mirrored" if i >= 5 else "")
            if i >= 5 and np.array_equal(got[i], want[i - 5][..., ::-1, :]):
                raise ExerciseFailed(f"patch {i} ({name}) is flipped upside down: mirror left to right "
                                     "(reverse the last axis, the columns)")
            if i == 4:
                raise ExerciseFailed(f"images {shape}, crop {crop}: the centre patch starts at row "
                                     f"(H - crop) // 2 = {(shape[2] - crop) // 2} and column (W - crop) // 2 = "
                                     f"{(shape[3] - crop) // 2}")
            raise ExerciseFailed(f"images {shape}, crop {crop}: patch {i} should be the {name} patch")
