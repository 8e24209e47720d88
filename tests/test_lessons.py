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


def _col2im_assigning(cols, x_shape, kh, kw, stride=1, padding=0):
    """col2im with = where overlapping windows need +=: the last window wins."""
    n, c, h, w = x_shape
    oh, ow = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    blocks = cols.reshape(n, c, kh, kw, oh, ow)
    dx = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] = blocks[:, :, i, j]
    return dx[:, :, padding:padding + h, padding:padding + w]


def _conv_backward_first_image_only(dout, x, W, stride=1, padding=0, groups=1):
    """Right for a batch of one; dW and db forget the other images."""
    solutions02 = importlib.import_module("solutions.lesson02")
    dx, _, _ = solutions02.my_conv2d_backward(dout, x, W, stride, padding, groups)
    _, dW, db = solutions02.my_conv2d_backward(dout[:1], x[:1], W, stride, padding, groups)
    return dx, dW, db


def _pool_windows(shape):
    oh, ow = (shape[2] - 3) // 2 + 1, (shape[3] - 3) // 2 + 1
    return oh, ow, [(slice(None), slice(None), slice(i, i + 2 * oh, 2), slice(j, j + 2 * ow, 2))
                    for i in range(3) for j in range(3)]


def _maxpool_backward_wrong(dout, x, assign):
    """assign=True: = where overlapping windows need +=, so an input that is the maximum of two
    windows keeps only the last one's gradient; assign=False: += as it should be, but a window
    whose maximum is tied sends its gradient to every tied input."""
    _, _, windows = _pool_windows(x.shape)
    out = np.max([x[w] for w in windows], axis=0)
    dx = np.zeros_like(x)
    for w in windows:
        if assign:
            dx[w] = np.where(x[w] == out, dout, dx[w])
        else:
            dx[w] += dout * (x[w] == out)
    return dx


def _maxpool_backward_assigning(dout, x):
    return _maxpool_backward_wrong(dout, x, assign=True)


def _maxpool_backward_to_every_tie(dout, x):
    return _maxpool_backward_wrong(dout, x, assign=False)


def _avgpool_backward_assigning(dout, x_shape):
    _, _, windows = _pool_windows(x_shape)
    dx = np.zeros(x_shape)
    for w in windows:
        dx[w] = dout / 9
    return dx


def _lrn_backward_direct_term_only(dout, a, size, alpha, beta, k):
    """Forgets that a_j is also in the denominators of its neighbours."""
    squares = np.pad(a ** 2, ((0, 0), (size // 2, size // 2), (0, 0), (0, 0)))
    sums = sum(squares[:, j:j + a.shape[1]] for j in range(size))
    return dout * (k + alpha * sums) ** -beta


def _figure1_summed_loss(params, x, y):
    """The capstone with the loss summed over the batch instead of averaged."""
    loss, grads = importlib.import_module("solutions.lesson08").my_figure1(params, x, y)
    return loss * len(y), grads


def _figure1_with_assigning_maxpool(params, x, y):
    """The capstone built on a max-pool backward that assigns (=) where windows overlap."""
    solutions08 = importlib.import_module("solutions.lesson08")
    right, solutions08.my_maxpool_backward = solutions08.my_maxpool_backward, _maxpool_backward_assigning
    try:
        return solutions08.my_figure1(params, x, y)
    finally:
        solutions08.my_maxpool_backward = right


# (lesson, check name, solution name, a wrong answer)
CASES = [
    ("01", "check_to_nchw", "my_to_nchw", lambda b: b.transpose(0, 3, 2, 1)),
    ("01", "check_mean_image", "my_mean_image", lambda im: im.mean(axis=(0, 2, 3)).astype(np.float32)),
    ("02", "check_conv_output_size", "my_conv_output_size", lambda s, k, st, p: (s - k) // st + 1),
    ("02", "check_im2col", "my_im2col",
     lambda x, kh, kw, stride=1, padding=0:
     np.zeros((x.shape[0], x.shape[1] * kh * kw, (x.shape[2] - kh + 1) * (x.shape[3] - kw + 1)))),
    ("02", "check_conv2d_im2col", "my_conv2d",
     lambda x, W, b: np.zeros((x.shape[0], W.shape[0], x.shape[2] - W.shape[2] + 1, x.shape[3] - W.shape[3] + 1))),
    ("02", "check_col2im", "my_col2im", _col2im_assigning),
    ("02", "check_conv2d_backward", "my_conv2d_backward", _conv_backward_first_image_only),
    ("03", "check_relu_backward", "my_relu_backward", lambda dout, x: dout * (x >= 0)),
    ("03", "check_tanh_backward", "my_tanh_backward", lambda dout, x: dout * (1 - x ** 2)),
    ("04", "check_maxpool_3x3_s2", "my_maxpool", lambda x: x[:, :, ::2, ::2]),
    ("04", "check_maxpool_backward", "my_maxpool_backward", _maxpool_backward_assigning),
    ("04", "check_avgpool", "my_avgpool", lambda x: x[:, :, 1:-1:2, 1:-1:2]),
    ("04", "check_avgpool_backward", "my_avgpool_backward", _avgpool_backward_assigning),
    ("04", "check_lrn_forward", "my_lrn",
     lambda a, n, alpha, beta, k: a / (k + alpha / n * (a ** 2).sum(axis=1, keepdims=True)) ** beta),
    ("04", "check_lrn_backward", "my_lrn_backward", _lrn_backward_direct_term_only),
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
    ("08", "check_figure1", "my_figure1", _figure1_summed_loss),
    ("09", "check_nearest_neighbours", "my_nearest_neighbours", lambda q, r, k: np.argsort(-(q @ r.T), axis=1)[:, :k]),
    ("10", "check_top_k_error", "my_top_k_error", _numpy_only_top_k_error),
    ("11", "check_ten_crop", "my_ten_crop", lambda images, crop: np.stack([images[:, :, :crop, :crop]] * 10)),
    ("12", "check_fc_half", "my_fc_half", lambda x, W, b, comm: comm.allgather(x, axis=1) @ W.T + b),
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


def _softmax_shifted_by_the_mean(z):
    """Right for logits close together; exp(1000) overflows for logits like [0, 2000]."""
    e = np.exp(z - z.mean(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _top_k_error_via_numpy(logits, labels, k=5):
    """Converts its input to NumPy first: fine on the CPU, refused by CuPy on the GPU."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    return _numpy_only_top_k_error(logits, labels, k)


def _float64_mean_image(images):
    return images.astype(np.float64).mean(axis=0)


def _conv2d_by_the_loops(x, W, b):
    from minialex.functional.naive import conv2d_naive
    return conv2d_naive(x, W, b)


def _conv2d_a_product_per_pixel(x, W, b):
    n, _, h, w = x.shape
    f, _, kh, kw = W.shape
    out = np.empty((n, f, h - kh + 1, w - kw + 1))
    for y in range(h - kh + 1):
        for z in range(w - kw + 1):
            out[:, :, y, z] = x[:, :, y:y + kh, z:z + kw].reshape(n, -1) @ W.reshape(f, -1).T + b
    return out


def _conv_backward_by_the_loops(dout, x, W, stride=1, padding=0, groups=1):
    from minialex.functional.naive import conv2d_backward_naive
    return conv2d_backward_naive(dout, x, W, stride, padding, groups)


def _lrn_backward_alpha_over_size(dout, a, size, alpha, beta, k):
    return importlib.import_module("solutions.lesson04").my_lrn_backward(dout, a, size, alpha / size, beta, k)


# the wrong answers of issue #17, each passed its check before; (lesson, check, wrong answer, words of the verdict)
CAUGHT = [
    ("05", "check_softmax", _softmax_shifted_by_the_mean, "MAXIMUM"),
    ("10", "check_top_k_error", _top_k_error_via_numpy, "implicit conversion"),
    ("01", "check_mean_image", _float64_mean_image, "float32"),
    ("02", "check_conv2d_im2col", _conv2d_by_the_loops, "calls conv2d_naive"),
    ("02", "check_conv2d_im2col", _conv2d_a_product_per_pixel, "loop over pixels"),
    ("02", "check_col2im", _col2im_assigning, "+=, not ="),
    ("02", "check_conv2d_backward", _conv_backward_by_the_loops, "calls conv2d_backward_naive"),
    ("02", "check_conv2d_backward", _conv_backward_first_image_only, "every image"),
    ("04", "check_maxpool_backward", _maxpool_backward_assigning, "+=, not ="),
    ("04", "check_maxpool_backward", _maxpool_backward_to_every_tie, "ONE of the tied"),
    ("04", "check_avgpool_backward", _avgpool_backward_assigning, "+=, not ="),
    ("04", "check_lrn_backward", _lrn_backward_direct_term_only, "only the direct term"),
    ("04", "check_lrn_backward", _lrn_backward_alpha_over_size, "divides alpha by size"),
    ("08", "check_figure1", _figure1_summed_loss, "that loss is the mean"),
    ("08", "check_figure1", _figure1_with_assigning_maxpool, "grads['conv1.W'] disagrees with finite differences"),
]


@pytest.mark.parametrize("lesson, check, wrong, words", CAUGHT, ids=[f"{c[0]}-{c[2].__name__}" for c in CAUGHT])
def test_named_wrong_answers_are_caught(lesson, check, wrong, words):
    check_fn = getattr(importlib.import_module(f"exercises.lesson{lesson}"), check)
    with np.errstate(all="ignore"):
        verdict = grade(check_fn, wrong)
    assert verdict.startswith("failed") and words in verdict, verdict


def test_the_pretend_gpu_refuses_implicit_conversion_and_restores_numpy():
    checks10 = importlib.import_module("exercises.lesson10")
    originals = {name: getattr(np, name) for name in checks10._CONVERSIONS}
    with checks10.pretend_gpu() as xp:
        d = checks10.to_device(np.arange(3.0))
        for name in originals:
            with pytest.raises(TypeError, match="implicit conversion"):
                getattr(np, name)(d)
        assert np.asarray([1, 2]).tolist() == [1, 2]           # host data still converts
        assert checks10.to_host(xp.asarray(d) * 2).tolist() == [0.0, 2.0, 4.0]
    assert all(getattr(np, name) is f for name, f in originals.items())


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
