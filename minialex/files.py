"""Writing a file so that nobody ever sees half of it: checkpoints, metrics, downloads, caches.

    with atomic_write("runs/demo/metrics.jsonl") as f:
        f.write(text.encode())

The bytes go to a temporary file beside the destination, which is flushed to
disk and then renamed over it. A rename replaces a file in one step, so a
reader finds the old file or the new one, and a crash or Ctrl-C midway leaves
the old file whole. An error inside the ``with`` block (a download whose
checksum is wrong, say) removes the temporary file and keeps the old one; only
a kill -9 can leave a temporary file, named ``.NAME-PID.tmp`` (the trainer's
``run_lock`` removes those from a run directory).
"""
import contextlib
import os
from pathlib import Path

TEMPORARY_FILES = ".*.tmp"  # the glob that matches the temporary files of atomic_write


@contextlib.contextmanager
def atomic_write(path):
    """Yield a binary file open for writing; when the block ends, it becomes ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The process id keeps two processes that write the same file (two runs filling one data cache) apart.
    tmp = path.parent / f".{path.name}-{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename, so a power cut cannot leave an empty file
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
