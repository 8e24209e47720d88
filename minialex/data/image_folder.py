"""An ImageNet-style folder of image files, decoded the way the paper prepares ImageNet.

Layout: ``root/CLASS_NAME/IMAGE.jpg`` (also .jpeg and .png); the class folders are
sorted by name and numbered 0, 1, 2, ... Section 2 of the paper: "we down-sampled the
images to a fixed resolution of 256 x 256. Given a rectangular image, we first rescaled
the image such that the shorter side was of length 256, and then cropped out the central
256 x 256 patch". The random 224 (227) crops of section 4 are taken later, per batch.

Decoding JPEGs is the slow part. It runs on every core (Pillow releases Python's
lock while it decodes and resizes, so threads suffice), and the result is cached as one
.npz file keyed by the folder, the file names, sizes and modification times of the
images taken, and the target size: the second load reads the cache, and any change to
the folder makes a new cache entry. A subset is chosen before decoding, so
``subset=500`` decodes 500 images, not the whole folder.
"""
import hashlib
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..files import atomic_write
from .dataset import ArrayDataset, stratified_indices
from .download import default_cache_dir

EXTENSIONS = (".jpg", ".jpeg", ".png")


def load_image_folder(root, size=256, cache_dir=None, subset=None, seed=0, name=None, class_names=None,
                      log=print):
    """ArrayDataset of uint8 images (N, 3, size, size) from root/CLASS/*.jpg|jpeg|png.

    subset: decode only a stratified subset of this many images, the same one
    ``ArrayDataset.subset(subset, seed)`` would pick. name: the data set's name
    (default: the folder's). class_names: {folder name: readable name}, for folders
    named by ids (ImageNet's WordNet ids). cache_dir defaults to
    <cache dir>/image-folder (see default_cache_dir). log(message) reports where the
    cache is; pass ``log=None`` for silence.
    """
    root = Path(root)
    folders, files, labels = _list_images(root)
    if subset is not None:
        keep = stratified_indices(labels, len(folders), subset, seed)
        files, labels = [files[i] for i in keep], labels[keep]
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "image-folder"
    cache_path = cache_dir / f"{name or root.resolve().name}-{size}-{_cache_key(root, files, size)}.npz"
    images = _read_cache(cache_path)
    if images is None:
        images = decode_images(files, size, desc=f"decoding {root}")
        _write_cache(cache_path, images)
        if log:
            log(f"cached {len(images)} decoded images ({images.nbytes / 2**20:,.0f} MiB) in {cache_path}")
    elif log:
        log(f"read {len(images)} decoded images from the cache {cache_path}")
    classes = [(class_names or {}).get(folder, folder) for folder in folders]
    return ArrayDataset(images, labels, classes, name or root.resolve().name)


def decode_images(paths, size, desc="decoding", workers=None):
    """uint8 (N, 3, size, size): decode_image on every path, on all cores, with a progress bar."""
    out = np.empty((len(paths), 3, size, size), np.uint8)

    def work(i):
        out[i] = decode_image(paths[i], size)

    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with ThreadPoolExecutor(workers) as pool, \
            tqdm(total=len(paths), desc=desc, unit="img", dynamic_ncols=True) as bar:
        for _ in pool.map(work, range(len(paths))):
            bar.update()
    return out


def decode_image(path, size):
    """uint8 (3, size, size): RGB, shorter side resized to size, then the central square."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
    except Image.DecompressionBombError as err:
        raise ValueError(f"image {path} is too large to decode safely ({err}); shrink or remove that file") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"cannot decode image {path} ({err}); delete or replace that file") from err
    width, height = img.size
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    # Pillow's bilinear resize widens its filter when shrinking, so it averages
    # all covered pixels (antialiasing) instead of sampling a few and aliasing.
    img = img.resize((new_w, new_h), Image.BILINEAR)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    img = img.crop((left, top, left + size, top + size))
    return np.asarray(img, np.uint8).transpose(2, 0, 1)


def _list_images(root):
    """(class names, image paths, int64 labels), classes and files in sorted order."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"image folder {root} does not exist: expected {root}/CLASS_NAME/IMAGE.jpg "
            "(one sub-folder per class holding .jpg, .jpeg or .png files)")
    classes = sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not classes:
        raise ValueError(
            f"{root} has no class sub-folders: expected {root}/CLASS_NAME/IMAGE.jpg, "
            "one sub-folder per class")
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(p for p in (root / name).iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
        if not found:
            raise ValueError(
                f"class folder {root / name} holds no {'/'.join(EXTENSIONS)} images; "
                "add images or remove the folder")
        files += found
        labels += [label] * len(found)
    return classes, files, np.array(labels, np.int64)


def _cache_key(root, files, size):
    """A short hash that changes whenever the folder's files or the target size change."""
    digest = hashlib.sha256(f"{root.resolve()}\n{size}\n".encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _read_cache(path):
    """The cached images, or None when there is no usable cache file."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as cached:
            return cached["images"]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None  # a damaged cache only costs a re-decode; the new file replaces it


def _write_cache(path, images):
    """Save atomically (temporary file, then rename) so a crash never leaves half a cache."""
    with atomic_write(path) as f:
        np.savez(f, images=images)
