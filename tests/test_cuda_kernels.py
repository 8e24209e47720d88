"""The CUDA kernels of minialex/fast/cuda_kernels.py, against the reference (minialex.functional).

The kernels are plain C++ templates, so they are tested twice:

* on the CPU, everywhere (CI included): the same source is compiled with the
  system's C++ compiler, with a grid of one thread (the kernels' grid-stride
  loop then walks every element), and the layers are run with NumPy standing
  in for CuPy, dispatch taking the NumPy arrays for GPU ones. This checks the
  kernels' index arithmetic, the wrappers' arguments, and the dispatch,
  without a GPU;
* on a GPU (tests marked ``gpu``): compiled by CuPy, against NumPy.

Both compare with the reference path of the same layer (``dispatch.set_path("reference")``),
forward and backward, on the cases where index errors hide: strides, padding, groups,
overlapping and ceil-mode pooling, ties, LRN at the channel edges.
"""
import numpy as np
import pytest

from minialex import dispatch
from minialex.backend import cupy, to_numpy
from minialex.fast import cuda_kernels
from minialex.gradcheck import check_layer
from minialex.layers import Conv2d, Dropout, LocalResponseNorm, MaxPool2d

CONVS = [  # (x shape, out channels, kernel, stride, padding, groups)
    ((2, 3, 7, 9), 4, 3, 1, 0, 1),
    ((2, 3, 9, 8), 5, 3, 2, 1, 1),
    ((1, 4, 11, 10), 6, 5, 3, 2, 2),
    ((2, 8, 6, 7), 8, 3, 1, 1, 4),
    ((2, 4, 8, 8), 4, (2, 3), 2, 0, 2),
    ((2, 3, 23, 23), 8, 11, 4, 0, 1),  # AlexNet conv1's geometry, small
]
POOLS = [  # (kernel, stride, padding, ceil_mode)
    (3, 2, 0, False), (3, 2, 0, True), (3, 1, 1, False), (2, 2, 0, False), (3, 2, 1, True), (5, 3, 2, True)]


def run_both(make_layer, x, dout_seed, to_dev, monkeypatch):
    """Forward and backward of a fresh layer: once through the kernels on ``to_dev``,
    once on NumPy's reference path. -> ((out, dx, grads), (out, dx, grads))."""
    results = []
    for kernels in (True, False):
        monkeypatch.setattr(dispatch, "_path", "fast" if kernels else "reference")
        layer = make_layer()
        conv = to_dev if kernels else np.asarray
        for key, value in layer.params.items():
            layer.params[key] = conv(value)
        out = layer.forward(conv(x))
        dout = np.random.default_rng(dout_seed).standard_normal(out.shape).astype(x.dtype)
        dx = layer.backward(conv(dout))
        results.append((to_numpy(out), None if dx is None else to_numpy(dx),
                        {k: to_numpy(v) for k, v in layer.grads.items()}))
    monkeypatch.setattr(dispatch, "_path", "fast")
    return results


def assert_same(kernel, composed, tol):
    (out_k, dx_k, g_k), (out_c, dx_c, g_c) = kernel, composed
    np.testing.assert_allclose(out_k, out_c, rtol=tol, atol=tol)
    if dx_c is not None:
        np.testing.assert_allclose(dx_k, dx_c, rtol=tol, atol=tol)
    for key in g_c:
        np.testing.assert_allclose(g_k[key], g_c[key], rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("shape, out_ch, kernel, stride, padding, groups", CONVS)
def test_conv_kernels(kernel_device, monkeypatch, dtype, tol, shape, out_ch, kernel, stride, padding, groups):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    make = lambda: Conv2d(shape[1], out_ch, kernel, stride, padding, groups, weight_std=1.0,
                          rng=np.random.default_rng(1), dtype=dtype)
    assert_same(*run_both(make, x, 2, kernel_device, monkeypatch), tol)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", POOLS)
def test_maxpool_kernels(kernel_device, monkeypatch, dtype, tol, kernel, stride, padding, ceil_mode):
    x = np.random.default_rng(0).standard_normal((2, 3, 11, 12)).astype(dtype)
    assert_same(*run_both(lambda: MaxPool2d(kernel, stride, padding, ceil_mode), x, 1, kernel_device,
                          monkeypatch), tol)


def test_maxpool_kernel_ties_go_to_first_maximum(kernel_device, monkeypatch):
    x = np.random.default_rng(0).integers(0, 3, (2, 2, 9, 9)).astype(np.float64)  # many ties
    assert_same(*run_both(lambda: MaxPool2d(3, 2), x, 1, kernel_device, monkeypatch), 0)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("channels, size, alpha, beta", [(7, 5, 1e-4, 0.75), (6, 3, 0.5, 0.75), (4, 5, 1.0, 0.6)])
def test_lrn_kernels(kernel_device, monkeypatch, dtype, tol, channels, size, alpha, beta):
    x = np.random.default_rng(0).standard_normal((2, channels, 5, 6)).astype(dtype)
    assert_same(*run_both(lambda: LocalResponseNorm(size, alpha, beta, 2.0), x, 1, kernel_device, monkeypatch), tol)


@pytest.mark.parametrize("make", [
    lambda: Conv2d(4, 6, 5, 3, 2, 2, weight_std=1.0, rng=np.random.default_rng(1), dtype=np.float64),
    lambda: MaxPool2d(3, 2, 1, True),
    lambda: LocalResponseNorm(5, 1.0, 0.75, 2.0),
], ids=["conv", "maxpool", "lrn"])
def test_kernel_gradients(kernel_device, make, monkeypatch):
    """The kernels' backward against finite differences of their own forward."""
    layer = make()
    for key, value in layer.params.items():
        layer.params[key] = kernel_device(value)
    x = kernel_device(np.random.default_rng(0).standard_normal((2, 4, 10, 9)))
    errors = check_layer(layer, x)
    assert errors and max(errors.values()) <= 1e-6, errors


def test_kernels_stay_off_for_numpy_arrays():
    """Without the emulation, NumPy arrays never reach the CUDA path (CuPy may not even be installed)."""
    x = np.zeros((1, 1, 4, 4), np.float32)
    assert [dispatch.choose(op, x).name for op in ("maxpool2d", "lrn", "dropout_mask")] == \
        ["cpu-chunks", "cpu-chunks", "reference"]


@pytest.mark.gpu
def test_reference_path_switches_the_kernels_off(monkeypatch):
    x = cupy.zeros((1, 1, 2, 2), np.float32)
    assert dispatch.choose("lrn", x).name == "gpu-kernel"
    monkeypatch.setattr(dispatch, "_path", "reference")
    assert dispatch.choose("lrn", x).name == "reference"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_kernel(kernel_device, dtype):
    p, like = 0.3, kernel_device(np.zeros(1, dtype))
    mask_of = lambda seed: to_numpy(cuda_kernels.dropout_mask(like, (400, 250), p, np.random.default_rng(seed)))
    mask = mask_of(12345)
    assert mask.dtype == dtype
    assert set(np.unique(mask)) <= {0.0, dtype(1 / (1 - p))}
    assert abs((mask > 0).mean() - (1 - p)) < 0.01  # 100,000 draws: the standard error is 0.0015
    np.testing.assert_array_equal(mask, mask_of(12345))
    assert (mask != mask_of(12346)).mean() > 0.3


def test_dropout_layer_on_the_kernel_path(kernel_device, monkeypatch):
    """The layer's NumPy generator seeds the kernel: reseeding it repeats the mask (resume, gradcheck)."""
    calls = []
    kernel = dispatch.GPU["dropout_mask"]
    seeds = lambda like, shape, p, rng: calls.append(rng.bit_generator.state["state"]["state"]) or kernel.forward(like, shape, p, rng)
    monkeypatch.setitem(dispatch.GPU, "dropout_mask", kernel._replace(forward=seeds))
    layer = Dropout(0.5)
    x = kernel_device(np.random.default_rng(0).standard_normal((4, 10)))
    masks = []
    for _ in range(2):
        layer.rng = np.random.default_rng(3)
        masks.append(to_numpy(layer.forward(x)) != 0)
    assert len(calls) == 2 and calls[0] == calls[1]  # the kernel made both masks, from the same seed
    np.testing.assert_array_equal(*masks)
    fixed_mask = lambda: setattr(layer, "rng", np.random.default_rng(3))
    errors = check_layer(layer, x, before_forward=fixed_mask)
    assert errors and max(errors.values()) <= 1e-6, errors
