"""What the Trainer asks of a parallel run, and the run of one process that asks nothing.

``Trainer`` calls these hooks at the few places where sharing the work matters:

    model(model)       once: the model this process trains (its half, for the model split)
    shard(n)           every batch: which of the batch's n images this process computes
    reduce(loss, err)  after backward: the batch's loss and error count over all processes
                       (data parallelism also averages the gradients here)
    agree(trainer)     after every batch and epoch: the signal (Ctrl-C, SIGTERM) that stops every
                       process now, or None
    full_state(s)      before a checkpoint: the whole model's state (gathered, or checked)
    local_state(s)     on --resume: this process's part of a checkpoint's state

``OneProcess`` is the default: every hook leaves things as they are, so a
run without ``--parallel`` computes exactly what it did before these hooks.
"""
import os

import numpy as np

from ..backend import cupy, gpu_available
from ..fast import chunks
from .comm import INSTALL, world

KINDS = ("none", "data", "model")


class OneProcess:
    """One process does all the work: nothing to share."""
    is_main = True  # the process that writes checkpoints, metrics and plots, and prints

    def model(self, model):
        return model

    def shard(self, n):
        return slice(None)

    def reduce(self, loss, errors):
        return loss, errors

    def agree(self, trainer):
        return trainer.signal_received

    def full_state(self, state):
        return state

    def local_state(self, state):
        return state

    def from_main(self, value):
        """Process 0's ``value`` (a run directory named after the time, say), on every process."""
        return value


class Parallel(OneProcess):
    """Several processes, each running the same Trainer in step with the others."""

    def __init__(self, comm):
        self.comm = comm
        self.is_main = comm.rank == 0

    def from_main(self, value):
        return self.comm.mpi.bcast(value, root=0)

    def agree(self, trainer):
        """The signal that any process received (Ctrl-C's SIGINT or SIGTERM; mpiexec
        passes both to every process, but each notices it at its own moment), on
        every process, or None: so all stop after the same batch and write one
        checkpoint together. A process that received none takes it on as its own."""
        received = self.comm.allgather(np.array([trainer.signal_received or 0]))
        agreed = int(received.max()) or None
        if agreed:
            trainer.signal_received = trainer.signal_received or agreed  # never undoes a signal that just came
            self.comm.stopped_together = True
        return agreed


def make_parallel(kind):
    """The hooks for ``--parallel kind`` ("none", "data" or "model"). A parallel
    kind fails at once, saying what to do, without mpi4py or outside mpiexec."""
    from .data import DataParallel  # imported here: both modules build on this one
    from .model import ModelParallel
    if kind not in KINDS:
        raise ValueError(f"parallel must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "none":
        return OneProcess()
    comm = world()
    launch = f"mpiexec -n 2 python -m minialex.train --parallel {kind} ..."
    if comm.size == 1:
        raise RuntimeError(f"--parallel {kind} needs several processes, and this is the only one: launch it with "
                           f"`{launch}` (mpiexec comes with `{INSTALL}`)")
    if kind == "model" and comm.size != 2:
        raise RuntimeError(f"--parallel model is the paper's split over two GPUs (section 3.2): launch exactly two "
                           f"processes, `{launch}`, not {comm.size}")
    _share_the_machine(comm)
    return DataParallel(comm) if kind == "data" else ModelParallel(comm)


def _share_the_machine(comm):
    """Processes on one machine share it: each drives its own GPU, and on the
    CPU each takes its share of the cores, for minialex's threads and BLAS's
    (unless MINIALEX_THREADS says otherwise), so they do not fight over them."""
    rank, size = comm.local()
    if gpu_available():
        cupy.cuda.Device(rank % cupy.cuda.runtime.getDeviceCount()).use()
    if not os.environ.get("MINIALEX_THREADS"):
        from threadpoolctl import threadpool_limits
        share = max(1, chunks.threads() // size)
        chunks.set_threads(share)
        threadpool_limits(share, user_api="blas")
