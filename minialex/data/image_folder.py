"""An ImageNet-style folder of image files, decoded the way the paper prepares ImageNet.

Layout: ``root/CLASS_NAME/IMAGE.jpg`` (any format Pillow reads: .jpg, .png, .webp,
.bmp, .tif, ...); the class folders are sorted by name and numbered 0, 1, 2, ... Section 2
of the paper: "we down-sampled the images to a fixed resolution of 256 x 256. Given a
rectangular image, we first rescaled the image such that the shorter side was of length
256, and then cropped out the central 256 x 256 patch". The random 224 (227) crops of
section 4 are taken later, per batch.

Decoding JPEGs is the slow part. It runs on every core (Pillow releases Python's
lock while it decodes and resizes, so threads suffice), and the result is cached as one
.npz file keyed by the folder, the file names, sizes and modification times of the
images taken, and the target size: the second load reads the cache, and any change to
the folder makes a new cache entry. A subset is chosen before decoding, so
``subset=500`` decodes 500 images, not the whole folder.

What a file says about itself is checked before it costs memory: an image's width and
height (from its header) must be at most ``MAX_PIXELS`` and ``MAX_ASPECT`` to one, since
a 12000x1 PNG of 115 bytes would become a 3,072,000x256 image once its shorter side is
resized to 256. Every file that cannot be decoded is listed after one pass, so that a
folder with three bad files needs one run to find them, not three; ``skip_bad=True``
(``--skip-bad-images``) leaves them out instead, and says how many.
"""
import collections
import hashlib
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..files import atomic_write, read_npz
from .dataset import ArrayDataset, stratified_indices
from .download import default_cache_dir

Image.init()  # registers every format Pillow has, so that EXTENSIONS lists them all
EXTENSIONS = tuple(sorted(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN))
MAX_PIXELS = Image.MAX_IMAGE_PIXELS  # Pillow's own warning limit, about 89 million pixels (268 MB as RGB)
MAX_ASPECT = 50                      # longer side over shorter; the centre crop would keep 2 % of the image
SHOWN = 10                           # bad files named in a message, at most


class UndecodableImages(ValueError):
    """Files of an image folder that cannot be decoded, all of them (``failed``: [(path, reason)])."""

    def __init__(self, root, failed):
        shown = "; ".join(f"{_name(path, root)} ({reason})" for path, reason in failed[:SHOWN])
        more = f"; and {len(failed) - SHOWN} more" if len(failed) > SHOWN else ""
        super().__init__(f"{len(failed)} image(s) in {root} cannot be decoded: {shown}{more}. Delete or replace "
                         "them, or pass --skip-bad-images to leave them out")
        self.failed = failed


def load_image_folder(root, size=256, cache_dir=None, subset=None, seed=0, name=None, class_names=None,
                      log=print, progress=True, skip_bad=False):
    """ArrayDataset of uint8 images (N, 3, size, size) from root/CLASS/IMAGE files.

    subset: decode only a stratified subset of this many images, the same one
    ``ArrayDataset.subset(subset, seed)`` would pick. name: the data set's name
    (default: the folder's). class_names: {folder name: readable name}, for folders
    named by ids (ImageNet's WordNet ids). cache_dir defaults to
    <cache dir>/image-folder (see default_cache_dir). log(message) reports where the
    cache is, and the warnings; pass ``log=None`` for silence. progress: the decoding's
    progress bar. skip_bad: leave out the files that cannot be decoded (with a warning
    that counts them) instead of stopping with the list of them (``UndecodableImages``).
    """
    root = Path(root)
    log = log or (lambda message: None)
    folders, files, labels = _list_images(root, log)
    if subset is not None:
        keep = stratified_indices(labels, len(folders), subset, seed)
        files, labels = [files[i] for i in keep], labels[keep]
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "image-folder"
    cache_path = cache_dir / f"{name or root.resolve().name}-{size}-{_cache_key(root, files, size)}.npz"
    cached = _read_cache(cache_path, len(files), size)
    if cached is not None and len(cached[1]) < len(files) and not skip_bad:
        cached = None  # made with --skip-bad-images: decode again, to list the bad files
    if cached is None:
        decoded = decode_images(files, size, desc=f"decoding {root}", progress=progress)
        _warn_small(decoded.small, root, size, log)
        bad = {i for i, _ in decoded.failed_at}
        kept = np.array([i for i in range(len(files)) if i not in bad], np.int64)
        if decoded.failed_at:
            failed = [(files[i], reason) for i, reason in decoded.failed_at]
            if not skip_bad:
                raise UndecodableImages(root, failed)
            log(f"warning: left out {len(failed)} image(s) of {root} that cannot be decoded (--skip-bad-images): "
                + ", ".join(_name(path, root) for path, _ in failed[:SHOWN]) + (", ..." if len(failed) > SHOWN else ""))
        images = decoded.images[kept] if len(kept) < len(files) else decoded.images
        _write_cache(cache_path, images, kept)
        log(f"cached {len(images)} decoded images ({images.nbytes / 2**20:,.0f} MiB) in {cache_path}")
    else:
        images, kept = cached
        log(f"read {len(images)} decoded images from the cache {cache_path}")
    if len(images) == 0:
        raise ValueError(f"{root}: none of its images can be decoded")
    classes = [(class_names or {}).get(folder, folder) for folder in folders]
    return ArrayDataset(images, labels[kept], classes, name or root.resolve().name)


Decoded = collections.namedtuple("Decoded", "images failed_at small")
Decoded.__doc__ = """What decode_images gives: images uint8 (N, 3, size, size) (a row of zeros where a file failed);
failed_at [(index, reason)] of the files that failed; small [(path, (width, height))] of the images whose
shorter side was enlarged to size."""


def decode_images(paths, size, desc="decoding", workers=None, progress=True):
    """``Decoded``: every path decoded as decode_image does, on all cores, with a progress bar (unless
    ``progress`` is False). A file that cannot be decoded does not stop the others: all are listed."""
    out = np.zeros((len(paths), 3, size, size), np.uint8)
    failed_at, small = [], []

    def work(i):
        try:
            out[i], (width, height) = _decode(paths[i], size)
        except ValueError as err:
            failed_at.append((i, str(err)))
            return
        if min(width, height) < size:
            small.append((paths[i], (width, height)))

    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with ThreadPoolExecutor(workers) as pool, \
            tqdm(total=len(paths), desc=desc, unit="img", dynamic_ncols=True, disable=not progress) as bar:
        for _ in pool.map(work, range(len(paths))):
            bar.update()
    return Decoded(out, sorted(failed_at), sorted(small, key=lambda item: min(item[1])))


def decode_image(path, size):
    """uint8 (3, size, size): RGB, shorter side resized to size, then the central square."""
    return _decode(path, size)[0]


def _decode(path, size):
    """(decode_image's array, (width, height) of the file); a ValueError naming the file if it cannot be
    decoded, or if its size (read from its header, before decoding) is out of bounds."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > MAX_PIXELS or max(width, height) > MAX_ASPECT * min(width, height):
                raise ValueError(f"image {path} is {width}x{height} pixels: more than {MAX_PIXELS:,} pixels or "
                                 f"{MAX_ASPECT} times wider than high (or higher than wide), which this loader "
                                 "does not decode; shrink or remove that file")
            img = img.convert("RGB")
    except Image.DecompressionBombError as err:
        raise ValueError(f"image {path} is too large to decode safely ({err}); shrink or remove that file") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, MemoryError,
            Image.UnidentifiedImageError) as err:  # what Pillow's many decoders raise for a damaged file
        if isinstance(err, ValueError) and str(err).startswith(f"image {path} is "):
            raise
        raise ValueError(f"cannot decode image {path} ({type(err).__name__}: {err}"[:300] + "); delete or replace "
                         "that file") from None
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    # Pillow's bilinear resize widens its filter when shrinking, so it averages
    # all covered pixels (antialiasing) instead of sampling a few and aliasing.
    img = img.resize((new_w, new_h), Image.BILINEAR)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    img = img.crop((left, top, left + size, top + size))
    return np.asarray(img, np.uint8).transpose(2, 0, 1), (width, height)


def _warn_small(small, root, size, log):
    if small:
        path, (width, height) = small[0]
        log(f"warning: {len(small)} image(s) of {root} have a shorter side below {size} pixels (the smallest: "
            f"{_name(path, root)}, {width}x{height}); they were enlarged to {size}x{size}, which blurs them")


def _name(path, root):
    """A file's name below ``root`` for messages."""
    return _shown(Path(path).relative_to(root))


def _shown(path):
    """A path for messages, with the bytes that are not UTF-8 shown as U+FFFD."""
    return os.fsencode(path).decode("utf-8", errors="replace")


def _list_images(root, log):
    """(class names, image paths, int64 labels), classes and files in sorted order."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"image folder {root} does not exist: expected {root}/CLASS_NAME/IMAGE.jpg "
            "(one sub-folder per class holding image files)")
    classes = sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not classes:
        raise ValueError(
            f"{root} has no class sub-folders: expected {root}/CLASS_NAME/IMAGE.jpg, "
            "one sub-folder per class")
    files, labels, others = [], [], []
    for label, name in enumerate(classes):
        _check_name(name, root)
        entries = sorted(p for p in (root / name).iterdir() if p.is_file())
        for path in entries:
            _check_name(path.name, root / name)
        found = [p for p in entries if p.suffix.lower() in EXTENSIONS]
        others += [p for p in entries if p.suffix.lower() not in EXTENSIONS and not p.name.startswith(".")]
        if not found:
            raise ValueError(
                f"class folder {root / name} holds no images (files Pillow reads: .jpg, .png, .webp, ...); "
                "add images or remove the folder")
        files += found
        labels += [label] * len(found)
    if others:
        log(f"warning: left out {len(others)} file(s) of {root} that are not images Pillow reads (by their name): "
            + ", ".join(_name(path, root) for path in others[:SHOWN]) + (", ..." if len(others) > SHOWN else ""))
    return classes, files, np.array(labels, np.int64)


def _check_name(name, folder):
    """File names must be text: the cache key, the class names and the messages are."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{_shown(folder)} holds a file or folder whose name is not UTF-8 text: "
                         f"{_shown(name)!r}; rename it") from None


def _cache_key(root, files, size):
    """A short hash that changes whenever the folder's files or the target size change."""
    digest = hashlib.sha256(f"{root.resolve()}\n{size}\n".encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _read_cache(path, count, size):
    """(images, kept: the indices of the files they are) from the cache, or None when there is no usable
    cache file. A cache from before ``kept`` was saved holds every file."""
    if not path.is_file():
        return None
    try:
        cached = read_npz(path, "image cache")
        images = cached["images"]
        kept = cached.get("kept", np.arange(len(images)))
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None  # a damaged cache only costs a re-decode; the new file replaces it
    usable = (images.dtype == np.uint8 and images.shape[1:] == (3, size, size) and kept.dtype.kind == "i"
              and kept.shape == (len(images),) and np.all(np.diff(kept) > 0) and
              (len(kept) == 0 or 0 <= kept[0] and kept[-1] < count))
    return (images, kept) if usable and len(images) <= count else None


def _write_cache(path, images, kept):
    """Save atomically (temporary file, then rename) so a crash never leaves half a cache."""
    with atomic_write(path) as f:
        np.savez(f, images=images, kept=kept)
