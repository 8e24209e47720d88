"""Checks for lesson 12, two GPUs: one process's share of a layer whose input is gathered from both halves.

The learner writes what ONE of the two processes does for fc6 or fc7 of the paper's split
(``minialex.distributed.split_alexnet``): it holds half of the layer's inputs and half of its
neurons, and must all-gather the inputs before it can compute its neurons. The check runs the
learner's function as process 0 and as process 1, each with a stand-in for the communicator
(``rank``, ``size`` and ``allgather(x, axis=0)``, the signature of
``minialex.distributed.Communicator.allgather``) that joins the two processes' inputs as the real
all-gather does, and compares the outputs with the whole layer, a ``minialex.layers.Linear``.
"""
import numpy as np

from minialex.layers import Linear

from . import ExerciseFailed


class OneOfTwo:
    """Process ``rank`` of two, as its code sees the communicator. ``parts``: both processes'
    inputs (N, n/2), in rank order; ``allgather`` hands back everyone's part joined along ``axis``,
    this process's own being the array it was given, and counts its calls."""

    def __init__(self, rank, parts):
        self.rank, self.size, self.parts, self.calls = rank, 2, parts, 0

    def allgather(self, x, axis=0):
        self.calls += 1
        mine = self.parts[self.rank]
        if np.shape(x) != mine.shape:
            raise ExerciseFailed(f"process {self.rank} passed comm.allgather an array of shape {np.shape(x)}: "
                                 f"each process hands over its own part of the inputs, x_mine {mine.shape}")
        if axis not in (1, -1):
            raise ExerciseFailed(f"comm.allgather(x, axis={axis}) joins the two processes' parts along axis {axis}: "
                                 "axis 0 would stack their IMAGES (2N rows). The halves are halves of the "
                                 "features: join them along axis 1")
        return np.concatenate([x if r == self.rank else self.parts[r] for r in range(self.size)], axis=1)


def _whole_layer(W, b):
    """The one-process layer with these weights: minialex's Linear, y = x W^T + b."""
    layer = Linear(W.shape[1], W.shape[0], dtype=W.dtype)
    layer.params = {"W": W.copy(), "b": b.copy()}
    return layer


def _call(my_fc_half, x_mine, W, b, comm, n):
    """The learner's function as process ``comm.rank``; an error raised before any all-gather
    is explained by the missing inputs."""
    try:
        return my_fc_half(x_mine.copy(), W.copy(), b.copy(), comm)
    except (NotImplementedError, ExerciseFailed):
        raise
    except Exception as err:
        if comm.calls == 0:
            raise ExerciseFailed(f"process {comm.rank} failed ({type(err).__name__}: {err}) without calling "
                                 f"comm.allgather: it holds only {n // 2} of the layer's {n} inputs, and every "
                                 "neuron of fc6 and fc7 reads all of them. Gather both halves first") from None
        raise


def check_fc_half(my_fc_half):
    """my_fc_half(x_mine, W, b, comm) -> (N, m/2): process comm.rank's neurons of a fully connected
    layer W (m, n), b (m,), from its half x_mine (N, n/2) of the layer's inputs (rank 0 holds the
    first half of the inputs and of the neurons), through one comm.allgather."""
    rng = np.random.default_rng(12)
    for batch, n, m in [(3, 8, 6), (1, 4, 2), (5, 12, 10)]:
        W, b = rng.standard_normal((m, n)), rng.standard_normal(m)
        x = rng.standard_normal((batch, n))
        parts = [x[:, :n // 2], x[:, n // 2:]]
        whole = _whole_layer(W, b).forward(x)  # (batch, m): what one process computes
        half = m // 2
        for r in (0, 1):
            comm = OneOfTwo(r, parts)
            got = _call(my_fc_half, parts[r], W, b, comm, n)
            if comm.calls == 0:
                raise ExerciseFailed(f"process {r} never called comm.allgather: it holds only {n // 2} of the "
                                     f"layer's {n} inputs, and every neuron of fc6 and fc7 reads all of them, so "
                                     "it needs the other process's half (what you computed is a sum over its own "
                                     "inputs only)")
            if comm.calls > 1:
                raise ExerciseFailed(f"process {r} called comm.allgather {comm.calls} times: one all-gather brings "
                                     f"every input, and each further one sends {n // 2} more values per image")
            shape = (batch, half)
            if getattr(got, "shape", None) == (batch, m):
                raise ExerciseFailed(f"process {r} returned all {m} of the layer's outputs: each process computes "
                                     f"only its own half of the neurons, rows {r * half}..{(r + 1) * half - 1} of W")
            if getattr(got, "shape", None) != shape:
                raise ExerciseFailed(f"x_mine {parts[r].shape}, W {W.shape}: process {r} should return shape "
                                     f"{shape}, got {getattr(got, 'shape', type(got).__name__)}")
            mine, other = whole[:, r * half:(r + 1) * half], whole[:, (1 - r) * half:(2 - r) * half]
            if np.allclose(got, mine, rtol=1e-10, atol=1e-12):
                continue
            if np.allclose(got, other, rtol=1e-10, atol=1e-12):
                raise ExerciseFailed(f"those are process {1 - r}'s neurons: process {r} holds rows "
                                     f"{r * half}..{(r + 1) * half - 1} of W (rank 0 the first half)")
            if np.allclose(got, mine - b[r * half:(r + 1) * half], rtol=1e-10, atol=1e-12):
                raise ExerciseFailed("the bias is missing: each process adds the biases of its own neurons")
            raise ExerciseFailed(f"x (N={batch}, n={n}), m={m}: process {r}'s outputs differ from columns "
                                 f"{r * half}..{(r + 1) * half - 1} of the whole layer's by up to "
                                 f"{np.abs(got - mine).max():.3g} (join the halves in rank order, process 0's first)")
