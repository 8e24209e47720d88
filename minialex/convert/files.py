"""The files the converters read and fetch: size-checked reads, downloads checked against the
published digests, and ImageNet's class names from BVLC's auxiliary archive."""
import hashlib
import os
import tarfile
from pathlib import Path

from ..data.download import _stream
from ..files import atomic_write

LIMIT = 2 << 30  # 2 GiB: far more than an AlexNet weight file (BVLC's and torchvision's: 61 million float32, ~233 MiB)


def read_limited(path, what, limit=LIMIT):
    """The bytes of ``path``, refused (before reading) if it is missing or larger than ``limit``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {what} at {path}")
    size = os.path.getsize(path)
    if size > limit:
        raise ValueError(f"{path} is {size:,} bytes, more than a {what} can be ({limit:,})")
    with open(path, "rb") as f:
        return f.read()


def digest(path, algorithm):
    """The hex digest of a file with hashlib's ``algorithm``, read a MiB at a time."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url, path, algorithm=None, expected=None, progress=True):
    """Download ``url`` to ``path`` unless it is there, with a progress bar; where a digest is published,
    the file's ``algorithm`` digest must start with ``expected`` (torchvision publishes the first 8 hex
    digits of the SHA-256 in the file's name, BVLC the whole SHA-1). Nothing is kept of a failed or
    mismatched download. Offline, the ConnectionError says which URL to fetch and where to put it."""
    path = Path(path)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as out:
        _stream(url, out, path, progress)
        out.flush()
        if expected is not None and not digest(out.name, algorithm).startswith(expected):
            raise ValueError(f"the download of {url} does not have the published {algorithm} {expected}: it was "
                             "damaged, or the file changed upstream; nothing was kept, so try again")
    return path


def read_aux(archive):
    """(class names, imagenet_mean.binaryproto's bytes) from BVLC's caffe_ilsvrc12.tar.gz. Only those two
    members are read, each checked for size first; nothing is extracted to disk."""
    wanted = {"synset_words.txt": 1 << 20, "imagenet_mean.binaryproto": 1 << 22}
    found = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = os.path.basename(member.name)
                if name in wanted and member.isfile():
                    if member.size > wanted[name]:
                        raise ValueError(f"its {name} is {member.size:,} bytes, more than it can be")
                    found[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(f"{archive} is not a readable .tar.gz ({err})") from err
    missing = set(wanted) - set(found)
    if missing:
        raise ValueError(f"{archive} holds no {', '.join(sorted(missing))}: is it BVLC's caffe_ilsvrc12.tar.gz?")
    return synset_names(found["synset_words.txt"].decode("utf-8"), archive), found["imagenet_mean.binaryproto"]


def synset_names(text, where):
    """The class names of a synset_words.txt ("n01440764 tench, Tinca tinca", one line per class, in
    label order): the words after the WordNet id. ``where`` names the file in the error."""
    lines = [line for line in text.splitlines() if line.strip()]
    names = [line.split(" ", 1)[1].strip() if " " in line.strip() else "" for line in lines]
    if len(names) != 1000 or not all(names):
        raise ValueError(f"{where} is not a synset_words.txt of ImageNet's 1000 classes "
                         f"({len(names)} lines, {names.count('')} without a name)")
    return names

