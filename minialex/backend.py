"""Where arrays live: NumPy on the CPU, CuPy on the GPU, chosen in one place.

Layers never ask "am I on the GPU?". They call ``get_array_module(x)`` on their
input and get back ``numpy`` or ``cupy``, whose functions have the same names
(Chainer's idiom). So one ``forward`` serves both devices, and the only places
that name a device are this module and ``to_device``.

The default device is ``"cpu"``; the environment variable ``MINIALEX_DEVICE=gpu``
changes it (the test suite uses this to run unchanged on CuPy).
"""
import os

import numpy as np

try:  # CuPy is an optional extra: ``pip install minialex[gpu]``.
    import cupy
except ImportError:  # pragma: no cover - depends on the machine
    cupy = None

DEVICES = ("cpu", "gpu")


def get_array_module(*arrays):
    """``cupy`` if any argument is a CuPy array, else ``numpy``."""
    if cupy is not None:
        return cupy.get_array_module(*arrays)
    return np


def gpu_available():
    """True when CuPy is installed and can see at least one CUDA device."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CUDA driver missing or broken: no usable GPU.
        return False


def default_device():
    """The device named by ``MINIALEX_DEVICE`` (``cpu`` when unset)."""
    device = os.environ.get("MINIALEX_DEVICE", "cpu").lower()
    check_device(device)
    return device


def check_device(device):
    """Raise a clear error for an unknown device or a GPU that is not there."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "gpu":
        if cupy is None:
            raise RuntimeError(
                "device 'gpu' needs CuPy, which is not installed. Install it from the minialex clone with "
                "`pip install -e \".[gpu]\"` (CUDA 12; `\".[gpu-cuda13]\"` for CUDA 13, or the cupy-cudaXXx "
                "wheel matching your CUDA), or use device 'cpu'.")
        if not gpu_available():
            raise RuntimeError("device 'gpu' was asked for, but CuPy sees no CUDA device. "
                               "Check `nvidia-smi`, or use device 'cpu'.")


def xp_for(device):
    """The array module for a device name: ``numpy`` for cpu, ``cupy`` for gpu."""
    check_device(device)
    return np if device == "cpu" else cupy


def to_device(x, device):
    """Copy an array to ``device`` (a no-op if it is already there)."""
    check_device(device)
    if device == "cpu":
        return to_numpy(x)
    return cupy.asarray(x)


def to_numpy(x):
    """A NumPy array from a NumPy or CuPy array (or anything array-like)."""
    if cupy is not None and isinstance(x, cupy.ndarray):
        return cupy.asnumpy(x)
    return np.asarray(x)


def device_of(x):
    """``"gpu"`` for a CuPy array, ``"cpu"`` otherwise."""
    return "gpu" if get_array_module(x) is not np else "cpu"
