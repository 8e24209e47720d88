"""Lesson 12 (two GPUs): its exercise's reference solution passes, an unfilled stub reads "not done
yet", wrong answers are caught with a message that says what is wrong, the solution computes the same
on two real processes as the grader's stand-in says, and the notebook is stored executed."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
if str(LESSONS) not in sys.path:
    sys.path.insert(0, str(LESSONS))

from minialex.course import grade  # noqa: E402
from minialex.course.lesson12 import check_fc_half  # noqa: E402
from solutions.lesson12 import my_fc_half  # noqa: E402

NOTEBOOK = LESSONS / "12_two_gpus.ipynb"


def _stub(x_mine, W, b, comm):
    raise NotImplementedError  # your code here


def _rows(W, comm):
    half = W.shape[0] // 2
    return slice(comm.rank * half, (comm.rank + 1) * half)


def _all_outputs(x_mine, W, b, comm):
    return comm.allgather(x_mine, axis=1) @ W.T + b


def _no_gather_own_columns(x_mine, W, b, comm):
    """A partial sum over this process's inputs: fc8's split, not fc6's."""
    n = x_mine.shape[1]
    return x_mine @ W[_rows(W, comm), comm.rank * n:(comm.rank + 1) * n].T + b[_rows(W, comm)]


def _no_gather_whole_W(x_mine, W, b, comm):
    return x_mine @ W[_rows(W, comm)].T + b[_rows(W, comm)]


def _gathered_along_the_batch(x_mine, W, b, comm):
    return comm.allgather(x_mine) @ W[_rows(W, comm)].T + b[_rows(W, comm)]


def _the_other_processes_rows(x_mine, W, b, comm):
    half = W.shape[0] // 2
    rows = slice((1 - comm.rank) * half, (2 - comm.rank) * half)
    return comm.allgather(x_mine, axis=1) @ W[rows].T + b[rows]


def _without_bias(x_mine, W, b, comm):
    return comm.allgather(x_mine, axis=1) @ W[_rows(W, comm)].T


def _gathering_twice(x_mine, W, b, comm):
    x = comm.allgather(x_mine, axis=1)
    comm.allgather(x_mine, axis=1)
    return x @ W[_rows(W, comm)].T + b[_rows(W, comm)]


def _halves_in_reverse_order(x_mine, W, b, comm):
    n = x_mine.shape[1]
    x = comm.allgather(x_mine, axis=1)
    x = np.concatenate([x[:, n:], x[:, :n]], axis=1)
    return x @ W[_rows(W, comm)].T + b[_rows(W, comm)]


def test_solution_passes():
    assert grade(check_fc_half, my_fc_half) == "passed"


def test_stub_is_not_done_yet():
    assert grade(check_fc_half, _stub) == "not done yet"


# (a wrong answer, words of its verdict)
WRONG = [
    (_all_outputs, "returned all 6 of the layer's outputs"),
    (_no_gather_own_columns, "never called comm.allgather"),
    (_no_gather_whole_W, "without calling comm.allgather"),
    (_gathered_along_the_batch, "join them along axis 1"),
    (_the_other_processes_rows, "those are process 1's neurons"),
    (_without_bias, "the bias is missing"),
    (_gathering_twice, "called comm.allgather 2 times"),
    (_halves_in_reverse_order, "rank order"),
]


@pytest.mark.parametrize("wrong, words", WRONG, ids=[wrong.__name__ for wrong, _ in WRONG])
def test_wrong_answers_are_caught(wrong, words):
    verdict = grade(check_fc_half, wrong)
    assert verdict.startswith("failed") and words in verdict, verdict


# -- the solution on two real processes --------------------------------------------------------------

MPIEXEC = (os.path.join(os.path.dirname(sys.executable), "mpiexec")
           if os.path.exists(os.path.join(os.path.dirname(sys.executable), "mpiexec")) else shutil.which("mpiexec"))
MISSING = ("mpi4py is not installed" if importlib.util.find_spec("mpi4py") is None else
           "mpiexec is not installed" if MPIEXEC is None else None)

# Each process computes its half of a layer with the solution and the real Communicator; process 0
# checks both halves against the whole layer (a Linear) computed alone.
TWO_PROCESSES = """
import sys
import numpy as np
from minialex.distributed import world
from minialex.layers import Linear
from solutions.lesson12 import my_fc_half

comm = world()
rng = np.random.default_rng(0)
layer = Linear(10, 6, dtype=np.float64, rng=rng)
layer.params["b"] = rng.standard_normal(6)
x = rng.standard_normal((3, 10))
mine = my_fc_half(np.ascontiguousarray(x[:, 5 * comm.rank:5 * (comm.rank + 1)]), layer.params["W"],
                  layer.params["b"], comm)
both = comm.allgather(np.ascontiguousarray(mine), axis=1)
if comm.rank == 0:
    print("largest difference", float(np.abs(both - layer.forward(x)).max()), "allgathers", comm.calls["allgather"])
"""


@pytest.mark.skipif(MISSING is not None, reason=f"{MISSING} (pip install -e \".[mpi]\")")
def test_the_solution_is_the_layer_on_two_real_processes(tmp_path):
    script = tmp_path / "two.py"
    script.write_text(TWO_PROCESSES)
    env = {**os.environ, "MINIALEX_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MINIALEX_DEVICE": "cpu",
           "PYTHONPATH": os.pathsep.join([str(LESSONS), str(LESSONS.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    words = done.stdout.split()
    assert float(words[words.index("difference") + 1]) < 1e-12, done.stdout
    assert int(words[words.index("allgathers") + 1]) == 2, done.stdout  # the solution's one, and the check's


# -- the notebook ---------------------------------------------------------------------------------------


def test_notebook_grades_the_unfilled_stub_and_is_stored_executed():
    assert NOTEBOOK.stat().st_size < 1_000_000
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    outputs = "\n".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])
    assert "def my_fc_half(" in code and "grade(check_fc_half, my_fc_half)" in code
    assert "raise NotImplementedError  # your code here" in code
    assert "check_fc_half: not done yet" in outputs
    assert all(c.get("execution_count") for c in cells if c["cell_type"] == "code"), "notebook not executed"
    assert "two processes, logits" in outputs, "the stored notebook ran the model split on two processes"
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "<details><summary>Answer</summary>" in markdown, "the closing question has its answer, collapsed"
