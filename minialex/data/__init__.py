"""The data pipeline: loading image sets, preprocessing, augmentation and mini-batches.

Images travel as uint8 NCHW NumPy arrays (``ArrayDataset``) until a mini-batch is
formed; only then are they cropped, flipped, converted to floats and centred.

    train, test = load_dataset("embedded")            # offline, ships with the package
    mean = mean_image(train.images)
    for images, labels in minibatches(train, 128, seed=0, epoch=0):
        x = to_float(images, mean)
"""
from .augment import center_crop, pca_lighting, random_crop_flip, ten_crop
from .batches import epoch_order, minibatches, to_float
from .cifar10 import load_cifar10
from .dataset import ArrayDataset
from .download import default_cache_dir, download, md5sum
from .embedded import load_embedded
from .fashion_mnist import load_fashion_mnist
from .image_folder import decode_image, load_image_folder
from .preprocess import mean_image, pca_lighting_basis

DATASETS = ("embedded", "cifar10", "fashion-mnist", "folder")
FOLDER_TEST_FRACTION = 0.1


def load_dataset(name, data_dir=None, download=False):
    """(train, test) ArrayDatasets for a data set named in DATASETS.

    "embedded" ignores data_dir and download. For "folder", data_dir is the root of an
    image-folder tree (see load_image_folder) and a stratified 10 % of it, the same
    every time, becomes the test set. download applies to "cifar10" and "fashion-mnist".
    """
    if name == "embedded":
        return load_embedded()
    if name == "cifar10":
        return load_cifar10(data_dir, download)
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir, download)
    if name == "folder":
        if data_dir is None:
            raise ValueError("the 'folder' data set needs data_dir: the root of a CLASS_NAME/IMAGE.jpg tree")
        return load_image_folder(data_dir).split(FOLDER_TEST_FRACTION, seed=0)
    raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")


__all__ = [
    "ArrayDataset", "DATASETS", "center_crop", "decode_image", "default_cache_dir", "download",
    "epoch_order", "load_cifar10", "load_dataset", "load_embedded", "load_fashion_mnist",
    "load_image_folder", "mean_image", "md5sum", "minibatches", "pca_lighting",
    "pca_lighting_basis", "random_crop_flip", "ten_crop", "to_float",
]
