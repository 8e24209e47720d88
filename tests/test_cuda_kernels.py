"""The CUDA kernels of minialex/layers/cuda_kernels.py, against the NumPy layers.

The kernels are plain C++ templates, so they are tested twice:

* on the CPU, everywhere (CI included): the same source is compiled with the
  system's C++ compiler, with a grid of one thread (the kernels' grid-stride
  loop then walks every element), and the layers are run with NumPy standing
  in for CuPy. This checks the kernels' index arithmetic, the wrappers'
  arguments, and the layers' dispatch, without a GPU;
* on a GPU (tests marked ``gpu``): compiled by CuPy, against NumPy.

Both compare with the composed (NumPy) path of the same layer, forward and
backward, on the cases where index errors hide: strides, padding, groups,
overlapping and ceil-mode pooling, ties, LRN at the channel edges.
"""
import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from minialex.backend import cupy, gpu_available, to_numpy
from minialex.gradcheck import check_layer
from minialex.layers import Conv2d, Dropout, LocalResponseNorm, MaxPool2d, cuda_kernels

SHIM = """
#include <algorithm>
#include <cmath>
using std::max; using std::min; using std::pow;
struct Dim { unsigned x; };
static const Dim blockIdx = {0}, blockDim = {1}, threadIdx = {0}, gridDim = {1};  // one thread does it all
#define __global__
#define __device__
"""


@pytest.fixture(scope="module")
def cpu_kernels(tmp_path_factory):
    """The kernels compiled as C++ -> {(name, C type): address}."""
    compiler = shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        pytest.skip("needs a C++ compiler to run the CUDA kernels on the CPU")
    exports = "".join(f'extern "C" void* get_{k}_{t}() {{ return (void*)&{k}<{t}>; }}\n'
                      for k in cuda_kernels.KERNELS for t in cuda_kernels.C_TYPES.values())
    folder = tmp_path_factory.mktemp("cuda_on_cpu")
    src, lib = folder / "kernels.cpp", folder / "kernels.so"
    src.write_text(SHIM + cuda_kernels.SOURCE + exports)
    subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    dll = ctypes.CDLL(str(lib))
    addresses = {}
    for k in cuda_kernels.KERNELS:
        for t in cuda_kernels.C_TYPES.values():
            getter = getattr(dll, f"get_{k}_{t}")
            getter.restype = ctypes.c_void_p
            addresses[k, t] = getter()
    return addresses


C_ARGS = {np.int32: ctypes.c_int, np.int64: ctypes.c_longlong, np.uint64: ctypes.c_ulonglong, np.float32: ctypes.c_float,
          np.float64: ctypes.c_double}


@pytest.fixture
def kernels_on_cpu(cpu_kernels, monkeypatch):
    """Make the layers take their CUDA-kernel path on NumPy arrays, the kernels running as C++."""
    def launch(name, n, dtype, *args):
        cargs = [ctypes.c_void_p(a.ctypes.data) if isinstance(a, np.ndarray) else C_ARGS[type(a)](a) for a in args]
        for a in args:
            assert not isinstance(a, np.ndarray) or a.flags.c_contiguous, name
        fn = ctypes.CFUNCTYPE(None, *[type(c) for c in cargs])(cpu_kernels[name, cuda_kernels.C_TYPES[np.dtype(dtype)]])
        fn(*cargs)

    monkeypatch.setattr(cuda_kernels, "cupy", np)
    monkeypatch.setattr(cuda_kernels, "_launch", launch)


@pytest.fixture(params=["cpu-emulated", "gpu"])
def kernel_device(request):
    """-> a function moving arrays to where the kernel path runs: cupy.asarray on a
    GPU, or np.asarray with the kernels compiled for the CPU (``kernels_on_cpu``)."""
    if request.param == "gpu":
        if not gpu_available():
            pytest.skip("needs CuPy and a CUDA device")
        return cupy.asarray
    request.getfixturevalue("kernels_on_cpu")
    return np.asarray


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
    once on NumPy's composed path. -> ((out, dx, grads), (out, dx, grads))."""
    results = []
    for kernels in (True, False):
        monkeypatch.setenv("MINIALEX_CUDA_KERNELS", "1" if kernels else "0")
        layer = make_layer()
        conv = to_dev if kernels else np.asarray
        for key, value in layer.params.items():
            layer.params[key] = conv(value)
        out = layer.forward(conv(x))
        dout = np.random.default_rng(dout_seed).standard_normal(out.shape).astype(x.dtype)
        dx = layer.backward(conv(dout))
        results.append((to_numpy(out), None if dx is None else to_numpy(dx),
                        {k: to_numpy(v) for k, v in layer.grads.items()}))
    monkeypatch.delenv("MINIALEX_CUDA_KERNELS")
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
    monkeypatch.setenv("MINIALEX_CUDA_KERNELS", "1")
    layer = make()
    for key, value in layer.params.items():
        layer.params[key] = kernel_device(value)
    x = kernel_device(np.random.default_rng(0).standard_normal((2, 4, 10, 9)))
    errors = check_layer(layer, x)
    assert errors and max(errors.values()) <= 1e-6, errors


def test_kernels_stay_off_for_numpy_arrays():
    """Without the emulation, NumPy arrays never reach the CUDA path (CuPy may not even be installed)."""
    assert not cuda_kernels.enabled_for(np.zeros(3, np.float32))


@pytest.mark.gpu
def test_kernels_switch_off(monkeypatch):
    x = cupy.zeros((1, 1, 2, 2), np.float32)
    assert cuda_kernels.enabled_for(x)
    monkeypatch.setenv("MINIALEX_CUDA_KERNELS", "0")
    assert not cuda_kernels.enabled_for(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_kernel(kernel_device, dtype):
    p = 0.3
    mask = to_numpy(cuda_kernels.dropout_mask((400, 250), dtype, 12345, p))
    assert mask.dtype == dtype
    assert set(np.unique(mask)) <= {0.0, dtype(1 / (1 - p))}
    assert abs((mask > 0).mean() - (1 - p)) < 0.01  # 100,000 draws: the standard error is 0.0015
    np.testing.assert_array_equal(mask, to_numpy(cuda_kernels.dropout_mask((400, 250), dtype, 12345, p)))
    assert (mask != to_numpy(cuda_kernels.dropout_mask((400, 250), dtype, 12346, p))).mean() > 0.3


def test_dropout_layer_on_the_kernel_path(kernel_device, monkeypatch):
    """The layer's NumPy generator seeds the kernel: reseeding it repeats the mask (resume, gradcheck)."""
    monkeypatch.setenv("MINIALEX_CUDA_KERNELS", "1")
    calls = []
    kernel = cuda_kernels.dropout_mask
    monkeypatch.setattr(cuda_kernels, "dropout_mask", lambda *a: calls.append(a) or kernel(*a))
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
