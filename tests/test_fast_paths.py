"""Every fast path against its definition, at AlexNet's real shapes.

minialex.dispatch lists, per operation, the reference (minialex.functional)
and the faster implementations with the same signatures. Each one here runs
forward and backward on the shapes of AlexNet's own layers, in float64, and
must give the reference's numbers to round-off. The CPU paths run on three
threads with chunks far smaller than usual, whatever the machine's cores, so
that every batch is cut into several chunks shared by the threads. The GPU
paths run as the CUDA kernels compiled for the CPU (conftest's
``kernels_on_cpu``), or on a GPU where there is one.
"""
import numpy as np
import pytest

from minialex import dispatch
from minialex.backend import to_numpy
from minialex.fast import chunks
from minialex.fast import conv as fast_conv

RNG = np.random.default_rng(0)


def conv_case(x_shape, f, k, stride, padding, groups):
    x = RNG.standard_normal(x_shape)
    W = RNG.standard_normal((f, x_shape[1] // groups, k, k)) * 0.1
    return (x, W, RNG.standard_normal(f), stride, padding, groups), (True,)


# op -> {case name: (forward arguments, extra backward arguments)}; batches of 2-3 images
CASES = {
    "conv2d": {
        "conv1 11x11/4 on 227": conv_case((2, 3, 227, 227), 96, 11, 4, 0, 1),
        "conv2 5x5 grouped on 27": conv_case((2, 96, 27, 27), 256, 5, 1, 2, 2),
        "conv3 3x3 on 13": conv_case((3, 256, 13, 13), 384, 3, 1, 1, 1),
        "conv4 3x3 grouped on 13": conv_case((2, 384, 13, 13), 384, 3, 1, 1, 2),
    },
    "maxpool2d": {
        "pool1 3x3/2 on 55": ((RNG.standard_normal((3, 96, 55, 55)), 3, 2, 0, False), ()),
        "pool5 3x3/2 on 13, ceil": ((RNG.standard_normal((2, 256, 13, 13)), 3, 2, 0, True), ()),
        "ties": ((RNG.integers(0, 3, (2, 8, 27, 27)).astype(float), 3, 2, 0, False), ()),
        "3x3/2 padded on 32, ceil": ((RNG.standard_normal((3, 32, 32, 32)), 3, 2, 1, True), ()),
    },
    "avgpool2d": {
        "3x3/2 padded on 27, ceil": ((RNG.standard_normal((2, 64, 27, 27)), 3, 2, 1, True), ()),
        "3x3/2 on 32, ceil (Figure-1 net)": ((RNG.standard_normal((3, 32, 32, 32)), 3, 2, 0, True), ()),
        "3x3/2 on 13": ((RNG.standard_normal((2, 16, 13, 13)), 3, 2, 0, False), ()),
    },
    "lrn": {
        "lrn1 on 96x55x55, two groups": ((RNG.standard_normal((2, 96, 55, 55)), 5, 1e-4, 0.75, 2.0, 2), ()),
        "large alpha on 256x27x27": ((RNG.standard_normal((2, 256, 27, 27)), 5, 1.0, 0.75, 2.0, 1), ()),
        "beta 0.6": ((RNG.standard_normal((2, 32, 9, 9)), 3, 0.5, 0.6, 1.0, 1), ()),
    },
    "linear": {"fc7 4096x4096": ((RNG.standard_normal((3, 4096)), RNG.standard_normal((4096, 4096)) * 0.01,
                                  RNG.standard_normal(4096)), ())},
}


def applies(impl, args):
    """The rows convolution is for stride 1 and padding below the kernel size only (see dispatch._rows_pay)."""
    if impl.name != "cpu-rows":
        return True
    _, W, _, stride, padding, _ = args
    return stride == 1 and padding < min(W.shape[2:])


CPU_PAIRS = [(op, case, impl) for op in CASES for case in CASES[op] for key, impl in dispatch.CPU.items()
             if key.split("-")[0] == op and applies(impl, CASES[op][case][0])]
GPU_PAIRS = [(op, case, dispatch.GPU[op]) for op in CASES if op in dispatch.GPU for case in CASES[op]]


@pytest.fixture
def three_threads(monkeypatch):
    old = chunks.set_threads(3)
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 1 << 16)
    monkeypatch.setattr(fast_conv, "COLUMN_BYTES", 1 << 18)
    monkeypatch.setattr(fast_conv, "GPU_COLUMN_BYTES", 1 << 18)
    yield
    chunks.set_threads(old)


def _as_tuple(a):
    return a if isinstance(a, tuple) else (a,)


def run(impl, args, backward_args, dout_seed=1, move=np.asarray):
    args = [move(a) if isinstance(a, np.ndarray) else a for a in args]
    out, cache = impl.forward(*args)
    dout = np.random.default_rng(dout_seed).standard_normal(out.shape)
    grads = _as_tuple(impl.backward(move(dout), cache, *backward_args))
    return to_numpy(out), [to_numpy(g) for g in grads]


def compare(got, want):
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-10)
    assert len(got[1]) == len(want[1])
    for g, w in zip(got[1], want[1]):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("op, case, impl", CPU_PAIRS, ids=[f"{op}-{case}-{impl.name}" for op, case, impl in CPU_PAIRS])
def test_cpu_fast_path_equals_the_reference(three_threads, op, case, impl):
    args, backward_args = CASES[op][case]
    compare(run(impl, args, backward_args), run(dispatch.REFERENCE[op], args, backward_args))


@pytest.mark.parametrize("op, case, impl", GPU_PAIRS, ids=[f"{op}-{case}-{impl.name}" for op, case, impl in GPU_PAIRS])
def test_gpu_fast_path_equals_the_reference(kernel_device, three_threads, op, case, impl):
    args, backward_args = CASES[op][case]
    compare(run(impl, args, backward_args, move=kernel_device), run(dispatch.REFERENCE[op], args, backward_args))


@pytest.mark.parametrize("impl", [dispatch.CPU["conv2d"], dispatch.CPU["conv2d-rows"]], ids=["im2col", "rows"])
def test_first_layer_skips_only_the_input_gradient(three_threads, impl):
    args, _ = CASES["conv2d"]["conv2 5x5 grouped on 27"]
    out, cache = impl.forward(*args)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    dx, dW, db = impl.backward(dout, cache, False)
    _, want_dW, want_db = dispatch.REFERENCE["conv2d"].backward(dout, dispatch.REFERENCE["conv2d"].forward(*args)[1])
    assert dx is None
    np.testing.assert_allclose(dW, want_dW, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, want_db, rtol=1e-10, atol=1e-10)


def test_every_operation_has_a_reference_and_a_case():
    """A fast path registered without a reference to be tested against, or left out of CASES, fails here."""
    fast_ops = {key.split("-")[0] for key in dispatch.CPU} | set(dispatch.GPU)
    assert fast_ops <= set(dispatch.REFERENCE)
    assert fast_ops - {"dropout_mask"} <= set(CASES)  # dropout's GPU mask: tests/test_cuda_kernels.py


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_set_path_chooses_for_every_layer(path, monkeypatch):
    monkeypatch.setattr(dispatch, "_path", "fast")
    x = np.zeros((1, 64, 9, 9), np.float32)
    W = np.zeros((8, 64, 5, 5), np.float32)
    old = dispatch.set_path(path)
    try:
        names = [dispatch.choose("conv2d", x, W, 1, 2).name, dispatch.choose("lrn", x).name]
    finally:
        dispatch.set_path(old)
    assert names == (["cpu-rows", "cpu-chunks"] if path == "fast" else ["reference", "reference"])
    with pytest.raises(ValueError, match="one of"):
        dispatch.set_path("quick")


def test_the_definitions_import_none_of_the_machinery():
    """Data flows one way: minialex.functional (and the layers' maths) loads without the fast paths,
    the CUDA kernels or the dispatcher."""
    import subprocess
    import sys
    code = ("import sys, minialex.functional, minialex.functional.naive; "
            "print(sorted(m for m in sys.modules if m.startswith('minialex.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "minialex.functional.conv" in loaded
    assert "minialex.fast" not in loaded and "minialex.dispatch" not in loaded and "minialex.layers" not in loaded
