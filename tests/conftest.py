"""Shared test fixtures.

The suite runs on the device named by MINIALEX_DEVICE (cpu by default), so
``MINIALEX_DEVICE=gpu pytest`` runs the same tests on CuPy. Tests marked
``gpu`` need a CUDA device and are skipped cleanly without one.
"""
import numpy as np
import pytest

from minialex.backend import default_device, gpu_available, to_device


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
    """Run a convolution test both ways Conv2d can build its columns on the
    CPU (im2col.py): ``rows`` wherever it applies (stride 1), or never. The GPU
    has one way only."""
    from minialex.layers import conv
    if request.param == "rows" and device == "gpu":
        pytest.skip("the rows path is CPU-only")
    monkeypatch.setattr(conv, "ROW_DEPTH_MIN", 0 if request.param == "rows" else float("inf"))
    return request.param
