"""Training on several processes (GPUs), the two ways there are.

* ``--parallel model``: the paper's scheme (section 3.2, Figure 2). AlexNet did
  not fit on one 3 GB GPU, so each of two GPUs held half of every layer and
  they exchanged activations only where Figure 2 draws lines between them
  (into conv3, fc6, fc7 and fc8). ``model.py``.
* ``--parallel data``: the scheme that later took over. Every process holds
  the whole network, computes its share of every batch, and one all-reduce
  per step averages the gradients. ``data.py``.

Both run the same ``Trainer`` through a few hooks (``parallel.py``), one
process per GPU (or per group of CPU cores), started by MPI:

    mpiexec -n 2 python -m minialex.train --parallel data ...
    mpiexec -n 2 python -m minialex.train --model alexnet --parallel model ...

``comm.py`` has the collectives: MPI for NumPy arrays, NCCL for CuPy arrays.
Without mpi4py (``pip install -e ".[mpi]"``) or outside mpiexec everything else
works as before, and asking for a parallel run says what to do.
"""
from .comm import Communicator, leave, world
from .data import DataParallel
from .model import AllGather, AllReduceSum, ModelParallel, split_alexnet
from .parallel import KINDS, OneProcess, Parallel, make_parallel

__all__ = ["Communicator", "world", "leave", "OneProcess", "Parallel", "DataParallel", "ModelParallel",
           "AllGather", "AllReduceSum", "split_alexnet", "make_parallel", "KINDS"]
