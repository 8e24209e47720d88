"""The data pipeline: loading image sets, preprocessing, augmentation and mini-batches.

Images travel as uint8 NCHW NumPy arrays (``ArrayDataset``) until a mini-batch is
formed; only then are they cropped, flipped, converted to floats and centred.

    train, test = load_dataset("embedded")            # offline, ships with the package
    mean = mean_image(train.images)
    for images, labels in minibatches(train, 128, seed=0, epoch=0):
        x = to_float(images, mean)
"""
from pathlib import Path

from .augment import center_crop, pca_lighting, random_crop_flip, ten_crop
from .batches import epoch_order, minibatches, to_float
from .cifar10 import load_cifar10
from .dataset import ArrayDataset
from .download import default_cache_dir, download, md5sum
from .embedded import load_embedded
from .fashion_mnist import load_fashion_mnist
from .image_folder import decode_image, decode_images, load_image_folder
from .imagenette import load_imagenette
from .preprocess import mean_image, pca_lighting_basis
from .training_input import TrainingInput

DATASETS = ("embedded", "cifar10", "fashion-mnist", "folder", "imagenette")
FOLDER_TEST_FRACTION = 0.1


def load_dataset(name, data_dir=None, download=False, subset=None, seed=0, val_dir=None, log=print, progress=True,
                 skip_bad_images=False):
    """(train, test) ArrayDatasets for a data set named in DATASETS.

    subset: train on a stratified subset of this many images (``ArrayDataset.subset``
    with ``seed``); image folders decode only those. "embedded" ignores data_dir and
    download; download applies to "cifar10", "fashion-mnist" and "imagenette".

    For "folder", data_dir is either a root holding train/ and val/ (torchvision's
    convention; val/ becomes the test set), or a root holding only one of them, or one
    image-folder tree (see load_image_folder); of the last two a stratified 10 %, the
    same every time, is held out for testing. val_dir names the test folder explicitly
    for other layouts. progress: the decoding's progress bars; skip_bad_images: leave
    out the image files that cannot be decoded (else they are listed in an error).
    """
    if val_dir is not None and name != "folder":
        raise ValueError(f"val_dir (--val-dir) is for the 'folder' data set; {name!r} has its own test set")
    folder_options = dict(log=log, progress=progress, skip_bad=skip_bad_images)
    if name == "folder":
        return _load_folder(data_dir, val_dir, subset, seed, folder_options)
    if name == "imagenette":
        return load_imagenette(data_dir, download, subset, seed, **folder_options)
    loaders = {"embedded": lambda: load_embedded(), "cifar10": lambda: load_cifar10(data_dir, download, progress),
               "fashion-mnist": lambda: load_fashion_mnist(data_dir, download, progress)}
    if name not in loaders:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    train, test = loaders[name]()
    return (train.subset(subset, seed) if subset is not None else train), test


SPLITS = ("train", "val")  # a root's split folders, never taken for classes


def _load_folder(data_dir, val_dir, subset, seed, options):
    if data_dir is None:
        raise ValueError("the 'folder' data set needs data_dir (--data-dir): a root holding train/ and val/, "
                         "or one CLASS_NAME/IMAGE.jpg tree")
    root = Path(data_dir)
    name = root.resolve().name
    splits = [split for split in SPLITS if (root / split).is_dir()]
    if val_dir is None and len(splits) == 2:
        root, val_dir = root / "train", root / "val"
    elif len(splits) == 1:  # a root with train/ alone, or val/ alone (what extracting */val/* gives)
        root = root / splits[0]
    if val_dir is not None:
        train = load_image_folder(root, subset=subset, seed=seed, name=f"{name}-train", **options)
        test = load_image_folder(val_dir, name=f"{name}-val", **options)
        if test.classes != train.classes:
            raise ValueError(f"the class folders of {val_dir} ({', '.join(test.classes)}) differ from those of "
                             f"{root} ({', '.join(train.classes)}); both need the same class sub-folders")
        return train, test
    train, test = load_image_folder(root, name=name, **options).split(FOLDER_TEST_FRACTION, seed=0)
    return (train.subset(subset, seed) if subset is not None else train), test


__all__ = [
    "ArrayDataset", "DATASETS", "center_crop", "decode_image", "decode_images", "default_cache_dir", "download",
    "epoch_order", "load_cifar10", "load_dataset", "load_embedded", "load_fashion_mnist",
    "load_image_folder", "load_imagenette", "mean_image", "md5sum", "minibatches", "pca_lighting",
    "pca_lighting_basis", "random_crop_flip", "ten_crop", "to_float", "TrainingInput",
]
