"""Reading and writing files safely: no half-written file after an interruption, and no file that the
program reads can make it hang or wait on a device.

    with atomic_write("runs/demo/metrics.jsonl") as f:
        f.write(text.encode())

The bytes go to a temporary file beside the destination, which is flushed to
disk and then renamed over it. A rename replaces a file in one step, so a
reader finds the old file or the new one, and a crash or Ctrl-C midway leaves
the old file whole. An error inside the ``with`` block (a download whose
checksum is wrong, say) removes the temporary file and keeps the old one; only
a kill -9 can leave a temporary file, named ``.NAME.PID.minialex-tmp``: a name
of minialex's own, so that ``run_files.run_lock`` removes those from a run
directory and never a file of the user's.

    with open_regular("runs/demo/config.json", "config file") as f:
        text = f.read()

opens a file for reading only if it is a regular file: a FIFO would block the
reader forever, and ``/dev/zero`` (or a link to it) never ends.

    arrays = read_npz("runs/demo/checkpoint.npz", "checkpoint")

reads the arrays of an ``np.savez`` file (checkpoints, the decoded-image cache)
without trusting a size it declares: no allocation larger than the file itself.
"""
import contextlib
import errno
import math
import os
import stat
import tokenize
import zipfile
from pathlib import Path

import numpy as np

TEMPORARY_SUFFIX = ".minialex-tmp"
TEMPORARY_FILES = f".*{TEMPORARY_SUFFIX}"  # the glob that matches the temporary files of atomic_write


def temporary_path(path):
    """Where ``atomic_write(path)`` writes before the rename. The process id keeps two processes that write
    the same file (two runs filling one data cache) apart."""
    path = Path(path)
    return path.parent / f".{path.name}.{os.getpid()}{TEMPORARY_SUFFIX}"


@contextlib.contextmanager
def atomic_write(path):
    """Yield a binary file open for writing; when the block ends, it becomes ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename, so a power cut cannot leave an empty file
        os.replace(tmp, path)
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        # The plain "[Errno 28] No space left on device" does not say that nothing was lost.
        raise OSError(errno.ENOSPC, f"no space left on the disk to write {path}; the previous "
                      f"{path.name}, if there was one, is intact (the new one goes to a temporary file first). "
                      "Free some space, then run the command again (with --resume to continue a run)") from err
    finally:
        if tmp.exists():
            tmp.unlink()


class NotARegularFile(ValueError):
    """A path to read is a FIFO, a device, a socket or a folder."""


def open_regular(path, what="file"):
    """``path`` open for reading in binary, if it is a regular file (or a link to one); otherwise a
    ValueError that names it. It is opened without blocking, so a FIFO cannot hang the call, and checked
    after opening, so what is read is what was checked."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:  # where a folder cannot be opened at all
        raise NotARegularFile(f"{what} {path} is a folder, not a file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket")
            raise NotARegularFile(f"{what} {path} is {kind}, not a regular file: refusing to read it")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# The array types an npz of minialex holds: booleans, integers, floats, complex numbers, and text.
ARRAY_KINDS = "biufcSU"


def read_npz(path, what="file"):
    """{name: array} of the ``np.savez`` file at ``path``; a ValueError (or a zipfile.BadZipFile) for a file
    that is not one. Never unpickles anything, and checks every size the file declares before allocating
    it: np.savez stores its members uncompressed, so no member may claim more bytes than the whole file
    has, and no array more bytes than its member. (np.load would allocate whatever shape a .npy header
    claims before finding out that the bytes are missing.)"""
    with open_regular(path, what) as f:  # a FIFO or /dev/zero would block or never end
        size = os.fstat(f.fileno()).st_size
        if not zipfile.is_zipfile(f):
            raise ValueError("it is not an npz (zip) archive")
        with zipfile.ZipFile(f) as archive:
            members = archive.infolist()
            declared = sum(info.file_size for info in members)
            if declared > size:
                raise ValueError(f"its members claim {declared:,} bytes in a file of {size:,}: it is not an npz "
                                 "that np.savez wrote")
            arrays = {}
            for info in members:
                if not info.filename.endswith(".npy") or info.is_dir():
                    raise ValueError(f"it holds {info.filename!r}, which is not a .npy array")
                with archive.open(info) as member:
                    arrays[info.filename[:-len(".npy")]] = _read_npy(member, info)
    return arrays


def _read_npy(member, info):
    """One .npy array from an open zip member, its header checked before the array is allocated."""
    version = np.lib.format.read_magic(member)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise ValueError(f"{info.filename} is a .npy file of version {version}, which np.savez does not write")
    try:
        shape, fortran_order, dtype = readers[version](member)
    except (SyntaxError, TypeError, RecursionError, tokenize.TokenError) as err:  # NumPy parses it as Python
        raise ValueError(f"{info.filename} has a damaged .npy header ({type(err).__name__})") from None
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None:  # object arrays are pickles
        raise ValueError(f"{info.filename} holds {dtype} values, which minialex never writes")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > info.file_size:
        raise ValueError(f"{info.filename} claims a {shape} {dtype} array ({nbytes:,} bytes) in a member of "
                         f"{info.file_size:,} bytes")
    data = bytearray(nbytes)
    if member.readinto(data) != nbytes or member.read(1):  # reading to the end also checks the member's CRC
        raise ValueError(f"{info.filename} does not hold the {nbytes:,} bytes of its array")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran_order else "C")
