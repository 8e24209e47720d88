"""Training on several processes (minialex.distributed): the paper's model split and data
parallelism, each against a run on one process.

The parallel runs are real: ``mpiexec -n 2`` starts tests/distributed_worker.py or the command
line, on the CPU, one thread per process. They are skipped where mpi4py or mpiexec is missing
(``pip install -e ".[test]"`` installs both).
"""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minialex import checkpoint
from minialex.layers import Dropout

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "distributed_worker.py")
TIMEOUT = 120  # seconds: a parallel run that hangs fails instead
# One thread per process, on the CPU: the runs are compared with one-process runs on one thread.
ENV = {**os.environ, "MINIALEX_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MINIALEX_DEVICE": "cpu"}


def _mpiexec():
    """mpiexec beside this Python (where the mpich wheel puts it), else on the PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
MISSING = ("mpi4py is not installed" if importlib.util.find_spec("mpi4py") is None else
           "mpiexec is not installed" if MPIEXEC is None else None)
needs_mpi = pytest.mark.skipif(MISSING is not None, reason=f"{MISSING} (pip install -e \".[mpi]\")")


def run(*args, parallel=True, **kwargs):
    """``mpiexec -n 2 python ARGS`` (or plain ``python ARGS``), with a timeout; the CompletedProcess."""
    command = ([MPIEXEC, "-n", "2"] if parallel else []) + [sys.executable, *args]
    return subprocess.run(command, env=ENV, cwd=HERE, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)


def train(out, *options, parallel=True):
    """The command line: a Figure 1 net on 64 embedded images, two epochs of two batches, dropout 0.5."""
    return run("-m", "minialex.train", "--epochs", "2", "--subset", "64", "--batch-size", "32", "--dropout", "0.5",
               "--out", str(out), "--no-progress", *(("--parallel", "data") if parallel else ()), *options,
               parallel=parallel)


def weights(run_dir):
    return checkpoint.load(os.path.join(run_dir, "checkpoint.npz"))["model"]["params"]


def largest_relative_difference(a, b):
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k] - b[k]).max() / np.abs(b[k]).max()) for k in b)


def ok(process):
    assert process.returncode == 0, process.stdout + process.stderr
    return process


# -- the model split ----------------------------------------------------------------------------


@needs_mpi
def test_model_split_is_alexnet_in_float64(tmp_path):
    """Two processes, each with half of every layer, compute alexnet(): logits, loss, every gradient
    (gathered) and the weights after three SGD steps, dropout included, to round-off."""
    ok(run(WORKER, "split", str(tmp_path / "errors.json")))
    errors = json.loads((tmp_path / "errors.json").read_text())
    assert len(errors) == 3 * (2 + 16) + 16  # logits, loss and 16 gradients per step; 16 weights
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-12, (worst, errors[worst])


@needs_mpi
def test_model_split_trains_through_the_trainer_like_one_process(tmp_path):
    """--parallel model's hooks: an epoch of AlexNet split over two processes writes the whole network's
    checkpoint, which a one-process run resumes, and equals a one-process epoch (float32: 1e-5)."""
    from distributed_worker import alexnet_trainer
    from minialex.trainer import Trainer
    ok(run(WORKER, "model", str(tmp_path / "split")))
    assert all(json.loads((tmp_path / "split" / f"resumed-{r}.json").read_text()) for r in (0, 1)), \
        "--resume gives each process back its halves of the weights and momentum"
    one = alexnet_trainer(str(tmp_path / "one"))
    one.fit()
    resumed = Trainer.resume(str(tmp_path / "split"), data=(one.train_set, one.test_set), progress=False,
                             log=lambda s: None)
    mine = resumed.model.named_parameters()
    reference = one.model.named_parameters()
    assert largest_relative_difference(mine, reference) < 1e-5
    assert resumed.history[0]["train_loss"] == pytest.approx(one.history[0]["train_loss"], rel=1e-5)
    assert resumed.history[0]["val_loss"] == pytest.approx(one.history[0]["val_loss"], rel=1e-5)


# -- data parallelism ---------------------------------------------------------------------------


@needs_mpi
def test_data_parallelism_is_one_process_in_float64(tmp_path):
    """Through the Trainer, with dropout, crops and flips: the weights after two epochs, to round-off,
    also with a last batch of one image for two processes; one all-reduce per step."""
    from distributed_worker import float64_trainer
    ok(run(WORKER, "data64", str(tmp_path)))
    for batch_size, steps in ((16, 2 * 5), (71, 2 * 2)):
        parallel = dict(np.load(tmp_path / f"{batch_size}.npz"))
        assert int(parallel.pop("allreduces")) == steps
        one = float64_trainer(str(tmp_path / f"one{batch_size}"), batch_size)
        one.fit()
        reference = one.model.named_parameters()
        assert largest_relative_difference(parallel, reference) < 1e-12, batch_size


@needs_mpi
def test_data_parallel_command_line_is_one_process(tmp_path):
    """float32, four steps: within 1e-5 of one process (measured: 3.5e-7; the gradients' sums are added in
    another order, and a one-process run on two threads instead of one differs by 1.8e-7). Process 0 alone
    prints."""
    parallel = ok(train(tmp_path / "parallel"))
    ok(train(tmp_path / "one", parallel=False))
    assert largest_relative_difference(weights(tmp_path / "parallel"), weights(tmp_path / "one")) < 1e-5
    assert parallel.stdout.count("epoch   1/2") == 1 and parallel.stdout.count("done: 2 epochs") == 1
    lines = [json.loads(line) for line in (tmp_path / "parallel" / "metrics.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    for line, want in zip(lines, reference):
        assert line["train_loss"] == pytest.approx(want["train_loss"], rel=1e-5)
        assert line["train_error"] == want["train_error"]


@needs_mpi
def test_a_signal_to_one_process_stops_both_after_the_same_batch_and_resumes_exactly(tmp_path):
    """SIGTERM reaches process 1 alone in the middle of an epoch: both stop after that batch, with one
    checkpoint; --resume on two processes then ends with the weights of an uninterrupted run, bit for bit."""
    cut, straight = tmp_path / "cut", tmp_path / "cut-straight"
    stopped = run(WORKER, "signal", str(cut))
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stdout + stopped.stderr
    assert stopped.stdout.count("interrupted by SIGTERM") == 1
    saved = checkpoint.load(cut / "checkpoint.npz")
    assert saved["epoch"] == 0 and saved["position"]["batch"] == 5
    ok(run("-m", "minialex.train", "--parallel", "data", "--out", str(cut), "--resume", "--no-progress"))
    ok(run(WORKER, "signal", str(straight)))
    mine, reference = weights(cut), weights(straight)
    assert all(np.array_equal(mine[k], reference[k]) for k in reference)


@needs_mpi
def test_ctrl_c_to_mpiexec_saves_one_checkpoint(tmp_path):
    """mpiexec passes Ctrl-C to every process; they stop together and exit with 130."""
    command = [MPIEXEC, "-n", "2", sys.executable, "-m", "minialex.train", "--parallel", "data", "--epochs", "5",
               "--subset", "2000", "--batch-size", "16", "--out", str(tmp_path / "run"), "--no-progress"]
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "SGD lr" in process.stdout.readline() + process.stdout.readline()  # training starts
        time.sleep(1)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 130, out + err
    assert out.count("interrupted by Ctrl-C") == 1
    assert checkpoint.load(tmp_path / "run" / "checkpoint.npz")["epoch"] < 5


@needs_mpi
@pytest.mark.parametrize("mode, says", [
    ("raise", "process 1 failed on purpose"),
    ("kill", "BAD TERMINATION"),  # mpiexec's own message when a process is killed
    ("diverge", "the processes' weights differ"),
])
def test_a_failing_process_stops_every_process(tmp_path, mode, says):
    tick = time.perf_counter()
    failed = run(WORKER, mode, str(tmp_path / "run"))
    assert failed.returncode != 0 and says in failed.stdout + failed.stderr, failed.stdout + failed.stderr
    assert time.perf_counter() - tick < 60, "the other process stopped too, rather than wait for ever"


# -- without MPI ----------------------------------------------------------------------------------


def test_without_mpi4py_a_parallel_run_says_what_to_install(tmp_path):
    hide_mpi4py = ("import sys; sys.modules['mpi4py'] = None; from minialex.train import main; "
                   f"sys.exit(main(['--parallel', 'data', '--out', {str(tmp_path / 'run')!r}]))")
    failed = run("-c", hide_mpi4py, parallel=False)
    assert failed.returncode == 1 and 'pip install -e ".[mpi]"' in failed.stderr and "mpiexec -n 2" in failed.stderr
    assert not (tmp_path / "run").exists()


@needs_mpi
def test_one_process_asked_for_a_parallel_run_says_how_to_launch(tmp_path):
    failed = train(tmp_path / "run", "--parallel", "model", parallel=False)
    assert failed.returncode == 1 and "mpiexec -n 2 python -m minialex.train --parallel model" in failed.stderr


def test_dropout_draws_the_whole_mask_and_keeps_its_part():
    """What makes a process's dropout mask its part of a one-process run's (Dropout.part)."""
    x = np.ones((6, 8))
    whole = Dropout(0.5, rng=np.random.default_rng(0)).forward(x)
    for axis, start, shape in ((0, 2, (3, 8)), (1, 4, (6, 4))):
        part = Dropout(0.5, rng=np.random.default_rng(0))
        part.part = (axis, start, x.shape[axis])
        window = tuple(slice(start, start + shape[a]) if a == axis else slice(None) for a in range(2))
        assert np.array_equal(part.forward(np.ones(shape)), whole[window])
