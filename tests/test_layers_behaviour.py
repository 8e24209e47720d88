"""Fast layers against the plain-loop references, dtypes, modes and input errors."""
import numpy as np
import pytest

from minialex import dispatch
from minialex.backend import to_numpy
from minialex.layers import (AvgPool2d, Conv2d, Dropout, Flatten, Linear, LocalResponseNorm, MaxPool2d, ReLU,
                             Sequential, SoftmaxCrossEntropy, Tanh)
from minialex.gradcheck import numerical_gradient
from minialex.functional.loss import log_softmax, softmax
from minialex.functional.naive import (avgpool2d_naive, conv2d_backward_naive, conv2d_naive, lrn_backward_naive, lrn_naive,
                                   maxpool2d_backward_naive, maxpool2d_naive)


@pytest.mark.parametrize("seed", range(8))
def test_conv2d_matches_naive(on_device, device, conv_path, seed):
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2, 4]))
    c, f = 4 * int(rng.integers(1, 3)), 4 * int(rng.integers(1, 3))
    k, stride, padding = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 3))
    h, w = int(rng.integers(k, k + 9)), int(rng.integers(k, k + 9))
    x = rng.standard_normal((2, c, h, w))
    layer = Conv2d(c, f, k, stride, padding, groups, weight_std=1.0, rng=rng)
    layer.params["b"] = rng.standard_normal(f).astype(np.float32)
    layer.to(dtype=np.float64)
    expected = conv2d_naive(x, layer.params["W"], layer.params["b"], stride, padding, groups)
    layer.to(device)
    np.testing.assert_allclose(to_numpy(layer.forward(on_device(x))), expected, rtol=1e-10, atol=1e-10)


# (x shape, out channels, kernel, stride, padding, groups): where wrong backward passes hide.
CONV_BACKWARD_CASES = {
    "strided-padded": ((2, 3, 9, 8), 5, 3, 2, 1, 1),  # windows skip pixels, the padding takes gradient
    "stride-1-groups-2": ((2, 4, 7, 6), 6, 3, 1, 1, 2),  # the rows path where it applies
    "conv2-5x5-groups-2": ((2, 4, 8, 9), 4, 5, 1, 2, 2),  # AlexNet's conv2: padding 2, two groups
    "conv1-11x11-stride-4": ((2, 3, 23, 23), 4, 11, 4, 0, 1),  # AlexNet's conv1: overlapping windows
    "11x11-stride-4-padded-groups-2": ((1, 4, 19, 21), 4, 11, 4, 2, 2),  # and a non-square input
}


def conv_backward_case(shape, out_channels, kernel, stride, padding, groups):
    """A float64 Conv2d, x, dout, and conv2d_backward_naive's (dx, dW, db) for them."""
    rng = np.random.default_rng(4)
    layer = Conv2d(shape[1], out_channels, kernel, stride, padding, groups, weight_std=1.0, rng=rng)
    layer.to(dtype=np.float64)
    x = rng.standard_normal(shape)
    dout = rng.standard_normal(layer.output_shape(shape))
    return layer, x, dout, conv2d_backward_naive(dout, x, layer.params["W"], stride, padding, groups)


@pytest.mark.parametrize("case", CONV_BACKWARD_CASES.values(), ids=list(CONV_BACKWARD_CASES))
def test_conv2d_backward_matches_naive(on_device, device, conv_path, case):
    layer, x, dout, (dx, dW, db) = conv_backward_case(*case)
    layer.to(device).forward(on_device(x))
    np.testing.assert_allclose(to_numpy(layer.backward(on_device(dout))), dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(to_numpy(layer.grads["W"]), dW, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(to_numpy(layer.grads["b"]), db, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", ["conv1-11x11-stride-4", "conv2-5x5-groups-2"])
def test_first_layer_weight_gradients_without_input_gradient(on_device, device, conv_path, case):
    """needs_input_grad=False skips dL/dx only: dW and db are exactly those computed
    with it, and the loop reference's."""
    layer, x, dout, (_, dW, db) = conv_backward_case(*CONV_BACKWARD_CASES[case])
    layer.to(device)
    grads = {}
    for needs_input_grad in (True, False):
        layer.needs_input_grad = needs_input_grad
        layer.forward(on_device(x))
        assert (layer.backward(on_device(dout)) is None) == (not needs_input_grad)
        grads[needs_input_grad] = {key: to_numpy(g).copy() for key, g in layer.grads.items()}
    for key, expected in (("W", dW), ("b", db)):
        np.testing.assert_array_equal(grads[False][key], grads[True][key])
        np.testing.assert_allclose(grads[False][key], expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stride, padding, kernel, expected", [
    (1, 2, 5, True), (1, 0, 3, True), (1, 3, 3, False), (2, 1, 3, False)])
def test_conv2d_builds_columns_by_rows_where_it_can(conv_path, stride, padding, kernel, expected):
    """The rows path needs stride 1 and padding below the kernel size (so the
    input gradient's padding k-1-p is not negative); otherwise im2col."""
    layer = Conv2d(4, 4, kernel, stride, padding)
    chosen = dispatch.choose("conv2d", np.zeros((1, 4, 9, 9), np.float32), layer.params["W"], stride, padding)
    assert chosen.name == ("cpu-rows" if expected and conv_path == "rows" else "cpu-im2col")


@pytest.mark.parametrize("in_channels, groups, expected", [(3, 1, False), (32, 1, True), (32, 4, False)])
def test_conv2d_by_rows_needs_deep_enough_kernel_rows(in_channels, groups, expected):
    """At the default ROW_DEPTH_MIN (64): a kernel row of kw*C/groups = 5*3 values
    (the Figure-1 net's conv1) is too thin for products of its own; 5*32 is not."""
    layer = Conv2d(in_channels, 8, 5, 1, 2, groups)
    chosen = dispatch.choose("conv2d", np.zeros((1, in_channels, 9, 9), np.float32), layer.params["W"], 1, 2)
    assert (chosen.name == "cpu-rows") == expected


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", [
    (3, 2, 0, False), (3, 1, 0, False), (2, 2, 0, False), (3, 2, 1, False), (3, 2, 0, True), (3, 2, 1, True)])
@pytest.mark.parametrize("pool, naive", [(MaxPool2d, lambda *a: maxpool2d_naive(*a)[0]), (AvgPool2d, avgpool2d_naive)],
                         ids=["max", "avg"])
def test_pooling_matches_naive(on_device, pool, naive, kernel, stride, padding, ceil_mode):
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 11))
    out = pool(kernel, stride, padding, ceil_mode).forward(on_device(x))
    np.testing.assert_allclose(to_numpy(out), naive(x, kernel, stride, padding, ceil_mode), rtol=1e-12)


def test_maxpool_ties_route_gradient_to_one_input(on_device):
    """With ties (a ReLU output is full of zeros) each window's gradient must go to
    exactly one input, the first maximum, not to every tied one."""
    x = np.random.default_rng(1).integers(0, 3, size=(2, 2, 7, 7)).astype(np.float64)
    pool = MaxPool2d(3, 2)
    out = pool.forward(on_device(x))
    dout = np.random.default_rng(2).standard_normal(out.shape)
    dx = to_numpy(pool.backward(on_device(dout)))
    ref_out, argmax = maxpool2d_naive(x, 3, 2)
    np.testing.assert_allclose(dx, maxpool2d_backward_naive(dout, argmax, x.shape), rtol=1e-12)
    np.testing.assert_allclose(dx.sum(), dout.sum())


def test_lrn_matches_paper_formula(on_device):
    x = np.abs(np.random.default_rng(3).standard_normal((2, 9, 4, 5))) * 3
    for alpha in (1e-4, 0.5):
        out = LocalResponseNorm(5, alpha, 0.75, 2.0).forward(on_device(x))
        np.testing.assert_allclose(to_numpy(out), lrn_naive(x, 5, alpha, 0.75, 2.0), rtol=1e-12)


@pytest.mark.parametrize("groups", [2, 3])
def test_lrn_groups_normalise_each_group_on_its_own(on_device, groups):
    """groups=g is g separate LRNs, one per group of channels (the paper's two GPUs, section 3.2), forward
    and backward; it differs from groups=1 only within size//2 channels of a group's edge."""
    rng = np.random.default_rng(7)
    x, dout = rng.standard_normal((2, 12, 3, 4)) * 2, rng.standard_normal((2, 12, 3, 4))
    grouped = LocalResponseNorm(5, 1.0, 0.75, 1.0, groups=groups)
    out = to_numpy(grouped.forward(on_device(x)))
    dx = to_numpy(grouped.backward(on_device(dout)))
    c = 12 // groups
    for g in range(groups):
        part = slice(g * c, (g + 1) * c)
        alone = LocalResponseNorm(5, 1.0, 0.75, 1.0)
        np.testing.assert_allclose(out[:, part], to_numpy(alone.forward(on_device(x[:, part]))), rtol=1e-12)
        np.testing.assert_allclose(dx[:, part], to_numpy(alone.backward(on_device(dout[:, part]))), rtol=1e-12)
    plain = to_numpy(LocalResponseNorm(5, 1.0, 0.75, 1.0).forward(on_device(x)))
    changed = np.flatnonzero(np.abs(out - plain).max(axis=(0, 2, 3)) > 1e-12)
    near_an_edge = [i for i in range(12) if any(j // c != i // c for j in range(max(0, i - 2), min(12, i + 3)))]
    assert list(changed) == near_an_edge


@pytest.mark.parametrize("channels, size, alpha, beta, k", [
    (7, 5, 1e-4, 0.75, 2.0),  # the paper's values
    (7, 5, 1.0, 0.75, 1.0),   # large alpha: the term through the neighbours' denominators matters
    (3, 5, 1.0, 0.75, 1.0),   # fewer channels than the window: every window clipped
    (5, 5, 1.0, 0.75, 1.0),   # as many as the window
    (6, 5, 1.0, 0.6, 1.0),    # beta other than the paper's (the fast path's other power)
    (4, 3, 0.5, 0.75, 2.0),
])
def test_lrn_backward_matches_naive(on_device, channels, size, alpha, beta, k):
    rng = np.random.default_rng(5)
    x, dout = rng.standard_normal((2, channels, 3, 4)) * 2, rng.standard_normal((2, channels, 3, 4))
    layer = LocalResponseNorm(size, alpha, beta, k)
    layer.forward(on_device(x))
    np.testing.assert_allclose(to_numpy(layer.backward(on_device(dout))),
                               lrn_backward_naive(dout, x, size, alpha, beta, k), rtol=1e-10, atol=1e-12)


def test_backward_references_match_finite_differences():
    """The loop references, in turn, against the definition of a derivative."""
    rng = np.random.default_rng(6)
    x, W, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    conv = lambda: conv2d_naive(x, W, b, stride=2, padding=1, groups=2)
    dout = rng.standard_normal(conv().shape)
    for array, grad in zip((x, W, b), conv2d_backward_naive(dout, x, W, stride=2, padding=1, groups=2)):
        np.testing.assert_allclose(grad, numerical_gradient(conv, array, dout=dout), rtol=1e-6, atol=1e-8)
    a, dout = rng.standard_normal((2, 4, 2, 3)) * 2, rng.standard_normal((2, 4, 2, 3))
    numeric = numerical_gradient(lambda: lrn_naive(a, 5, 1.0, 0.75, 1.0), a, dout=dout)
    np.testing.assert_allclose(lrn_backward_naive(dout, a, 5, 1.0, 0.75, 1.0), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(on_device, device, dtype):
    rng = np.random.default_rng(0)
    model = Sequential(Conv2d(3, 4, 3, padding=1, groups=1, rng=rng), ReLU(), LocalResponseNorm(), MaxPool2d(3, 2),
                       Conv2d(4, 4, 3, groups=2, rng=rng), Tanh(), AvgPool2d(2, 2), Dropout(0.5), Flatten(),
                       Linear(4, 3, rng=rng)).to(device, dtype)
    x = on_device(rng.standard_normal((2, 3, 9, 9)).astype(dtype))
    out = model.forward(x)
    assert out.dtype == dtype
    loss = SoftmaxCrossEntropy()
    assert loss.forward(out, on_device(np.array([0, 1]))).dtype == dtype
    dx = model.backward(loss.backward())
    assert dx.dtype == dtype
    assert all(g.dtype == dtype for g in model.named_grads().values())


def test_dropout_train_and_eval(on_device):
    layer = Dropout(0.5, rng=np.random.default_rng(0))
    x = on_device(np.ones((100, 100), dtype=np.float32))
    out = to_numpy(layer.forward(x))
    assert set(np.unique(out)) == {0.0, 2.0}
    assert abs(out.mean() - 1.0) < 0.05  # inverted dropout keeps the expectation
    assert np.array_equal(to_numpy(layer.eval().forward(x)), to_numpy(x))


def test_first_layer_can_skip_input_gradient(on_device, device):
    conv = Conv2d(3, 2, 3)
    conv.needs_input_grad = False
    model = Sequential(conv, ReLU(), Flatten()).to(device)
    out = model.forward(on_device(np.ones((1, 3, 5, 5), np.float32)))
    assert model.backward(out) is None


@pytest.mark.parametrize("make, x_shape, dtype, message", [
    (lambda: Conv2d(3, 8, 3), (2, 3, 8), np.float32, "4-D input"),
    (lambda: Conv2d(3, 8, 3), (2, 4, 8, 8), np.float32, "4 channels, expected 3"),
    (lambda: Conv2d(3, 8, 5), (2, 3, 3, 3), np.float32, "larger than the padded input"),
    (lambda: Conv2d(3, 8, 3), (2, 3, 8, 8), np.uint8, "floating-point"),
    (lambda: Conv2d(3, 8, 3), (2, 3, 8, 8), np.float64, "parameters are float32"),
    (lambda: MaxPool2d(3, 2), (2, 3, 2, 2), np.float32, "larger than the padded input"),
    (lambda: Linear(10, 2), (2, 9), np.float32, "9 features, expected 10"),
    (lambda: LocalResponseNorm(), (2, 3), np.float32, "4-D input"),
    (lambda: LocalResponseNorm(groups=2), (2, 3, 4, 4), np.float32, "groups=2 must divide the 3 channels"),
])
def test_bad_input_errors(on_device, device, make, x_shape, dtype, message):
    layer = make().to(device)
    with pytest.raises(ValueError, match=message) as info:
        layer.forward(on_device(np.zeros(x_shape, dtype=dtype)))
    assert type(layer).__name__ in str(info.value)


@pytest.mark.gpu
def test_input_on_another_device_than_the_parameters():
    from minialex.backend import to_device
    with pytest.raises(ValueError, match="different devices"):
        Conv2d(3, 2, 3).forward(to_device(np.zeros((1, 3, 5, 5), np.float32), "gpu"))


def test_bad_construction_errors():
    with pytest.raises(ValueError, match="groups=3 must divide"):
        Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="must be odd"):
        LocalResponseNorm(4)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)


def test_loss_label_errors(on_device):
    loss, logits = SoftmaxCrossEntropy(), on_device(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"lie in \[0, 4\)"):
        loss.forward(logits, on_device(np.array([0, 4, 1])))
    with pytest.raises(ValueError, match="integers"):
        loss.forward(logits, on_device(np.array([0.0, 1.0, 2.0])))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        loss.forward(logits, on_device(np.array([0, 1])))


def test_softmax_is_stable_and_the_losss_probabilities(on_device):
    logits = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])  # exp(1000) alone would overflow
    probs = to_numpy(softmax(on_device(logits)))
    e = np.exp(logits[0] - 3)
    np.testing.assert_allclose(probs[0], e / e.sum(), rtol=1e-15)
    assert np.array_equal(probs[1], [1, 0, 0]) and np.isfinite(to_numpy(log_softmax(on_device(logits)))).all()
    loss = SoftmaxCrossEntropy()
    loss.forward(on_device(logits), on_device(np.array([2, 0])))
    assert np.array_equal(to_numpy(loss._cache[0]), probs), "the loss's softmax is this one"


@pytest.mark.parametrize("stride, groups", [(1, 1), (2, 2)])
def test_conv2d_in_many_small_chunks(monkeypatch, on_device, device, conv_path, stride, groups):
    """The fast path cuts a batch into chunks that fit in cache; with tiny budgets
    every image is its own chunk, and the results must not change."""
    from minialex.gradcheck import check_layer
    from minialex.fast import chunks, conv
    monkeypatch.setattr(conv, "COLUMN_BYTES", 1)
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 1)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 4, 7, 6))
    layer = Conv2d(4, 6, 3, stride, 1, groups, weight_std=1.0, rng=rng).to(dtype=np.float64)
    expected = conv2d_naive(x, layer.params["W"], layer.params["b"], stride, 1, groups)
    layer.to(device)
    np.testing.assert_allclose(to_numpy(layer.forward(on_device(x))), expected, rtol=1e-10, atol=1e-10)
    assert max(check_layer(layer, on_device(x[:3])).values()) <= 1e-6


@pytest.mark.parametrize("kh, kw, padding, groups", [(3, 3, 1, 1), (5, 5, 2, 2), (3, 2, 0, 1)])
def test_im2col_rows_windows_are_im2col_blocks(kh, kw, padding, groups):
    """For stride 1, kernel row i's view of im2col_rows holds exactly im2col's
    rows for that kernel row (reordered from (n, y, z) to (y, z, n) columns)."""
    from minialex.fast.columns import im2col, im2col_rows, row_window
    n, c, h, w = 2, 4, 6, 7
    x = np.random.default_rng(3).standard_normal((n, c, h, w))
    oh, ow = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1
    cols = im2col(x, kh, kw, 1, padding, oh, ow, groups)
    rows = im2col_rows(x, kw, (padding, padding), ow, groups)
    k = kw * c // groups
    for i in range(kh):
        block = cols[:, i * k:(i + 1) * k].reshape(groups, k, n, oh, ow).transpose(0, 1, 3, 4, 2)
        np.testing.assert_array_equal(row_window(rows, i, oh, ow, n), block.reshape(groups, k, -1))
