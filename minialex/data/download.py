"""Fetching data set files: where they live and how to download them safely.

A download first goes to a temporary file beside the destination and is moved into
place (``files.atomic_write``) only after its MD5 checksum matches. So an interrupted
or corrupted download never leaves a file that looks complete, and the next run
simply tries again.
"""
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ..files import atomic_write


def default_cache_dir():
    """Where data sets are kept: $MINIALEX_DATA if set, else ~/.cache/minialex."""
    return Path(os.environ.get("MINIALEX_DATA") or Path.home() / ".cache" / "minialex")


def md5sum(path, chunk_bytes=1 << 20):
    """Hex MD5 digest of a file, read in chunks so large archives need little memory."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_bytes), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url, dest_path, md5, progress=True):
    """Download url to dest_path, with a progress bar (unless ``progress`` is False), and check its MD5.
    Returns dest_path as a Path.

    Raises ConnectionError when the URL cannot be fetched (e.g. offline), saying where
    to put the file by hand, and ValueError when the checksum does not match.
    """
    dest_path = Path(dest_path)
    with atomic_write(dest_path) as out:
        _stream(url, out, dest_path, progress)
        out.flush()
        actual = md5sum(out.name)
        if actual != md5:  # leaving the block with an error keeps nothing
            raise ValueError(
                f"MD5 mismatch for {url}: expected {md5}, got {actual}. The download was "
                "corrupted or the file changed upstream; nothing was kept, so just try again.")
    return dest_path


def _stream(url, out, dest_path, progress):
    """Copy the body of url into the open binary file `out`, showing a progress bar if ``progress``."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest_path.name,
                      disable=not progress) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        raise ConnectionError(
            f"could not download {url} ({err}). If this machine is offline, fetch that URL "
            f"on another machine and copy the file to {dest_path}") from err


def download_and_extract(url, md5, root, folder, what, progress=True):
    """Fetch the .tar.gz archive at url into root (unless a good copy is already there),
    unpack the one folder it holds into root/folder, then delete the archive.
    Returns root/folder. ``what`` names the data set in errors ("CIFAR-10"); ``progress``: the
    download's progress bar.

    The archive is unpacked into a scratch folder that is renamed at the end, so an
    interrupted extraction never leaves a half-filled folder behind; an entry that
    could write outside that folder (an absolute path, "..", a link) refuses the archive.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    archive = root / url.rsplit("/", 1)[1]
    if not archive.is_file() or md5sum(archive) != md5:
        download(url, archive, md5, progress)
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=".extract-"))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                parts = Path(member.name).parts
                if member.name.startswith(("/", "\\")) or ".." in parts or parts[0] != folder \
                        or not (member.isfile() or member.isdir()):
                    raise ValueError(
                        f"{archive} contains an unexpected entry {member.name!r}; it is not the official "
                        f"{what} archive. Delete it and download {url} again.")
            tar.extractall(scratch, members=members, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        os.replace(scratch / folder, root / folder)
    finally:
        shutil.rmtree(scratch)
    archive.unlink()
    return root / folder
