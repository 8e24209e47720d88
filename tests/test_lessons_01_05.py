"""The exercises of lessons 01-05: every reference solution passes its check, an
unfilled stub reads "not done yet", and an obviously wrong answer is caught."""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
if str(LESSONS) not in sys.path:
    sys.path.insert(0, str(LESSONS))

from exercises import grade  # noqa: E402


def _stub(*args, **kwargs):
    raise NotImplementedError  # your code here


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# (lesson, check name, solution name, an obviously wrong answer)
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


def test_every_check_is_covered():
    """Each check_* function in lessons 01-05 has a case above."""
    covered = {(lesson, check) for lesson, check, _, _ in CASES}
    for lesson in ("01", "02", "03", "04", "05"):
        module = importlib.import_module(f"exercises.lesson{lesson}")
        for name in dir(module):
            if name.startswith("check_"):
                assert (lesson, name) in covered, f"lesson{lesson}.{name} has no test"
