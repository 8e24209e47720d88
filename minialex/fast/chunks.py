"""A batch, a chunk of samples at a time, the chunks spread over the CPU's cores.

Two reasons to cut a batch into chunks on the CPU:

* Cache. A layer that makes several passes over a 40 MB array pays for main
  memory on every pass; done a few samples at a time, the passes after the
  first hit the cache, and the big temporaries shrink to a few MB.
* Cores. The samples of a batch are independent, so the chunks can run at
  the same time, one per core. NumPy lets go of Python's global interpreter
  lock inside its loops and BLAS calls, so plain Python threads do run in
  parallel here. Each chunk then calls a single-threaded BLAS: one thread per
  core, and the copies around each matrix product (im2col, col2im, the
  pooling passes), which NumPy would run on one core, run on all of them.

``for_each_chunk(work, chunks, xp)`` is the whole API a fast path uses:
``work`` gets a batch slice, writes its part of the output (different chunks
never write the same place) and may return something to be summed, like a
weight gradient. On the GPU the chunks simply run one after another: one GPU
kernel already uses every core of the GPU.

``MINIALEX_THREADS`` (default: the cores this process may use) sets how many
threads, read at the first use; ``set_threads`` changes it at run time (the
benchmarks compare 1 and 2 threads).
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# About how many bytes of work one chunk of a batch should touch (see batch_chunks).
CHUNK_BYTES = 4 << 20

_THREAD_NAME = "minialex-chunk"
MAX_THREADS = 4096  # more than any machine's cores: a larger MINIALEX_THREADS is a typo
_pool = None
_blas = None


def _default_threads():
    """MINIALEX_THREADS if set, else the cores this process may run on."""
    value = os.environ.get("MINIALEX_THREADS", "").strip()
    if value:
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_THREADS:
            raise ValueError(f"MINIALEX_THREADS must be a whole number of threads from 1 to {MAX_THREADS}; "
                             f"got {value!r}")
        return int(value)
    if hasattr(os, "sched_getaffinity"):  # Linux: respects taskset and container CPU sets
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# The environment is read once, at the first use, so that a bad MINIALEX_THREADS is an error of the command
# (one line), not a traceback of the import; set_threads changes the count later.
_threads = None


def threads():
    """How many threads the CPU layers use."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_threads(n):
    """Use n threads from now on (n=1: everything in the calling thread). Returns the old value."""
    global _threads, _pool
    if n < 1:
        raise ValueError(f"set_threads: need at least 1 thread, got {n}")
    old, _threads = threads(), int(n)
    if _pool is not None and old != n:
        _pool.shutdown()
        _pool = None
    return old


def batch_chunks(xp, n, bytes_per_sample, budget=None):
    """Slices cutting a batch of n samples into equal chunks of at most
    ``budget`` bytes (default CHUNK_BYTES), at least one sample each.

    On the CPU the number of chunks is a multiple of the thread count when
    the batch allows it, so that every core gets the same work. On the GPU
    bigger launches are faster, so by default the whole batch is one chunk; a
    layer whose temporaries would be huge (im2col's columns) passes a budget
    for the GPU too.
    """
    if budget is None:
        budget = CHUNK_BYTES if xp is np else None
    pieces = -(-n * bytes_per_sample // budget) if budget else 1  # ceil
    if xp is np:
        pieces = -(-pieces // threads()) * threads()  # round up to a multiple of the threads
    step = max(1, -(-n // max(1, pieces)))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def for_each_chunk(work, chunks, xp=np):
    """[work(s) for s in chunks], NumPy's chunks on every core. Returns the results in order."""
    if xp is not np or threads() == 1 or len(chunks) == 1 or threading.current_thread().name.startswith(_THREAD_NAME):
        return [work(s) for s in chunks]
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(threads(), thread_name_prefix=_THREAD_NAME)
    with _one_blas_thread():
        return list(_pool.map(work, chunks))


def _forget_pool():
    """A forked child inherits the pool object but none of its threads."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_forget_pool)


def _one_blas_thread():
    """BLAS on one thread while our threads run: the cores are taken already,
    and a multi-threaded BLAS called from two threads at once would make its
    threads wait for one another."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")
