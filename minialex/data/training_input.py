"""How a run turns its training images into the network's input (sections 2 and 4.1).

    inputs = TrainingInput.of(train.images, crop=227, augment=True, pca_lighting=True)
    x = inputs(train.images[batch], rng)     # float32 (b, C, 227, 227), centred and augmented

Every batch: uint8 -> float32 minus the training set's mean image (section 2); then
a random crop and mirror image (section 4.1), or the centre crop without
augmentation; then, if asked, PCA lighting (section 4.1). Images already the size
of the crop (CIFAR-10's 32x32) are padded by 1/8 of their side before the random
crop, so that cropping still moves them.
"""
import dataclasses

import numpy as np

from .augment import center_crop, pca_lighting, random_crop_flip
from .batches import to_float
from .preprocess import mean_image, pca_lighting_basis


@dataclasses.dataclass
class TrainingInput:
    mean: np.ndarray    # float32 (C, H, W): the training set's mean image
    crop: int           # the input's side in pixels
    augment: bool       # random crops and flips
    pad: int            # pixels of padding before the random crop (0 unless the images are crop-sized)
    pca: tuple = None   # (eigenvalues, eigenvectors) of the RGB covariance, for PCA lighting; None: off

    @classmethod
    def of(cls, images, crop, augment=True, pca_lighting=False):
        """The statistics of the training images (N, C, H, W) uint8 and the rules for ``crop``."""
        h = images.shape[2]
        pad = h // 8 if augment and crop == h else 0
        return cls(mean_image(images), crop, augment, pad, pca_lighting_basis(images) if pca_lighting else None)

    def __call__(self, images, rng):
        """uint8 (b, C, H, W) -> float32 (b, C, crop, crop), the random numbers drawn from ``rng``."""
        x = to_float(images, self.mean)
        if self.augment:
            x = random_crop_flip(x, self.crop, rng, flip=True, pad=self.pad)
        elif self.crop != x.shape[2]:
            x = center_crop(x, self.crop)
        if self.pca is not None:
            x = pca_lighting(x, *self.pca, rng)
        return x
