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
import glob
import json
import math
import os

try:  # file locks: POSIX systems have fcntl, Windows does not (see run_lock)
    import fcntl
except ImportError:  # pragma: no cover - depends on the system
    fcntl = None

from .config import CHANGEABLE_ON_RESUME, WHERE_IT_RUNS, option_name
from .files import TEMPORARY_FILES, atomic_write
from .plots import plot_learning_curves

CHECKPOINT = "checkpoint.npz"
LOCK = "run.lock"


def check_run_dir(run_dir):
    """The run directory must be a folder this process can write, or a path where it can make one."""
    path = os.path.abspath(run_dir)
    while not os.path.exists(path):  # the nearest folder that exists is where the new ones would be made
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        raise ValueError(f"--out {run_dir}: {path} is a file, not a folder; choose another --out")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"--out {run_dir}: this user may not write in {path}; choose another --out")


_locked = set()  # the run directories (real paths) whose lock this process holds


@contextlib.contextmanager
def run_lock(run_dir, log=print):
    """Hold the lock file of ``run_dir`` while training there: another process that tries is refused.

    The lock is fcntl.flock's: the operating system holds it for the open file and drops it when the
    process ends, however it ends (kill -9 included), so the lock file a dead process left never blocks.
    Where there is no fcntl (Windows), the folder is not locked, and a warning says so.

    Holding the lock, this process alone may remove the temporary files that a write cut short by a
    kill -9 left: no other process can be writing them. Re-entrant, so that the command line can lock
    before it loads the data, and fit() again."""
    key = os.path.realpath(run_dir)
    if key in _locked:
        yield
        return
    check_run_dir(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, LOCK), "a+") as f:  # "a+": opening must not erase the holder's pid
        if fcntl is None:
            log(f"warning: this system has no fcntl.flock, so {run_dir} is not locked: make sure that no other "
                "process trains in it")
        else:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another open file holds the lock
                f.seek(0)
                holder = f.read().strip() or "pid unknown"
                raise RuntimeError(f"{run_dir} is in use: another training process ({holder}) holds its lock "
                                   f"file {LOCK}; wait for it to end or stop it, or choose another --out") from None
            f.truncate(0)
            f.write(f"pid {os.getpid()}\n")
            f.flush()
        _remove_temporary_files(run_dir, log)
        _locked.add(key)
        try:
            yield
        finally:
            _locked.discard(key)


def _remove_temporary_files(run_dir, log):
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
    if not os.path.exists(path):
        return
    with open(path) as f:
        written = json.load(f)
    ours = json.loads(json.dumps(dataclasses.asdict(config)))  # as JSON has it: tuples become lists
    differ = [k for k in ours if k in written and k not in CHANGEABLE_ON_RESUME + WHERE_IT_RUNS
              and written[k] != ours[k]]
    if differ:
        raise ValueError(f"the checkpoint in {run_dir} is not the run of its config.json: they differ in "
                         + ", ".join(f"{option_name(k)} ({ours[k]!r} in the checkpoint, {written[k]!r} in "
                                     "config.json)" for k in differ)
                         + ". Was the checkpoint copied from another run? Put it back beside its own config.json")


def write_metrics(run_dir, history, points, title=None):
    """metrics.jsonl (one line per epoch, then one per recorded point) and, given a ``title`` and at
    least one validated epoch, curves.png."""
    lines = [json_line({"kind": "epoch", **h}) for h in history] + [json_line({"kind": "point", **p}) for p in points]
    write_text(os.path.join(run_dir, "metrics.jsonl"), "\n".join(lines) + "\n")
    if history and title is not None:
        with atomic_write(os.path.join(run_dir, "curves.png")) as f:
            plot_learning_curves(history, points, f, title)
