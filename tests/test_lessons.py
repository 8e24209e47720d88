"""The course (minialex.course): every reference solution passes its check, every stub of the
learner's template reads "not done yet", and each named wrong answer below is rejected with words
that say what is wrong; the template is the solutions' interface; setup() works in any folder;
the notebooks of lessons 1-8 grade the learner's own package and are stored executed."""
import importlib
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import minialex.course as course
import minialex.functional as F
from minialex.course import grade
from minialex.functional.naive import conv2d_backward_naive, conv2d_naive
from minialex.layers import Linear, MaxPool2d, ReLU, Sequential, SoftmaxCrossEntropy

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
SOLUTIONS = LESSONS / "solutions"
for path in (SOLUTIONS, LESSONS):  # mynet (the reference package); solutions.lesson09 ... (notebook-local ones)
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import mynet  # noqa: E402  (the reference solutions)

assert Path(mynet.__file__).parent == SOLUTIONS / "mynet", mynet.__file__


def _load_template():
    """The learner's template (stubs) as a package of its own name, beside the solutions."""
    spec = importlib.util.spec_from_file_location("mynet_template", course.TEMPLATE / "__init__.py",
                                                  submodule_search_locations=[str(course.TEMPLATE)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["mynet_template"] = module
    spec.loader.exec_module(module)
    return module


TEMPLATE = _load_template()

# (lesson, check, the answer: "module.function" of mynet, "mynet.network" (the module itself) or "solutions.lessonNN.fn")
EXERCISES = [
    ("01", "check_to_nchw", "data.to_nchw"), ("01", "check_mean_image", "data.mean_image"),
    ("02", "check_conv_output_size", "conv.conv_output_size"), ("02", "check_im2col", "conv.im2col"),
    ("02", "check_conv2d", "conv.conv2d"), ("02", "check_col2im", "conv.col2im"),
    ("02", "check_conv2d_backward", "conv.conv2d_backward"),
    ("03", "check_relu", "activations.relu"), ("03", "check_relu_backward", "activations.relu_backward"),
    ("03", "check_tanh", "activations.tanh"), ("03", "check_tanh_backward", "activations.tanh_backward"),
    ("04", "check_maxpool", "pooling.max_pool"), ("04", "check_maxpool_backward", "pooling.max_pool_backward"),
    ("04", "check_avgpool", "pooling.avg_pool"), ("04", "check_avgpool_backward", "pooling.avg_pool_backward"),
    ("04", "check_lrn_forward", "lrn.lrn"), ("04", "check_lrn_backward", "lrn.lrn_backward"),
    ("05", "check_softmax", "loss.softmax"), ("05", "check_softmax_cross_entropy", "loss.softmax_cross_entropy"),
    ("05", "check_linear", "linear.linear"), ("05", "check_linear_backward", "linear.linear_backward"),
    ("06", "check_dropout_forward", "dropout.dropout"), ("06", "check_dropout_backward", "dropout.dropout_backward"),
    ("07", "check_sgd_step", "optim.sgd_step"), ("07", "check_lr_at", "optim.lr_at"),
    ("08", "check_conv_params", "counting.conv_params"), ("08", "check_conv_flops", "counting.conv_flops"),
    ("08", "check_figure1_layers", "network.figure1"), ("08", "check_alexnet_layers", "network.alexnet"),
    ("08", "check_network", "network.loss_and_grads"), ("08", "check_figure1", "network"),
    ("08", "check_alexnet", "network"),
    ("08", "check_train_epoch", "train.train_epoch"), ("08", "check_error_rate", "train.error_rate"),
    ("09", "check_nearest_neighbours", "solutions.lesson09.my_nearest_neighbours"),
    ("10", "check_top_k_error", "solutions.lesson10.my_top_k_error"),
    ("11", "check_ten_crop", "solutions.lesson11.my_ten_crop"),
    ("12", "check_fc_half", "solutions.lesson12.my_fc_half"),
]
SLOW_CHECKS = {"check_alexnet"}  # float64 AlexNet, twice: a minute beside a training run


def _check(lesson, check):
    return getattr(importlib.import_module(f"minialex.course.lesson{lesson}"), check)


def _answer(package, where):
    if where.startswith("solutions."):
        module, name = where.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)
    answer = package
    for part in where.split("."):
        answer = getattr(answer, part)
    return answer


def _marked(cases):
    return [pytest.param(*case, marks=pytest.mark.slow) if case[1] in SLOW_CHECKS else case for case in cases]


@pytest.mark.parametrize("lesson, check, where", _marked(EXERCISES), ids=[f"{c[0]}-{c[1]}" for c in EXERCISES])
def test_solution_passes(lesson, check, where):
    assert grade(_check(lesson, check), _answer(mynet, where)) == "passed"


TEMPLATE_EXERCISES = [case for case in EXERCISES if not case[2].startswith("solutions.")]


@pytest.mark.parametrize("lesson, check, where", TEMPLATE_EXERCISES, ids=[f"{c[0]}-{c[1]}" for c in TEMPLATE_EXERCISES])
def test_template_stub_is_not_done_yet(lesson, check, where):
    assert grade(_check(lesson, check), _answer(TEMPLATE, where)) == "not done yet"


def test_every_check_is_covered():
    """Each check_* function of every lesson has an exercise above, and each exercise a named wrong answer."""
    listed = {(lesson, check) for lesson, check, _ in EXERCISES}
    for path in sorted(Path(course.__file__).parent.glob("lesson[0-9][0-9].py")):
        lesson = path.stem[-2:]
        module = importlib.import_module(f"minialex.course.{path.stem}")
        for name in dir(module):
            if name.startswith("check_"):
                assert (lesson, name) in listed, f"lesson{lesson}.{name} has no test"
    rejected = {(lesson, check) for lesson, check, *_ in WRONG}
    assert listed - rejected == set(), f"no wrong answer tried: {sorted(listed - rejected)}"


def test_template_is_the_solutions_interface():
    """Every public function of the reference package is in the template with the same signature, as a stub
    whose error names its exercise; the template holds nothing else."""
    modules = sorted(p.stem for p in (SOLUTIONS / "mynet").glob("*.py") if p.stem != "__init__")
    assert modules == sorted(p.stem for p in course.TEMPLATE.glob("*.py") if p.stem != "__init__")
    for name in modules:
        solution, template = getattr(mynet, name), getattr(TEMPLATE, name)
        public = lambda m: {n: f for n, f in inspect.getmembers(m, inspect.isfunction)
                            if not n.startswith("_") and f.__module__ == m.__name__}
        assert public(solution).keys() == public(template).keys(), name
        for fname, fn in public(template).items():
            assert inspect.signature(fn) == inspect.signature(public(solution)[fname]), f"{name}.{fname}"
            exercise = inspect.getdoc(public(solution)[fname]).split(".")[0:2]
            source = inspect.getsource(fn)
            assert f'raise NotImplementedError("{".".join(exercise)}: {fname} in mynet/{name}.py")' in source


# ---- named wrong answers: (lesson, check, wrong answer, words the verdict must hold) ----

S = mynet  # the reference package, to build wrong answers from


def _conv2d_square_kernels(x, W, b, stride=1, padding=0, groups=1):
    """Right, except that it takes the kernel's width from its height."""
    k = W.shape[2]
    return S.conv.conv2d(x, W[:, :, :, :k] if W.shape[3] >= k else np.pad(W, ((0, 0),) * 3 + ((0, k - W.shape[3]),)),
                         b, stride, padding, groups)


def _conv2d_without_groups(x, W, b, stride=1, padding=0, groups=1):
    return S.conv.conv2d(x, np.tile(W, (1, groups, 1, 1)), b, stride, padding, 1)


def _conv2d_library(x, W, b, stride=1, padding=0, groups=1):
    return F.conv2d_forward(x, W, b, stride, padding, groups)[0]


def _conv2d_by_the_loops(x, W, b, stride=1, padding=0, groups=1):
    return conv2d_naive(x, W, b, stride, padding, groups)


def _conv2d_a_product_per_pixel(x, W, b, stride=1, padding=0, groups=1):
    """Right, but a matrix product per output pixel (and group)."""
    n, c, h, w = x.shape
    f, cg, kh, kw = W.shape
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    out = np.empty((n, f, oh, ow), dtype=x.dtype)
    fg = f // groups
    for g in range(groups):
        Wg = W[g * fg:(g + 1) * fg].reshape(fg, -1)
        for y in range(oh):
            for z in range(ow):
                window = x[:, g * cg:(g + 1) * cg, y * stride:y * stride + kh, z * stride:z * stride + kw]
                out[:, g * fg:(g + 1) * fg, y, z] = window.reshape(n, -1) @ Wg.T + b[g * fg:(g + 1) * fg]
    return out


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
    dx, _, _ = S.conv.conv2d_backward(dout, x, W, stride, padding, groups)
    _, dW, db = S.conv.conv2d_backward(dout[:1], x[:1], W, stride, padding, groups)
    return dx, dW, db


def _conv_backward_square_kernels(dout, x, W, stride=1, padding=0, groups=1):
    """Reshapes dW with the kernel's height twice: a 4x3 kernel breaks it."""
    dx, dW, db = S.conv.conv2d_backward(dout, x, W, stride, padding, groups)
    k = W.shape[2]
    return dx, dW.reshape(W.shape[0], W.shape[1], k, k), db


def _conv_backward_by_the_loops(dout, x, W, stride=1, padding=0, groups=1):
    return conv2d_backward_naive(dout, x, W, stride, padding, groups)


def _conv_backward_library(dout, x, W, stride=1, padding=0, groups=1):
    _, cache = F.conv2d_forward(x, W, np.zeros(W.shape[0], x.dtype), stride, padding, groups)
    return F.conv2d_backward(dout, cache)


def _maxpool_zero_padded(x, size=3, stride=2, ceil_mode=False):
    """Pads the ceil-mode overhang with zeros, which the maximum can pick."""
    out = S.pooling.max_pool(x, size, stride, ceil_mode)
    padded = np.pad(x, ((0, 0), (0, 0), (0, size), (0, size)))
    return S.pooling.max_pool(padded, size, stride, False)[:, :, :out.shape[2], :out.shape[3]]


def _maxpool_library(x, size=3, stride=2, ceil_mode=False):
    return MaxPool2d(size, stride, ceil_mode=ceil_mode).forward(x)


def _maxpool_backward_wrong(dout, x, size, stride, ceil_mode, assign):
    """assign=True: = where overlapping windows need +=; assign=False: += as it should be, but a window whose
    maximum is tied sends its gradient to every tied input."""
    out = S.pooling.max_pool(x, size, stride, ceil_mode)
    oh, ow = out.shape[2:]
    xp = np.full(x.shape[:2] + (max(x.shape[2], (oh - 1) * stride + size), max(x.shape[3], (ow - 1) * stride + size)),
                 -np.inf)
    xp[:, :, :x.shape[2], :x.shape[3]] = x
    dx = np.zeros_like(xp)
    for i in range(size):
        for j in range(size):
            w = (slice(None), slice(None), slice(i, i + stride * oh, stride), slice(j, j + stride * ow, stride))
            if assign:
                dx[w] = np.where(xp[w] == out, dout, dx[w])
            else:
                dx[w] += dout * (xp[w] == out)
    return dx[:, :, :x.shape[2], :x.shape[3]]


def _maxpool_backward_assigning(dout, x, size=3, stride=2, ceil_mode=False):
    return _maxpool_backward_wrong(dout, x, size, stride, ceil_mode, assign=True)


def _maxpool_backward_to_every_tie(dout, x, size=3, stride=2, ceil_mode=False):
    return _maxpool_backward_wrong(dout, x, size, stride, ceil_mode, assign=False)


def _maxpool_backward_library(dout, x, size=3, stride=2, ceil_mode=False):
    _, cache = F.maxpool2d_forward(x, size, stride, 0, ceil_mode)
    return F.maxpool2d_backward(dout, cache)


def _avgpool_full_divisor(x, size=3, stride=2, ceil_mode=False):
    """Divides every window's sum by size * size, also a window that overhangs the edge in ceil mode."""
    return S.pooling.avg_pool(x, size, stride, ceil_mode) * _counts(x.shape, size, stride, ceil_mode) / (size * size)


def _counts(shape, size, stride, ceil_mode):
    return S.pooling._counts(shape, size, stride, ceil_mode, np.float64)


def _avgpool_backward_assigning(dout, x_shape, size=3, stride=2, ceil_mode=False):
    share = dout / _counts(x_shape, size, stride, ceil_mode)
    oh, ow = dout.shape[2:]
    dx = np.zeros(tuple(x_shape[:2]) + (max(x_shape[2], (oh - 1) * stride + size), max(x_shape[3], (ow - 1) * stride + size)))
    for i in range(size):
        for j in range(size):
            dx[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] = share
    return dx[:, :, :x_shape[2], :x_shape[3]]


def _lrn_backward_direct_term_only(dout, a, size, alpha, beta, k):
    """Forgets that a_j is also in the denominators of its neighbours."""
    squares = np.pad(a ** 2, ((0, 0), (size // 2, size // 2), (0, 0), (0, 0)))
    sums = sum(squares[:, j:j + a.shape[1]] for j in range(size))
    return dout * (k + alpha * sums) ** -beta


def _lrn_backward_library(dout, a, size, alpha, beta, k):
    _, cache = F.lrn_forward(a, size, alpha, beta, k)
    return F.lrn_backward(dout, cache)


def _softmax_unshifted(z):
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def _softmax_shifted_by_the_mean(z):
    """Right for logits close together; [0, 2000, -1500] still overflows."""
    e = np.exp(z - z.mean(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _cross_entropy_log_of_softmax(logits, labels):
    """A stable softmax, then log(p): p rounds to 0 for logits [0, 1000, 3] and label 0, and log(0) = -inf."""
    n = len(labels)
    p = S.loss.softmax(logits)
    grad = p.copy()
    grad[np.arange(n), labels] -= 1
    return float(-np.log(p[np.arange(n), labels]).mean()), grad / n


def _cross_entropy_summed(logits, labels):
    loss, grad = S.loss.softmax_cross_entropy(logits, labels)
    return loss * len(labels), grad * len(labels)


def _cross_entropy_library(logits, labels):
    criterion = SoftmaxCrossEntropy()
    return float(criterion.forward(logits, labels)), criterion.backward()


def _dropout_forward_library(x, p, u):
    return F.dropout_forward(x, ((u >= p) / (1 - p)).astype(x.dtype))[0]


def _sgd_without_lr_in_decay(w, v, g, lr, momentum, weight_decay):
    v = momentum * v - weight_decay * w - lr * g
    return w + v, v


def _alexnet_lrn_across_the_middle():
    return [(n, k, dict(o, groups=1) if k == "lrn" else o) for n, k, o in S.network.alexnet()]


def _alexnet_without_dropout():
    return [(n, k, o) for n, k, o in S.network.alexnet() if k != "dropout"]


def _figure1_floor_pools(activation="relu"):
    return [(n, k, dict(o, ceil_mode=False) if "pool" in k else o) for n, k, o in S.network.figure1(activation)]


def _library_model(layers, params):
    """A minialex Sequential with the layer list's layers and params' weights (what a learner must not do)."""
    from minialex.layers import (AvgPool2d, Conv2d, Dropout, Flatten, LocalResponseNorm, Tanh)
    made = []
    for name, kind, o in layers:
        if kind == "conv":
            W = params[name + ".W"]
            layer = Conv2d(W.shape[1] * o["groups"], W.shape[0], W.shape[2:], o["stride"], o["padding"], o["groups"],
                           dtype=W.dtype)
        elif kind == "linear":
            W = params[name + ".W"]
            layer = Linear(W.shape[1], W.shape[0], dtype=W.dtype)
        elif kind in ("maxpool", "avgpool"):
            layer = (MaxPool2d if kind == "maxpool" else AvgPool2d)(o["size"], o["stride"], ceil_mode=o["ceil_mode"])
        elif kind == "lrn":
            layer = LocalResponseNorm(o["size"], o["alpha"], o["beta"], o["k"], groups=o["groups"])
        else:
            layer = {"relu": ReLU, "tanh": Tanh, "flatten": Flatten}[kind]() if kind != "dropout" else Dropout(o["p"])
        if name + ".W" in params:
            layer.params.update(W=params[name + ".W"], b=params[name + ".b"])
        made.append(layer)
    return Sequential(*made, names=[n for n, _, _ in layers])


def _loss_and_grads_by_the_library(layers, params, x, y, rng=None):
    model = _library_model(layers, params)
    for layer in model.layers:
        if hasattr(layer, "p"):
            layer.rng = rng
    model.train() if rng is not None else model.eval()
    criterion = SoftmaxCrossEntropy()
    loss = criterion.forward(model.forward(x), y)
    model.backward(criterion.backward())
    return float(loss), dict(model.named_grads())


def _loss_and_grads_dropout_always_off(layers, params, x, y, rng=None):
    return S.network.loss_and_grads(layers, params, x, y, None)


def _loss_and_grads_dropout_float64_draws(layers, params, x, y, rng=None):
    """Draws the dropout numbers in float64 whatever x's dtype; and flips them: keeps u < 1 - p."""
    if rng is not None:
        state = rng

        class Flipped:
            def random(self, shape, dtype=np.float64):
                return 1 - state.random(shape, dtype=dtype)
        rng = Flipped()
    return S.network.loss_and_grads(layers, params, x, y, rng)


def _network_module(**replaced):
    """The reference network module with some of its functions replaced."""
    module = types.SimpleNamespace(**{n: getattr(S.network, n) for n in ("figure1", "alexnet", "loss_and_grads")})
    module.__dict__.update(replaced)
    return module


class _Patched:
    """The reference network, run with one of its layer functions replaced by a wrong one."""

    def __init__(self, module, name, wrong):
        self.module, self.name, self.wrong = module, name, wrong

    def loss_and_grads(self, *args):
        right = getattr(self.module, self.name)
        setattr(self.module, self.name, self.wrong)
        try:
            return S.network.loss_and_grads(*args)
        finally:
            setattr(self.module, self.name, right)


def _train_epoch_without_shuffling(layers, params, velocity, images, labels, mean, batch_size, lr, momentum,
                                   weight_decay, rng):
    class InOrder:
        def permutation(self, n):
            return np.arange(n)

        def random(self, shape, dtype=np.float64):
            return rng.random(shape, dtype=dtype)
    return S.train.train_epoch(layers, params, velocity, images, labels, mean, batch_size, lr, momentum,
                               weight_decay, InOrder())


def _train_epoch_without_weight_decay(layers, params, velocity, images, labels, mean, batch_size, lr, momentum,
                                      weight_decay, rng):
    return S.train.train_epoch(layers, params, velocity, images, labels, mean, batch_size, lr, momentum, 0.0, rng)


def _train_epoch_uncentred(layers, params, velocity, images, labels, mean, batch_size, lr, momentum, weight_decay,
                           rng):
    return S.train.train_epoch(layers, params, velocity, images, labels, np.zeros_like(mean), batch_size, lr,
                               momentum, weight_decay, rng)


def _train_epoch_dropping_the_last_batch(layers, params, velocity, images, labels, mean, batch_size, lr, momentum,
                                         weight_decay, rng):
    order = rng.permutation(len(images))
    keep = len(images) // batch_size * batch_size
    fixed = types.SimpleNamespace(permutation=lambda n: order[:keep], random=rng.random)
    return S.train.train_epoch(layers, params, velocity, images, labels, mean, batch_size, lr, momentum,
                               weight_decay, fixed)


def _accuracy(layers, params, images, labels, mean, batch_size=100):
    return 1 - S.train.error_rate(layers, params, images, labels, mean, batch_size)


def _error_rate_with_dropout(layers, params, images, labels, mean, batch_size=100):
    logits, _ = S.network.forward(layers, params, images.astype(np.float64) - mean, np.random.default_rng(0))
    return float((logits.argmax(axis=1) != labels).mean())


def _numpy_only_top_k_error(logits, labels, k=5):
    """Right on NumPy arrays, but calls np.argsort: it would fail on a GPU."""
    top = np.argsort(-logits, axis=1)[:, :k]
    return float((top != labels[:, None]).all(axis=1).mean())


def _top_k_error_via_numpy(logits, labels, k=5):
    """Converts its input to NumPy first: fine on the CPU, refused by CuPy on the GPU."""
    return _numpy_only_top_k_error(np.asarray(logits), np.asarray(labels), k)


WRONG = [
    ("01", "check_to_nchw", lambda b: b.transpose(0, 3, 2, 1), "should have shape (2, 3, 4, 5)"),
    ("01", "check_mean_image", lambda im: im.mean(axis=(0, 2, 3)).astype(np.float32), "one mean per channel"),
    ("01", "check_mean_image", lambda im: im.astype(np.float64).mean(axis=0), "float32"),
    ("01", "check_mean_image", lambda im: __import__("minialex.data").data.mean_image(im), "calls minialex.data"),
    ("02", "check_conv_output_size", lambda s, k, st, p: (s - k) // st + 1, "expected"),
    ("02", "check_im2col", lambda x, kh, kw, stride=1, padding=0: F.im2col(x, kh, kw, stride, padding),
     "calls minialex.functional.conv.im2col"),
    ("02", "check_im2col", lambda x, kh, kw, stride=1, padding=0:
     np.sort(S.conv.im2col(x, kh, kw, stride, padding), axis=1), "wrong order"),
    ("02", "check_conv2d", _conv2d_square_kernels, "W (2, 1, 2, 4)"),
    ("02", "check_conv2d", _conv2d_without_groups, "groups 2"),
    ("02", "check_conv2d", _conv2d_library, "calls minialex.functional.conv.conv2d_forward"),
    ("02", "check_conv2d", _conv2d_by_the_loops, "calls minialex.functional.naive.conv2d_naive"),
    ("02", "check_conv2d", _conv2d_a_product_per_pixel, "loop over pixels"),
    ("02", "check_conv2d", lambda x, W, b, stride=1, padding=0, groups=1:
     S.conv.conv2d(x, W, b, stride, padding, groups).astype(np.float64), "float32"),
    ("02", "check_col2im", _col2im_assigning, "+=, not ="),
    ("02", "check_col2im", lambda cols, x_shape, kh, kw, stride=1, padding=0:
     F.col2im(cols, x_shape, kh, kw, stride, padding), "calls minialex.functional.conv.col2im"),
    ("02", "check_conv2d_backward", _conv_backward_first_image_only, "every image"),
    ("02", "check_conv2d_backward", _conv_backward_square_kernels, "cannot reshape"),
    ("02", "check_conv2d_backward", _conv_backward_by_the_loops, "calls minialex.functional.naive.conv2d_backward_naive"),
    ("02", "check_conv2d_backward", _conv_backward_library, "calls minialex.functional.conv.conv2d_forward"),
    ("03", "check_relu", np.abs, "expected"),
    ("03", "check_relu", lambda x: ReLU().forward(x), "calls minialex.layers"),
    ("03", "check_relu_backward", lambda dout, x: dout * (x >= 0), "at x = 0"),
    ("03", "check_relu_backward", lambda dout, x: F.relu_backward(dout, x > 0), "calls minialex.functional"),
    ("03", "check_tanh", lambda x: np.tanh(x.astype(np.float64)), "should stay float32"),
    ("03", "check_tanh_backward", lambda dout, x: dout * (1 - x ** 2), "1 - tanh(x)^2"),
    ("04", "check_maxpool", lambda x, size=3, stride=2, ceil_mode=False: x[:, :, ::2, ::2], "expected shape"),
    ("04", "check_maxpool", _maxpool_zero_padded, "pad with -inf"),
    ("04", "check_maxpool", _maxpool_library, "calls minialex.layers.pooling"),
    ("04", "check_maxpool_backward", _maxpool_backward_assigning, "+=, not ="),
    ("04", "check_maxpool_backward", _maxpool_backward_to_every_tie, "ONE of the tied"),
    ("04", "check_maxpool_backward", _maxpool_backward_library, "calls minialex.functional.pooling.maxpool2d_forward"),
    ("04", "check_avgpool", _avgpool_full_divisor, "averages only the pixels it holds"),
    ("04", "check_avgpool", lambda x, size=3, stride=2, ceil_mode=False:
     S.pooling.avg_pool(x, size, stride, ceil_mode) * size * size, "each window's sum"),
    ("04", "check_avgpool_backward", _avgpool_backward_assigning, "+=, not ="),
    ("04", "check_lrn_forward", lambda a, n, alpha, beta, k:
     a / (k + alpha / n * (a ** 2).sum(axis=1, keepdims=True)) ** beta, "max difference"),
    ("04", "check_lrn_forward", lambda a, n, alpha, beta, k: S.lrn.lrn(a, n, alpha / n, beta, k), "divides alpha"),
    ("04", "check_lrn_backward", _lrn_backward_direct_term_only, "only the direct term"),
    ("04", "check_lrn_backward", lambda d, a, n, alpha, beta, k: S.lrn.lrn_backward(d, a, n, alpha / n, beta, k),
     "divides alpha by size"),
    ("04", "check_lrn_backward", _lrn_backward_library, "calls minialex.functional.lrn.lrn_forward"),
    ("05", "check_softmax", _softmax_unshifted, "overflows to inf"),
    ("05", "check_softmax", _softmax_shifted_by_the_mean, "MAXIMUM"),
    ("05", "check_softmax", lambda z: F.softmax(z), "calls minialex.functional"),
    ("05", "check_softmax_cross_entropy", _cross_entropy_log_of_softmax, "log(0) = -inf"),
    ("05", "check_softmax_cross_entropy", _cross_entropy_summed, "MEAN over the batch"),
    ("05", "check_softmax_cross_entropy", lambda z, y: (S.loss.softmax_cross_entropy(z, y)[0],
                                                        S.loss.softmax_cross_entropy(z, y)[1] * len(y)), "factor N"),
    ("05", "check_softmax_cross_entropy", _cross_entropy_library, "calls minialex.layers.loss"),
    ("05", "check_linear", lambda x, W, b: x @ W.T, "differs from Linear"),
    ("05", "check_linear_backward", lambda dout, x, W: (dout @ W, x.T @ dout, dout.sum(0)), "dW"),
    ("06", "check_dropout_forward", lambda x, p, u: x * (u >= p), "divided by (1 - p)"),
    ("06", "check_dropout_forward", lambda x, p, u: x * (u < p) / (1 - p), "DROP"),
    ("06", "check_dropout_forward", _dropout_forward_library, "calls minialex.functional.dropout"),
    ("06", "check_dropout_backward", lambda dout, p, u: dout * (u >= p), "scaled by 1/(1 - p)"),
    ("07", "check_sgd_step", _sgd_without_lr_in_decay, "multiplied by the learning rate"),
    ("07", "check_sgd_step", lambda w, v, g, lr, m, wd: (w - lr * g, v), "velocity"),
    ("07", "check_lr_at", lambda epoch, base, milestones: base / 10 ** sum(epoch >= m for m in milestones), "should use"),
    ("08", "check_conv_params", lambda cin, cout, k, g: cin * cout * k * k + cout, "in_channels / groups"),
    ("08", "check_conv_flops", lambda cin, cout, k, g, h, w: cout * h * w * (cin // g) * k * k, "multiply-add"),
    ("08", "check_figure1_layers", _figure1_floor_pools, "'ceil_mode': True"),
    ("08", "check_alexnet_layers", _alexnet_lrn_across_the_middle, "'groups': 2"),
    ("08", "check_alexnet_layers", _alexnet_without_dropout, "expected ('drop6', 'dropout')"),
    ("08", "check_network", _loss_and_grads_by_the_library, "calls minialex"),
    ("08", "check_network", _loss_and_grads_dropout_always_off, "training mode"),
    ("08", "check_network", _loss_and_grads_dropout_float64_draws, "training mode"),
    ("08", "check_figure1", _network_module(loss_and_grads=_loss_and_grads_by_the_library), "calls minialex"),
    ("08", "check_figure1", _network_module(figure1=_figure1_floor_pools), "'ceil_mode': True"),
    ("08", "check_figure1", _network_module(loss_and_grads=_Patched(S.pooling, "max_pool_backward",
                                                                    _maxpool_backward_assigning).loss_and_grads),
     "grads['conv1.b'] differs"),
    ("08", "check_figure1", _network_module(loss_and_grads=_Patched(S.activations, "tanh_backward",
                                                                    lambda d, x: d * (1 - x ** 2)).loss_and_grads),
     "Figure 1 network (tanh)"),
    ("08", "check_alexnet", _network_module(alexnet=_alexnet_lrn_across_the_middle), "'groups': 2"),
    ("08", "check_train_epoch", _train_epoch_without_shuffling, "first batch's loss"),
    ("08", "check_train_epoch", _train_epoch_without_weight_decay, "the update after a batch differs"),
    ("08", "check_train_epoch", _train_epoch_uncentred, "centred by the mean"),
    ("08", "check_train_epoch", _train_epoch_dropping_the_last_batch, "the last batch has 7"),
    ("08", "check_error_rate", _accuracy, "accuracy"),
    ("08", "check_error_rate", _error_rate_with_dropout, "no dropout"),
    ("09", "check_nearest_neighbours", lambda q, r, k: np.argsort(-(q @ r.T), axis=1)[:, :k], "failed"),
    ("10", "check_top_k_error", _numpy_only_top_k_error, "GPU"),
    ("10", "check_top_k_error", _top_k_error_via_numpy, "implicit conversion"),
    ("10", "check_top_k_error", lambda logits, labels, k=5: np.float32(0.5), "float"),
    ("11", "check_ten_crop", lambda images, crop: np.stack([images[:, :, :crop, :crop]] * 10), "failed"),
    ("12", "check_fc_half", lambda x, W, b, comm: comm.allgather(x, axis=1) @ W.T + b, "failed"),
]


@pytest.mark.parametrize("lesson, check, wrong, words", WRONG,
                         ids=[f"{c[0]}-{c[1]}-{getattr(c[2], '__name__', 'module')}-{i}" for i, c in enumerate(WRONG)])
def test_named_wrong_answer_is_rejected(lesson, check, wrong, words):
    with np.errstate(all="ignore"):
        verdict = grade(_check(lesson, check), wrong)
    assert verdict.startswith("failed") and words in verdict, verdict


# ---- setup(): the learner's package in any folder ----

def _run(code, cwd, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != course.SOLUTIONS_VARIABLE}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_setup_creates_the_template_once_and_keeps_the_learners_work(tmp_path):
    code = ("import minialex.course as course; mynet = course.setup(); from minialex.course import grade, lesson07; "
            "print(grade(lesson07.check_lr_at, mynet.optim.lr_at))")
    first = _run(code, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout and "not done yet" in first.stdout
    assert (tmp_path / "mynet" / "conv.py").read_text() == (course.TEMPLATE / "conv.py").read_text()
    optim = tmp_path / "mynet" / "optim.py"
    optim.write_text(optim.read_text().replace(
        '    raise NotImplementedError("Exercise 7.2: lr_at in mynet/optim.py")  # your code here',
        "    return base_lr / 10 ** sum(1 for m in milestones if epoch > m)"))
    second = _run(code, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout and "passed" in second.stdout
    assert "epoch > m" in optim.read_text()


def test_setup_loads_the_solutions_named_by_the_variable(tmp_path):
    code = "import minialex.course as course; mynet = course.setup(); print(mynet.__file__)"
    result = _run(code, tmp_path, {course.SOLUTIONS_VARIABLE: str(SOLUTIONS)})
    assert result.returncode == 0, result.stderr
    assert str(SOLUTIONS / "mynet") in result.stdout and not (tmp_path / "mynet").exists()


def test_the_package_data_holds_the_template_and_the_photos():
    assert len(list(course.CIFAR10_SAMPLE.glob("*/*.jpg"))) == 20
    from minialex.course.lesson08 import cifar10_photos
    images, labels = cifar10_photos(32)
    assert images.shape == (20, 3, 32, 32) and images.dtype == np.uint8 and labels.tolist() == sorted(labels.tolist())


# ---- the notebooks of lessons 1-8 ----

NOTEBOOKS = {path.name[:2]: path for path in sorted(LESSONS.glob("0[1-8]_*.ipynb"))}


@pytest.mark.parametrize("lesson", sorted(NOTEBOOKS))
def test_notebook_grades_the_learners_package_and_is_stored_executed(lesson):
    """The notebook sets up mynet, grades each of its exercises from mynet, shows "not done yet" for each
    (it is stored run on the template), defines no exercise function of its own, and is small enough for git."""
    path = NOTEBOOKS[lesson]
    assert path.stat().st_size < 1_000_000
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    outputs = "\n".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])
    assert "course.setup()" in code
    for lesson_, check, where in EXERCISES:
        if lesson_ == lesson:
            answer = f"mynet.{where}"
            assert f"grade(course.lesson{lesson}.{check}, {answer})" in code, check
            assert f"{check}: not done yet" in outputs, check
    assert "raise NotImplementedError" not in code and "def my_" not in code
    assert all(c.get("execution_count") for c in cells if c["cell_type"] == "code"), "notebook not executed"


# ---- lesson 10's stand-in GPU ----

def test_the_pretend_gpu_refuses_implicit_conversion_and_restores_numpy():
    checks10 = importlib.import_module("minialex.course.lesson10")
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
    checks10 = importlib.import_module("minialex.course.lesson10")
    before = backend.cupy
    with pytest.raises(ZeroDivisionError):
        with checks10.pretend_gpu():
            1 / 0
    assert backend.cupy is before
    assert backend.get_array_module(np.zeros(1)) is np
