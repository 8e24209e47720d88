"""Imagenette: ten easy classes of ImageNet, real ILSVRC-2012 photos (fast.ai, v2 split).

9,469 training and 3,925 validation photos, in the torchvision layout
``ROOT/train/WNID/*.JPEG`` and ``ROOT/val/WNID/*.JPEG``. The folders are WordNet ids;
the loader names the classes as people do (``n01440764`` is "tench"). Every photo
is decoded as the paper prepares ImageNet (``image_folder.decode_image``: shorter
side to 256, central 256x256 patch), so AlexNet sees the input it was designed for.

The official archives hold the same photos at three sizes; ``download=True`` fetches
the one whose shorter side is 320 pixels (341 MB, MD5-checked), the smallest that is
still larger than 256.
"""
from pathlib import Path

from .download import default_cache_dir, download_and_extract
from .image_folder import load_image_folder

URL = "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz"
MD5 = "3df6f0d01a2c9592104656642f5e78a3"
FOLDER = "imagenette2-320"
CLASS_NAMES = {
    "n01440764": "tench", "n02102040": "English springer", "n02979186": "cassette player",
    "n03000684": "chain saw", "n03028079": "church", "n03394916": "French horn",
    "n03417042": "garbage truck", "n03425413": "gas pump", "n03445777": "golf ball",
    "n03888257": "parachute",
}


def load_imagenette(data_dir=None, download=False, subset=None, seed=0, log=print, progress=True, skip_bad=False):
    """(train, val) ArrayDatasets of uint8 images (N, 3, 256, 256).

    data_dir: a folder holding train/ and val/ (an extracted copy, any of the official
    sizes), or a folder that contains imagenette2-320/; None means the cache folder
    (see default_cache_dir). download=True fetches the official archive there when
    it is missing. subset: decode only a stratified subset of the training photos.
    progress, skip_bad: as load_image_folder takes them.
    """
    root = Path(data_dir) if data_dir is not None else default_cache_dir()
    found = find_root(root)
    if found is None:
        if not download:
            raise FileNotFoundError(
                f"Imagenette not found in {root}: expected {root}/train/WNID/*.JPEG and {root}/val/WNID/*.JPEG, "
                f"or {root / FOLDER}. Pass --download to fetch it, or download {URL} (MD5 {MD5}) and "
                f"extract it into {root} (tar xzf {URL.rsplit('/', 1)[1]} -C {root}).")
        found = download_and_extract(URL, MD5, root, FOLDER, "Imagenette", progress)
    name = found.resolve().name
    unknown = sorted(p.name for p in (found / "train").iterdir() if p.is_dir() and p.name not in CLASS_NAMES)
    if unknown:
        raise ValueError(f"{found / 'train'} holds folders that are not Imagenette classes: {', '.join(unknown)}; "
                         "for other image folders use --dataset folder")
    options = dict(class_names=CLASS_NAMES, log=log, progress=progress, skip_bad=skip_bad)
    train = load_image_folder(found / "train", subset=subset, seed=seed, name=f"{name}-train", **options)
    val = load_image_folder(found / "val", name=f"{name}-val", **options)
    return train, val


def find_root(root):
    """The folder with train/ and val/: root itself, root/imagenette2-320, or None."""
    for candidate in (root, root / FOLDER):
        if (candidate / "train").is_dir() and (candidate / "val").is_dir():
            return candidate
    return None
