"""One place decides NumPy or CuPy; asking for a GPU that is not there fails clearly."""
import re

import numpy as np
import pytest

from minialex import backend
from minialex.layers import Conv2d


def test_numpy_arrays_get_numpy():
    assert backend.get_array_module(np.zeros(3)) is np
    assert backend.device_of(np.zeros(3)) == "cpu"
    assert backend.to_device([1, 2], "cpu").tolist() == [1, 2]


def test_default_device_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MINIALEX_DEVICE", "cpu")
    assert backend.default_device() == "cpu"
    monkeypatch.setenv("MINIALEX_DEVICE", "tpu")
    with pytest.raises(ValueError, match="device must be one of"):
        backend.default_device()


@pytest.mark.skipif(backend.gpu_available(), reason="a GPU is present")
def test_asking_for_a_missing_gpu_says_what_to_do():
    with pytest.raises(RuntimeError, match="cupy|CuPy|CUDA"):
        backend.check_device("gpu")
    with pytest.raises(RuntimeError, match="use device 'cpu'"):
        Conv2d(3, 4, 3).to("gpu")


def test_the_missing_cupy_message_gives_the_install_line_that_works_from_a_clone(monkeypatch):
    monkeypatch.setattr(backend, "cupy", None)
    with pytest.raises(RuntimeError, match=re.escape('`pip install -e ".[gpu]"`')):
        backend.check_device("gpu")


@pytest.mark.gpu
def test_layers_run_on_cupy_arrays_and_agree_with_numpy():
    import cupy
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 5)).astype(np.float32)
    make = lambda: Conv2d(3, 4, 3, padding=1, weight_std=1.0, rng=np.random.default_rng(0))
    out = make().to("gpu").forward(cupy.asarray(x))
    assert isinstance(out, cupy.ndarray) and out.shape == (2, 4, 5, 5)
    np.testing.assert_allclose(backend.to_numpy(out), make().forward(x), rtol=1e-4, atol=1e-4)
