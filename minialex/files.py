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
"""
import contextlib
import errno
import os
import stat
from pathlib import Path

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


def open_regular(path, what="file"):
    """``path`` open for reading in binary, if it is a regular file (or a link to one); otherwise a
    ValueError that names it. It is opened without blocking, so a FIFO cannot hang the call, and checked
    after opening, so what is read is what was checked."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise ValueError(f"{what} {path} is a folder, not a file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode)
                    or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            raise ValueError(f"{what} {path} is {kind}, not a regular file: refusing to read it")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
