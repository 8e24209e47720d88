"""The few collectives the two schemes need, between processes started by ``mpiexec``.

A *collective* is a call that every process of the group makes at the same
point of its program, each with its own array; it returns when all of them
have taken part. Four of them do all the work here:

    allreduce(x)          every process gets the sum (or mean) of everyone's x
    allgather(x, axis)    everyone's x joined along ``axis``, in rank order
    reduce_scatter(x, a)  the sum of everyone's x, cut along ``a``: each keeps its own block
    broadcast(x, root)    everyone gets the root's x

plus ``barrier()``. A NumPy array goes through MPI (mpi4py); a CuPy array
through NCCL (``cupy.cuda.nccl``), which moves GPU memory between GPUs
directly: the array's module decides, as in the layers
(``minialex.backend.get_array_module``). One process drives one GPU.

``calls`` counts the collectives by name, and ``bytes_sent`` what this
process sends, in the ring algorithms that NCCL uses and MPI's large-message
collectives resemble: for P processes and an array of S bytes (for allgather,
each process's part), allreduce 2 (P-1)/P S, allgather (P-1) S,
reduce-scatter (P-1)/P S, broadcast (P-1)/P S (on average over the
processes). With P = 2: what one process hands the other.

Nothing here imports mpi4py or CuPy until a parallel run asks for them, so
the rest of minialex works without either.
"""
import collections
import sys

import numpy as np

from ..backend import get_array_module

INSTALL = 'pip install -e ".[mpi]"'
LAUNCH = "mpiexec -n 2 python -m minialex.train --parallel data ..."


class Communicator:
    """The processes of one parallel run: ``rank`` (0 .. size-1) and ``size``.

    Every method is a collective: all processes call it, in the same order,
    with arrays of the same shape and dtype (``allgather``: the same shape,
    which it multiplies along ``axis``). The results are new arrays, except
    ``allreduce`` and ``broadcast``, which overwrite their (contiguous) input.
    """

    def __init__(self, mpi_comm):
        self.mpi = mpi_comm
        self.rank, self.size = mpi_comm.Get_rank(), mpi_comm.Get_size()
        self.calls, self.bytes_sent = collections.Counter(), 0
        self.stopped_together = False  # set when every process agreed to stop (Ctrl-C): see leave()
        self._mpi = _MPI(mpi_comm)
        self._nccl = None  # made on the first CuPy array, by every process at once

    def _transport(self, x):
        if get_array_module(x) is np:
            return self._mpi
        if self._nccl is None:
            self._nccl = _NCCL(self.mpi)
        return self._nccl

    def allreduce(self, x, op="sum"):
        """x (any shape) -> the elementwise sum ("sum") or mean ("mean") over the processes, in x."""
        if op not in ("sum", "mean"):
            raise ValueError(f"allreduce: op must be 'sum' or 'mean', got {op!r}")
        x = _contiguous(x)
        self._transport(x).allreduce(x)
        self._count("allreduce", 2 * (self.size - 1) * x.nbytes // self.size)
        if op == "mean":
            x /= self.size
        return x

    def allgather(self, x, axis=0):
        """x (..., n, ...) on each process -> (..., size * n, ...): the processes' arrays
        joined along ``axis`` in rank order (rank 0's first)."""
        xp, x = get_array_module(x), _contiguous(x)
        parts = xp.empty((self.size, *x.shape), dtype=x.dtype)
        self._transport(x).allgather(x, parts)
        self._count("allgather", (self.size - 1) * x.nbytes)
        shape = x.shape[:axis] + (self.size * x.shape[axis],) + x.shape[axis + 1:]
        return xp.moveaxis(parts, 0, axis).reshape(shape)  # (P, ..., n, ...) -> (..., P * n, ...)

    def reduce_scatter(self, x, axis=0):
        """x (..., size * n, ...) on each process -> (..., n, ...): block ``rank`` along
        ``axis`` of the sum over the processes. The backward pass of ``allgather``."""
        xp = get_array_module(x)
        whole = x.shape[axis]
        if whole % self.size:
            raise ValueError(f"reduce_scatter: {whole} entries along axis {axis} do not split into "
                             f"{self.size} equal blocks (shape {tuple(x.shape)})")
        n = whole // self.size
        blocks = x.reshape(x.shape[:axis] + (self.size, n) + x.shape[axis + 1:])
        blocks = xp.ascontiguousarray(xp.moveaxis(blocks, axis, 0))  # (P, ..., n, ...): block r contiguous
        mine = xp.empty(blocks.shape[1:], dtype=x.dtype)
        self._transport(x).reduce_scatter(blocks, mine)
        self._count("reduce_scatter", (self.size - 1) * x.nbytes // self.size)
        return mine

    def broadcast(self, x, root=0):
        """x (any shape) -> the root's x, in x."""
        x = _contiguous(x)
        self._transport(x).broadcast(x, root)
        self._count("broadcast", (self.size - 1) * x.nbytes // self.size)
        return x

    def _count(self, name, nbytes):
        self.calls[name] += 1
        self.bytes_sent += nbytes

    def barrier(self):
        """Return when every process has called it."""
        self.mpi.Barrier()

    def local(self):
        """(rank, size) among the processes on this machine: which GPU and how
        many of its cores this process takes."""
        from mpi4py import MPI
        node = self.mpi.Split_type(MPI.COMM_TYPE_SHARED)
        return node.Get_rank(), node.Get_size()


def _contiguous(x):
    """x itself when it is C-contiguous (collectives work on flat buffers), else a contiguous copy."""
    return get_array_module(x).ascontiguousarray(x)


class _MPI:
    """The collectives on NumPy buffers, through mpi4py's buffer interface (no pickling)."""

    def __init__(self, comm):
        from mpi4py import MPI
        self.comm, self.MPI = comm, MPI

    def allreduce(self, x):
        self.comm.Allreduce(self.MPI.IN_PLACE, x, op=self.MPI.SUM)

    def allgather(self, x, parts):
        self.comm.Allgather(x, parts)

    def reduce_scatter(self, blocks, mine):
        self.comm.Reduce_scatter_block(blocks, mine, op=self.MPI.SUM)

    def broadcast(self, x, root):
        self.comm.Bcast(x, root=root)


class _NCCL:
    """The same collectives on CuPy buffers, through NCCL, one GPU per process.

    NCCL needs every process to start from the same "unique id": process 0
    makes it and MPI broadcasts it (the usual bootstrap). Each call is queued
    on the current CUDA stream, after the kernels that computed its input and
    before those that use its output, so no synchronisation is needed.
    """

    def __init__(self, comm):
        import cupy
        from cupy.cuda import nccl
        self.cupy, self.nccl = cupy, nccl
        uid = comm.bcast(nccl.get_unique_id() if comm.Get_rank() == 0 else None, root=0)
        self.comm = nccl.NcclCommunicator(comm.Get_size(), uid, comm.Get_rank())
        self.types = {np.dtype(np.float32): nccl.NCCL_FLOAT32, np.dtype(np.float64): nccl.NCCL_FLOAT64,
                      np.dtype(np.uint8): nccl.NCCL_UINT8, np.dtype(np.int64): nccl.NCCL_INT64}

    def _type(self, x):
        if x.dtype not in self.types:
            raise TypeError(f"NCCL collectives here take {sorted(map(str, self.types))}, got {x.dtype}")
        return self.types[x.dtype]

    def _stream(self):
        return self.cupy.cuda.get_current_stream().ptr

    def allreduce(self, x):
        self.comm.allReduce(x.data.ptr, x.data.ptr, x.size, self._type(x), self.nccl.NCCL_SUM, self._stream())

    def allgather(self, x, parts):
        self.comm.allGather(x.data.ptr, parts.data.ptr, x.size, self._type(x), self._stream())

    def reduce_scatter(self, blocks, mine):
        self.comm.reduceScatter(blocks.data.ptr, mine.data.ptr, mine.size, self._type(mine), self.nccl.NCCL_SUM,
                                self._stream())

    def broadcast(self, x, root):
        self.comm.bcast(x.data.ptr, x.size, self._type(x), root, self._stream())


# -- the processes of this run ------------------------------------------------------------

_world = None


def world():
    """The Communicator of every process that ``mpiexec`` started (one process
    without it), made once. Raises RuntimeError, saying what to install, where
    mpi4py or an MPI library is missing."""
    global _world
    if _world is None:
        try:
            from mpi4py import MPI
        except ImportError as err:  # no mpi4py, or no MPI library for it
            raise RuntimeError(f"a parallel run needs mpi4py and an MPI library ({err}). Install them with "
                               f"`{INSTALL}`, then launch one process per device: `{LAUNCH}`") from err
        _world = Communicator(MPI.COMM_WORLD)
        if _world.size > 1:
            sys.excepthook = _abort_on_uncaught(sys.excepthook)
    return _world


def _abort_on_uncaught(excepthook):
    """An exception that ends one process would leave the others waiting in
    their next collective for ever (MPI's exit waits for them, too): print it,
    then stop every process."""

    def hook(kind, value, traceback):
        excepthook(kind, value, traceback)
        _abort(1)

    return hook


def _abort(code):
    print(f"process {_world.rank} of {_world.size} failed: stopping every process (exit code {code})",
          file=sys.stderr, flush=True)
    _world.mpi.Abort(code)


def leave(code):
    """The exit code ``code`` of ``python -m minialex.train``, after making sure
    that a parallel run that fails on one process stops on all: unless every
    process agreed to stop (Ctrl-C), a non-zero code aborts them all."""
    if _world is not None and _world.size > 1 and code and not _world.stopped_together:
        _abort(code)
    return code
