"""The batch-chunk machinery every CPU fast path shares (minialex/fast/chunks.py)."""
import multiprocessing
import os
import sys
import threading

import numpy as np
import pytest

from minialex import models
from minialex.fast import chunks


@pytest.fixture
def two_threads():
    old = chunks.set_threads(2)
    yield
    chunks.set_threads(old)


@pytest.mark.parametrize("n, per_sample, budget", [(128, 1000, 4000), (7, 10, 10), (1, 10, 1), (5, 1, 1 << 20)])
def test_batch_chunks_cover_the_batch_once_evenly(two_threads, n, per_sample, budget):
    slices = chunks.batch_chunks(np, n, per_sample, budget)
    covered = np.concatenate([np.arange(n)[s] for s in slices])
    np.testing.assert_array_equal(covered, np.arange(n))
    sizes = [s.stop - s.start for s in slices]
    assert max(sizes) * per_sample <= max(budget, per_sample)  # within budget, or one sample
    if n >= 2:
        assert len(slices) >= 2  # both threads get work


def test_for_each_chunk_runs_on_worker_threads_and_keeps_order(two_threads):
    names = []

    def work(s):
        names.append(threading.current_thread().name)
        return s.start

    slices = [slice(i, i + 1) for i in range(6)]
    assert chunks.for_each_chunk(work, slices) == list(range(6))
    assert all(name.startswith("minialex-chunk") for name in names)


def test_for_each_chunk_nested_runs_inline(two_threads):
    """A layer's chunk that itself calls for_each_chunk must not wait on the
    pool its own thread belongs to (that would deadlock with every worker busy)."""
    inner = lambda s: s.start
    outer = lambda s: sum(chunks.for_each_chunk(inner, [slice(i, i + 1) for i in range(4)]))
    assert chunks.for_each_chunk(outer, [slice(0, 1), slice(1, 2), slice(2, 3)]) == [6, 6, 6]


def test_for_each_chunk_passes_errors_on(two_threads):
    def work(s):
        if s.start == 3:
            raise ValueError("chunk 3 failed")
    with pytest.raises(ValueError, match="chunk 3 failed"):
        chunks.for_each_chunk(work, [slice(i, i + 1) for i in range(5)])


@pytest.mark.parametrize("value, expected", [("3", 3), (" 1 ", 1)])
def test_threads_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("MINIALEX_THREADS", value)
    assert chunks._default_threads() == expected


def test_threads_default_to_the_usable_cores(monkeypatch):
    monkeypatch.delenv("MINIALEX_THREADS", raising=False)
    if hasattr(os, "sched_getaffinity"):
        assert chunks._default_threads() == len(os.sched_getaffinity(0))
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # as on macOS and Windows
    assert chunks._default_threads() == os.cpu_count()


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_bad_thread_count_in_the_environment_says_what_to_do(monkeypatch, value):
    monkeypatch.setenv("MINIALEX_THREADS", value)
    with pytest.raises(ValueError, match="MINIALEX_THREADS must be a whole number"):
        chunks._default_threads()


def test_set_threads_rejects_nonsense():
    with pytest.raises(ValueError, match="at least 1"):
        chunks.set_threads(0)


def _step(net, x):
    """Logits and every gradient of one forward/backward pass."""
    out = net.forward(x)
    net.backward(np.ones_like(out) / out.size)
    return out, [layer.grads[k].copy() for layer in net.layers for k in sorted(layer.grads)]


@pytest.mark.parametrize("build", [lambda: models.figure1_net(lrn=True, seed=1),
                                   lambda: models.figure1_net(overlap=False, seed=2)])
def test_threads_change_nothing_but_speed(build, monkeypatch):
    """The same network on 1 and on 2 threads, in many small chunks: the same
    numbers, up to rounding (the chunks differ: their count is rounded up to a
    multiple of the threads, and BLAS may round a product of another size
    differently)."""
    from minialex.fast import conv
    monkeypatch.setattr(conv, "COLUMN_BYTES", 1 << 16)
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 1 << 14)
    x = np.random.default_rng(0).standard_normal((6, 3, 32, 32), dtype=np.float32)
    results = {}
    for n in (1, 2):
        old = chunks.set_threads(n)
        try:
            results[n] = _step(build(), x)
        finally:
            chunks.set_threads(old)
    np.testing.assert_allclose(results[1][0], results[2][0], rtol=1e-5, atol=1e-9)
    for g1, g2 in zip(results[1][1], results[2][1]):
        np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-7)


def _child_forward(queue):
    net = models.figure1_net()
    queue.put(net.forward(np.ones((4, 3, 32, 32), dtype=np.float32)).shape)


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the Linux default")
def test_forked_child_gets_a_fresh_pool(two_threads):
    """A process forked after the pool started inherits no worker threads; the
    child must start its own pool rather than wait forever on the dead one."""
    models.figure1_net().forward(np.ones((4, 3, 32, 32), dtype=np.float32))  # the parent's pool is running
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_forward, args=(queue,), daemon=True)  # a hung child must not hang pytest
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0, "the forked child hung or failed"
    assert queue.get(timeout=5) == (4, 10)
