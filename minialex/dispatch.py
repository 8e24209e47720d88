"""Which implementation computes each operation: the one place that decides.

``minialex.functional`` holds every operation once, as the maths reads: the
definition, on NumPy and CuPy alike. ``minialex.fast`` holds faster ways to
compute the same numbers, with the same signatures:

    operation   CPU                                      GPU (CuPy)
    conv2d      cpu-rows (stride 1) or cpu-im2col        gpu-im2col: CUDA im2col/col2im
    maxpool2d   the windows in place, a chunk at a time  a CUDA kernel per pass
    avgpool2d   the windows in place, a chunk at a time  the reference
    lrn         the formula in place, a chunk at a time  a CUDA kernel per pass
    linear      blocks of W on every core                the reference (one cuBLAS product)
    dropout_mask  the reference (NumPy draws it)         a CUDA kernel draws it

(dropout_mask has a forward only: the mask, from which dropout follows.)

A layer asks ``choose(op, x)`` on every forward pass, runs the forward of
what it gets and keeps its backward for the backward pass (the two share a
cache only they understand), as Chainer picks forward_cpu or forward_gpu.
Layers never ask which device they are on.

``set_path("reference")`` (or ``MINIALEX_PATH=reference``, read once, at the
first ``choose``) makes every operation run its definition: to read along in a
debugger, or to compare and time the fast paths against it.
"""
import os
from collections import namedtuple

import numpy as np

from . import functional as F
from .backend import get_array_module
from .fast import cuda_kernels
from .fast import conv as fast_conv
from .fast import linear as fast_linear
from .fast import lrn as fast_lrn
from .fast import pooling as fast_pooling

Implementation = namedtuple("Implementation", "name forward backward")

PATHS = ("fast", "reference")
# Below this many values per kernel row (kw*C/groups), the rows path's products
# are too thin to pay (the Figure-1 net's conv1: 5*3 = 15).
ROW_DEPTH_MIN = 64
KERNEL_DTYPES = cuda_kernels.C_TYPES  # the types the CUDA kernels are compiled for


REFERENCE = {
    "conv2d": Implementation("reference", F.conv2d_forward, F.conv2d_backward),
    "maxpool2d": Implementation("reference", F.maxpool2d_forward, F.maxpool2d_backward),
    "avgpool2d": Implementation("reference", F.avgpool2d_forward, F.avgpool2d_backward),
    "lrn": Implementation("reference", F.lrn_forward, F.lrn_backward),
    "linear": Implementation("reference", F.linear_forward, F.linear_backward),
    "dropout_mask": Implementation("reference", F.dropout_mask, None),
}
CPU = {
    "conv2d": Implementation("cpu-im2col", fast_conv.im2col_forward, fast_conv.im2col_backward),
    "conv2d-rows": Implementation("cpu-rows", fast_conv.rows_forward, fast_conv.rows_backward),
    "maxpool2d": Implementation("cpu-chunks", fast_pooling.maxpool2d_forward, fast_pooling.maxpool2d_backward),
    "avgpool2d": Implementation("cpu-chunks", fast_pooling.avgpool2d_forward, fast_pooling.avgpool2d_backward),
    "lrn": Implementation("cpu-chunks", fast_lrn.lrn_forward, fast_lrn.lrn_backward),
    "linear": Implementation("cpu-blocks", fast_linear.linear_forward, fast_linear.linear_backward),
}
GPU = {
    "conv2d": Implementation("gpu-im2col", fast_conv.gpu_forward, fast_conv.im2col_backward),
    "maxpool2d": Implementation("gpu-kernel", cuda_kernels.maxpool2d_forward, cuda_kernels.maxpool2d_backward),
    "lrn": Implementation("gpu-kernel", cuda_kernels.lrn_forward, cuda_kernels.lrn_backward),
    "dropout_mask": Implementation("gpu-kernel", cuda_kernels.dropout_mask, None),
}


def _path_from_environment():
    path = os.environ.get("MINIALEX_PATH", "fast").strip().lower() or "fast"
    if path not in PATHS:
        raise ValueError(f"MINIALEX_PATH must be one of {PATHS}, got {path!r}")
    return path


_path = None  # read from MINIALEX_PATH on first use, so that a bad value is the command's one-line error, not the import's


def path():
    """"fast" or "reference": what ``choose`` picks from."""
    global _path
    if _path is None:
        _path = _path_from_environment()
    return _path


def set_path(new):
    """Run every operation on its fast path ("fast") or its definition ("reference") from now on.
    Returns the old setting, so that ``old = set_path("reference"); ...; set_path(old)`` restores it."""
    global _path
    if new not in PATHS:
        raise ValueError(f"set_path: the path must be one of {PATHS}, got {new!r}")
    old, _path = path(), new
    return old


def on_gpu(x):
    """True for a CuPy array, which the CUDA kernels take (the tests also make
    it true for NumPy arrays, to run the kernels compiled for the CPU)."""
    return cuda_kernels.takes(x)


def choose(op, x, W=None, stride=1, padding=0):
    """The Implementation of ``op`` for input ``x``; for conv2d also its
    weights W (F, C/groups, kh, kw), stride and padding, which decide
    between the CPU's two ways of building the columns."""
    if path() == "reference":
        return REFERENCE[op]
    if on_gpu(x):
        return GPU.get(op, REFERENCE[op]) if x.dtype in KERNEL_DTYPES else REFERENCE[op]
    if get_array_module(x) is not np:  # another array module (lesson 10's stand-in for CuPy): the definitions
        return REFERENCE[op]
    if op == "conv2d" and _rows_pay(W, stride, padding):
        return CPU["conv2d-rows"]
    return CPU.get(op, REFERENCE[op])


def _rows_pay(W, stride, padding):
    """The rows path (fast/conv.py) needs stride 1 and padding below the kernel
    size (dx's padding k-1-p cannot be negative), and pays once a kernel row
    holds enough values (kw*C/groups) for a matrix product of its own."""
    kh, kw = W.shape[2:]
    return stride == 1 and padding < min(kh, kw) and kw * W.shape[1] >= ROW_DEPTH_MIN
