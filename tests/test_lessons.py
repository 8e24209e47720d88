"""Every lesson's exercises: each reference solution passes its check, an unfilled
stub reads "not done yet", and a wrong answer is caught."""
import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
if str(LESSONS) not in sys.path:
    sys.path.insert(0, str(LESSONS))

from exercises import grade  # noqa: E402

NOTEBOOKS = {path.name[:2]: path.name for path in sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))}


def _stub(*args, **kwargs):
    raise NotImplementedError  # your code here


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _numpy_only_top_k_error(logits, labels, k=5):
    """Right on NumPy arrays, but calls np.argsort: it would fail on a GPU."""
    top = np.argsort(-logits, axis=1)[:, :k]
    return float((top != labels[:, None]).all(axis=1).mean())


# (lesson, check name, solution name, a wrong answer)
CASES = [
    ("01", "check_to_nchw", "my_to_nchw", lambda b: b.transpose(0, 3, 2, 1)),
    ("01", "check_mean_image", "my_mean_image", lambda im: im.mean(axis=(0, 2, 3)).astype(np.float32)),
    ("02", "check_conv_output_size", "my_conv_output_size", lambda s, k, st, p: (s - k) // st + 1),
    ("02", "check_im2col", "my_im2col",
     lambda x, kh, kw: np.zeros((x.shape[0], x.shape[1] * kh * kw, (x.shape[2] - kh + 1) * (x.shape[3] - kw + 1)))),
    ("02", "check_conv2d_im2col", "my_conv2d",
     lambda x, W, b: np.zeros((x.shape[0], W.shape[0], x.shape[2] - W.shape[2] + 1, x.shape[3] - W.shape[3] + 1))),
    ("03", "check_relu_backward", "my_relu_backward", lambda dout, x: dout * (x >= 0)),
    ("03", "check_tanh_backward", "my_tanh_backward", lambda dout, x: dout * (1 - x ** 2)),
    ("04", "check_maxpool_3x3_s2", "my_maxpool", lambda x: x[:, :, ::2, ::2]),
    ("04", "check_lrn_forward", "my_lrn",
     lambda a, n, alpha, beta, k: a / (k + alpha / n * (a ** 2).sum(axis=1, keepdims=True)) ** beta),
    ("05", "check_softmax", "my_softmax", lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)),
    ("05", "check_softmax_ce_backward", "my_softmax_ce_backward",
     lambda z, y: _softmax(z) - np.eye(z.shape[1])[y]),
    ("05", "check_linear_backward", "my_linear_backward", lambda dout, x, W: (dout @ W, x.T @ dout, dout.sum(0))),

    ("06", "check_dropout_forward", "my_dropout_forward", lambda x, p, u: x * (u >= p)),
    ("06", "check_dropout_backward", "my_dropout_backward", lambda dout, p, u: dout * (u >= p)),
    ("07", "check_sgd_step", "my_sgd_step",
     lambda w, v, g, lr, m=0.9, wd=5e-4: (w + m * v - wd * w - lr * g, m * v - wd * w - lr * g)),
    ("07", "check_lr_at", "my_lr_at", lambda epoch, base, milestones: base / 10 ** sum(epoch >= m for m in milestones)),
    ("08", "check_conv_params", "my_conv_params", lambda cin, cout, k, g: cin * cout * k * k + cout),
    ("08", "check_conv_flops", "my_conv_flops", lambda cin, cout, k, g, h, w: cout * h * w * (cin // g) * k * k),
    ("09", "check_nearest_neighbours", "my_nearest_neighbours", lambda q, r, k: np.argsort(-(q @ r.T), axis=1)[:, :k]),
    ("10", "check_top_k_error", "my_top_k_error", _numpy_only_top_k_error),
]
IDS = [f"{lesson}-{check}" for lesson, check, _, _ in CASES]


def _load(lesson, check, solution):
    checks = importlib.import_module(f"exercises.lesson{lesson}")
    solutions = importlib.import_module(f"solutions.lesson{lesson}")
    return getattr(checks, check), getattr(solutions, solution)


@pytest.mark.parametrize("lesson, check, solution, wrong", CASES, ids=IDS)
def test_solution_passes(lesson, check, solution, wrong):
    check_fn, solution_fn = _load(lesson, check, solution)
    assert grade(check_fn, solution_fn) == "passed"


@pytest.mark.parametrize("lesson, check, solution, wrong", CASES, ids=IDS)
def test_stub_is_not_done_yet(lesson, check, solution, wrong):
    check_fn, _ = _load(lesson, check, solution)
    assert grade(check_fn, _stub) == "not done yet"


@pytest.mark.parametrize("lesson, check, solution, wrong", CASES, ids=IDS)
def test_wrong_answer_fails(lesson, check, solution, wrong):
    check_fn, _ = _load(lesson, check, solution)
    with np.errstate(all="ignore"):
        verdict = grade(check_fn, wrong)
    assert verdict.startswith("failed")


def test_more_wrong_answers_are_caught():
    checks10 = importlib.import_module("exercises.lesson10")
    accuracy = lambda logits, labels, k=5: 1 - _numpy_only_top_k_error(logits, labels, k)
    assert "ACCURACY" in grade(checks10.check_top_k_error, accuracy)
    not_a_float = lambda logits, labels, k=5: np.float32(0.5)
    assert "float" in grade(checks10.check_top_k_error, not_a_float)
    checks06 = importlib.import_module("exercises.lesson06")
    assert "DROP" in grade(checks06.check_dropout_forward, lambda x, p, u: x * (u < p) / (1 - p))
    checks07 = importlib.import_module("exercises.lesson07")
    no_lr_in_decay = lambda w, v, g, lr, m=0.9, wd=5e-4: (w + m * v - wd * w - lr * g, m * v - wd * w - lr * g)
    assert "multiplied by the learning rate" in grade(checks07.check_sgd_step, no_lr_in_decay)


def test_the_stand_in_gpu_is_undone_after_use():
    """pretend_gpu patches minialex.backend.cupy and must restore it, even after an error."""
    import minialex.backend as backend
    checks10 = importlib.import_module("exercises.lesson10")
    before = backend.cupy
    with pytest.raises(ZeroDivisionError):
        with checks10.pretend_gpu():
            1 / 0
    assert backend.cupy is before
    assert backend.get_array_module(np.zeros(1)) is np


def test_every_check_is_covered():
    """Each check_* function of every lesson has a case above."""
    covered = {(lesson, check) for lesson, check, _, _ in CASES}
    for lesson in NOTEBOOKS:
        module = importlib.import_module(f"exercises.lesson{lesson}")
        for name in dir(module):
            if name.startswith("check_"):
                assert (lesson, name) in covered, f"lesson{lesson}.{name} has no test"


@pytest.mark.parametrize("lesson", sorted(NOTEBOOKS))
def test_notebook_has_unfilled_stubs_graded_and_saved_outputs(lesson):
    """The notebook shows each exercise as a NotImplementedError stub, grades it,
    and is stored executed ("not done yet" in its output), small enough for git."""
    path = LESSONS / NOTEBOOKS[lesson]
    assert path.stat().st_size < 1_000_000
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    outputs = "\n".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])
    for lesson_, check, solution, _ in CASES:
        if lesson_ == lesson:
            assert f"def {solution}(" in code
            assert f"grade({check}, {solution})" in code
            assert f"{check}: not done yet" in outputs
    assert "raise NotImplementedError  # your code here" in code
    assert all(c.get("execution_count") for c in cells if c["cell_type"] == "code"), "notebook not executed"
