"""Data parallelism: every process holds the whole network and computes a share of each batch.

Not the paper's scheme (it split the model, see model.py), but the one that
later took over: with P processes, process r computes the forward and backward
pass of its n/P images of every batch of n, and one all-reduce per step sums
their gradients, each scaled by its share of the batch:

    g = sum_r (n_r / n) g_r        g_r: the mean gradient over process r's images

which is the mean gradient over the whole batch, the one a single process
computes. Every process then makes the same SGD update, so the weights stay
identical everywhere; ``full_state`` checks that at every checkpoint.

The random numbers do not depend on how the batch is shared. Every process
draws them for the whole batch, from the same generators, and uses its rows:
the Trainer augments the whole batch (crops, flips and lighting, drawn from
(seed, epoch)) and keeps this process's images; each Dropout draws the mask of
the whole batch and keeps this process's rows (``Layer.share_batch``). So a run on
P processes is the run on one with the same --batch-size, up to the order in
which the gradients' sums are added (round-off).
"""
import hashlib
import json

import numpy as np

from ..backend import get_array_module
from ..optim import parameter_state
from .parallel import Parallel


class DataParallel(Parallel):
    """The Trainer's hooks for data parallelism over ``comm`` (a Communicator)."""

    def model(self, model):
        """The whole ``model``, with process 0's weights on every process (they
        are the same already when built from the same seed; this makes sure)."""
        self._model = model
        for _, owner, key in model.parameter_slots():
            owner.params[key] = self.comm.broadcast(owner.params[key])
        for _, owner, key in model.buffer_slots():
            owner.buffers[key] = self.comm.broadcast(owner.buffers[key])
        self._buffer = None
        return model

    def shard(self, n):
        """Rows [n r / P, n (r+1) / P) of a batch of n images; every layer is told where
        they lie in the batch (``Layer.share_batch``). A last batch with fewer images than
        processes leaves some without one: they compute the batch's last image and count
        it 0 times, so that every process still takes part in the all-reduce."""
        r, p = self.comm.rank, self.comm.size
        start, stop = n * r // p, n * (r + 1) // p
        self.share = (stop - start) / n
        if start == stop:
            start, stop = n - 1, n
        self._model.share_batch(start, n)
        return slice(start, stop)

    def reduce(self, loss, errors):
        """After backward: every gradient, the loss and the error count in ONE buffer,
        summed over the processes by ONE all-reduce (one call per parameter, sixteen for
        AlexNet, would pay a call's fixed cost each time), then copied back into the gradients.
        ``loss``: the mean over this process's images; returns the batch's mean loss
        and its number of errors."""
        grads = [owner.grads[key] for _, owner, key in self._model.parameter_slots()]
        xp = get_array_module(grads[0])
        size = sum(g.size for g in grads)
        if self._buffer is None or self._buffer.size != size + 2 or get_array_module(self._buffer) is not xp:
            self._buffer = xp.empty(size + 2, dtype=grads[0].dtype)  # reused from step to step
        buffer, offset = self._buffer, 0
        for g in grads:
            xp.multiply(g.ravel(), self.share, out=buffer[offset:offset + g.size])  # g_r * n_r / n
            offset += g.size
        buffer[-2], buffer[-1] = loss * self.share, errors if self.share else 0
        self.comm.allreduce(buffer)
        offset = 0
        for g in grads:
            g[...] = buffer[offset:offset + g.size].reshape(g.shape)
            offset += g.size
        return float(buffer[-2]), int(round(float(buffer[-1])))

    def full_state(self, state):
        """The checkpoint's state, after checking that every process holds the same
        weights, optimiser state, dropout generators and learning rate: SHA-256 of them,
        all-gathered. A difference is a bug, and fails loudly on every process."""
        digest = np.frombuffer(fingerprint(state), np.uint8)
        digests = self.comm.allgather(digest).reshape(self.comm.size, -1)
        if not (digests == digests[0]).all():
            seen = ", ".join(f"process {r}: {bytes(d).hex()[:12]}" for r, d in enumerate(digests))
            raise RuntimeError(f"data parallelism broke: after epoch {state['epoch']}, batch "
                               f"{(state['position'] or {}).get('batch', 0)}, the processes' weights differ "
                               f"(SHA-256 of weights, optimiser state, dropout generators and learning rate: {seen}). "
                               "They must stay identical: this state was not saved")
        return state


def fingerprint(state):
    """SHA-256 (32 bytes) of what decides a Trainer state's next updates: its weights and buffers,
    the optimiser's state per parameter (momentum), dropout generators and learning rate."""
    digest = hashlib.sha256()
    model, optimizer = state["model"], state["optimizer"]
    for arrays in (model["params"], model.get("buffers", {}), *parameter_state(optimizer).values()):
        for name in sorted(arrays):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(arrays[name]))
    digest.update(json.dumps([model["rng"], optimizer["lr"]], sort_keys=True).encode())
    return digest.digest()
