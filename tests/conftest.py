"""Shared test fixtures.

The suite runs on the device named by MINIALEX_DEVICE (cpu by default), so
``MINIALEX_DEVICE=gpu pytest`` runs the same tests on CuPy. Tests marked
``gpu`` need a CUDA device and are skipped cleanly without one.
"""
import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from minialex import dispatch
from minialex.backend import cupy, default_device, gpu_available, to_device
from minialex.fast import cuda_kernels


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def device():
    return default_device()


@pytest.fixture
def on_device(device):
    """on_device(numpy_array) -> the same array on the suite's device."""
    return lambda a: to_device(np.asarray(a), device)


@pytest.fixture(params=["im2col", "rows"])
def conv_path(request, monkeypatch, device):
    """Run a convolution test both ways the CPU's fast path can build its
    columns (fast/conv.py): ``rows`` wherever it applies (stride 1), or never.
    The GPU has one way only."""
    if request.param == "rows" and device == "gpu":
        pytest.skip("the rows path is CPU-only")
    monkeypatch.setattr(dispatch, "ROW_DEPTH_MIN", 0 if request.param == "rows" else float("inf"))
    return request.param


# -- the CUDA kernels run on the CPU: compiled as C++, one thread walking the grid-stride loops --

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
    """The CUDA kernels (minialex/fast/cuda_kernels.py) compiled as C++ -> {(name, C type): address}."""
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
    monkeypatch.setattr(dispatch, "on_gpu", lambda x: True)


@pytest.fixture(params=["cpu-emulated", "gpu"])
def kernel_device(request):
    """-> a function moving arrays to where the CUDA kernels run: cupy.asarray on a
    GPU, or np.asarray with the kernels compiled for the CPU (``kernels_on_cpu``)."""
    if request.param == "gpu":
        if not gpu_available():
            pytest.skip("needs CuPy and a CUDA device")
        return cupy.asarray
    request.getfixturevalue("kernels_on_cpu")
    return np.asarray
