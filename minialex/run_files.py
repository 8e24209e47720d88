"""The files of a run directory, and the lock that keeps a second process out.

    runs/demo/
      checkpoint.npz   the whole state of the run (minialex.checkpoint)
      config.json      its options, readable
      metrics.jsonl    one line per epoch, then one per recorded point of the running training error
      curves.png       the learning curves
      run.lock         held by the process that trains there

Every file is written to a temporary file and renamed (``files.atomic_write``), so a file is always
whole: the old one or the new one.
"""
import contextlib
import dataclasses
import fnmatch
import glob
import json
import math
import os
import stat

try:  # file locks: POSIX systems have fcntl, Windows does not (see run_lock)
    import fcntl
except ImportError:  # pragma: no cover - depends on the system
    fcntl = None

from .config import CHANGEABLE_ON_RESUME, WHERE_IT_RUNS, option_name
from .files import TEMPORARY_FILES, atomic_write, open_regular
from .plots import plot_learning_curves

CHECKPOINT = "checkpoint.npz"
LOCK = "run.lock"
RUN_FILES = (CHECKPOINT, LOCK, "checkpoint.pkl")  # a folder holding one (or a temporary file) is a minialex run


def check_run_dir(run_dir):
    """The run directory must be a folder this process can write, or a path where it can make one; and if
    it exists and holds anything, it must be a minialex run, so that a run never writes (or cleans up)
    among the user's own files: ``--out /`` or ``--out ~`` is refused."""
    path = os.path.abspath(run_dir)
    while not os.path.exists(path):  # the nearest folder that exists is where the new ones would be made
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        raise ValueError(f"--out {run_dir}: {path} is a file, not a folder; choose another --out")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"--out {run_dir}: this user may not write in {path}; choose another --out")
    if path != os.path.abspath(run_dir):
        return  # a new folder
    real = os.path.realpath(path)
    home = os.path.realpath(os.path.expanduser("~"))
    if real == os.path.dirname(real) or real == home:  # only a root folder is its own parent
        raise ValueError(f"--out {run_dir} is {'your home' if real == home else 'the root'} folder: a run needs a "
                         f"folder of its own, e.g. --out {os.path.join(run_dir, 'runs', 'demo')}")
    with os.scandir(path) as entries:
        names = sorted(entry.name for entry in entries)
    if names and not any(name in RUN_FILES or fnmatch.fnmatch(name, TEMPORARY_FILES) for name in names):
        shown = ", ".join(os.fsencode(n).decode(errors="replace") for n in names[:3]) + (", ..." if len(names) > 3
                                                                                          else "")
        raise ValueError(f"--out {run_dir} holds {len(names)} other file(s) ({shown}) and no minialex run "
                         f"({' or '.join(RUN_FILES)}): a run writes its files there, so give it a new or empty "
                         "folder")


_locked = set()  # the run directories (real paths) whose lock this process holds


@contextlib.contextmanager
def run_lock(run_dir, log=print):
    """Hold the lock file of ``run_dir`` while training there: another process that tries is refused.

    The lock is fcntl.flock's: the operating system holds it for the open file and drops it when the
    process ends, however it ends (kill -9 included), so the lock file a dead process left never blocks.
    Where there is no fcntl (Windows), the folder is not locked, and a warning says so. The lock file is
    opened without following a symbolic link (O_NOFOLLOW), so a ``run.lock`` that points elsewhere cannot
    make the run overwrite another file.

    Holding the lock, this process alone may remove the temporary files that a write cut short by a
    kill -9 left: no other process can be writing them. Re-entrant, so that the command line can lock
    before it loads the data, and fit() again."""
    key = os.path.realpath(run_dir)
    if key in _locked:
        yield
        return
    check_run_dir(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    with _open_lock_file(os.path.join(run_dir, LOCK)) as f:
        if fcntl is None:
            log(f"warning: this system has no fcntl.flock, so {run_dir} is not locked: make sure that no other "
                "process trains in it")
        else:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another open file holds the lock
                f.seek(0)
                holder = f.read(100).decode(errors="replace").strip() or "pid unknown"
                raise RuntimeError(f"{run_dir} is in use: another training process ({holder}) holds its lock "
                                   f"file {LOCK}; wait for it to end or stop it, or choose another --out") from None
            f.seek(0)
            f.truncate(0)
            f.write(f"pid {os.getpid()}\n".encode())
            f.flush()
        _remove_temporary_files(run_dir, log)
        _locked.add(key)
        try:
            yield
        finally:
            _locked.discard(key)


def _open_lock_file(path):
    """The lock file open for reading and writing, made if missing; never through a symbolic link, and
    only a regular file (opening must not erase the holder's pid, so no truncation here)."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError:
        if os.path.islink(path):
            raise ValueError(f"{path} is a symbolic link (to {os.readlink(path)}): minialex makes its lock file "
                             "itself and will not write through a link; remove it") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"{path} is not a regular file: minialex makes its lock file itself; remove it")
    return os.fdopen(fd, "r+b")


def _remove_temporary_files(run_dir, log):
    """Only minialex's own temporary files (files.TEMPORARY_FILES), never another ``.*.tmp``."""
    leftovers = sorted(glob.glob(os.path.join(glob.escape(os.fspath(run_dir)), TEMPORARY_FILES)))
    for path in leftovers:
        os.remove(path)
    if leftovers:
        log(f"removed {len(leftovers)} temporary file(s) in {run_dir} that an interrupted write left: "
            + ", ".join(os.path.basename(path) for path in leftovers))


def write_text(path, text):
    with atomic_write(path) as f:
        f.write(text.encode())


def json_line(record):
    """One line of metrics.jsonl. JSON has no NaN or infinity (Python would write NaN, which is not JSON), so
    they become null."""
    return json.dumps({key: None if isinstance(value, float) and not math.isfinite(value) else value
                       for key, value in record.items()}, allow_nan=False)


def check_config_json(run_dir, config):
    """Refuse a checkpoint that is not the run directory's own (say, copied there from another run): the
    checkpoint and config.json must agree on every field that a resumed run keeps."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.lexists(path):
        return
    written = read_config_json(path)
    ours = json.loads(json.dumps(dataclasses.asdict(config)))  # as JSON has it: tuples become lists
    differ = [k for k in ours if k in written and k not in CHANGEABLE_ON_RESUME + WHERE_IT_RUNS
              and written[k] != ours[k]]
    if differ:
        raise ValueError(f"the checkpoint {os.path.join(run_dir, CHECKPOINT)} is not the run of its config.json: "
                         "they differ in "
                         + ", ".join(f"{option_name(k)} ({ours[k]!r} in the checkpoint, {written[k]!r} in "
                                     "config.json)" for k in differ)
                         + ". Was the checkpoint copied from another run? Put it back beside its own config.json")


CONFIG_JSON_LIMIT = 1 << 20  # bytes; minialex writes about 1 KB


def read_config_json(path):
    """The dict in a run's config.json; a file that is not one gets a one-line error naming it."""
    with open_regular(path, "config file") as f:
        raw = f.read(CONFIG_JSON_LIMIT + 1)
    try:
        if len(raw) > CONFIG_JSON_LIMIT:
            raise ValueError(f"it is larger than {CONFIG_JSON_LIMIT:,} bytes")
        written = json.loads(raw.decode("utf-8"))
        if not isinstance(written, dict):
            raise ValueError(f"it holds a JSON {type(written).__name__}, not an object of options")
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError and json's errors are ValueErrors
        raise ValueError(f"{path} is not a minialex config.json ({err}); restore it from a copy of the run, "
                         "or delete it (the checkpoint holds the options too)") from None
    return written


def write_metrics(run_dir, history, points, title=None):
    """metrics.jsonl (one line per epoch, then one per recorded point) and, given a ``title`` and at
    least one validated epoch, curves.png."""
    lines = [json_line({"kind": "epoch", **h}) for h in history] + [json_line({"kind": "point", **p}) for p in points]
    write_text(os.path.join(run_dir, "metrics.jsonl"), "\n".join(lines) + "\n")
    if history and title is not None:
        with atomic_write(os.path.join(run_dir, "curves.png")) as f:
            plot_learning_curves(history, points, f, title)
