"""Checks for lesson 10, the same code on a GPU: code that works with either array module.

On a machine without a GPU we cannot hand a function a CuPy array, so this
module makes a stand-in (``pretend_gpu``): arrays of a NumPy subclass that
NumPy's own functions refuse (``np.argsort(a)`` raises, as it would for a
CuPy array), and a fake ``cupy`` whose ``get_array_module`` returns NumPy
under another name. Code that follows the library's rule,
``xp = get_array_module(x)`` and then only ``xp.*`` functions and array
methods, runs unchanged on the stand-in; code that calls ``np.*`` on its
input fails, as it would on a real GPU, and so does code that turns a device
array into a NumPy array implicitly (``np.asarray(x)``), which CuPy refuses.
"""
import contextlib
import threading
import types

import numpy as np

import minialex.backend as backend

from . import ExerciseFailed

_state = threading.local()
# NumPy's conversion functions do not dispatch to __array_function__, and for an ndarray
# subclass they never call __array__: within pretend_gpu they are replaced by ones that refuse
# DeviceArrays (as CuPy arrays refuse np.asarray); these are the originals.
_CONVERSIONS = {name: getattr(np, name) for name in ("array", "asarray", "asanyarray", "ascontiguousarray",
                                                     "asfortranarray")}


def _inside():
    return getattr(_state, "depth", 0) > 0


class DeviceArray(np.ndarray):
    """A NumPy array that NumPy's functions refuse to touch, as they refuse CuPy arrays.
    Operators (+, *, ==, ...), ufuncs called through ``xp`` and array methods work."""

    def __array_function__(self, func, types_, args, kwargs):
        if not _inside():
            raise TypeError(f"np.{func.__name__}() was called on a (pretend) GPU array; on a real GPU "
                            "NumPy cannot read device memory. Use xp = get_array_module(x) and "
                            f"xp.{func.__name__}(...) instead")
        return super().__array_function__(func, types_, args, kwargs)


class _ArrayModule(types.ModuleType):
    """NumPy under another name ("xp"): every function it hands out runs with
    DeviceArrays allowed and returns DeviceArrays (the arrays a GPU module makes
    live on the GPU); every name asked for is recorded in ``used``."""

    def __init__(self, target=np, prefix="xp", used=None):
        super().__init__(prefix)
        self._target, self._prefix = target, prefix
        self.used = set() if used is None else used

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(self._target, name)
        full = f"{self._prefix}.{name}"
        if isinstance(value, types.ModuleType):
            return _ArrayModule(value, full, self.used)
        if callable(value) and not isinstance(value, type):
            def call(*args, **kwargs):
                self.used.add(full)
                _state.depth = getattr(_state, "depth", 0) + 1
                try:
                    out = value(*args, **kwargs)
                finally:
                    _state.depth -= 1
                return _on_device(out)
            return call
        self.used.add(full)
        return value


def _on_device(out):
    """What an array module returns lives on its device: NumPy arrays become DeviceArrays."""
    if isinstance(out, np.ndarray) and not isinstance(out, DeviceArray):
        return out.view(DeviceArray)
    if isinstance(out, tuple):
        return tuple(_on_device(o) for o in out)
    return out


class _FakeCupy:
    """Just enough of the ``cupy`` module for minialex.backend to route arrays to ``xp``."""
    ndarray = DeviceArray

    def __init__(self, xp):
        self.xp = xp

    def get_array_module(self, *arrays):
        return self.xp if any(isinstance(a, DeviceArray) for a in arrays) else np

    @staticmethod
    def asnumpy(a):
        return a.view(np.ndarray).copy()


def _refusing(name, convert):
    """np.<name> that refuses a DeviceArray outside ``xp``, as CuPy arrays refuse implicit conversion."""
    def conversion(a, *args, **kwargs):
        if isinstance(a, DeviceArray) and not _inside():
            raise TypeError(f"np.{name}() was given a (pretend) GPU array: implicit conversion to a NumPy "
                            "array is not allowed (CuPy raises this TypeError too). Keep the work on the "
                            "device with xp = get_array_module(x)")
        return convert(a, *args, **kwargs)
    return conversion


@contextlib.contextmanager
def pretend_gpu():
    """Within ``with pretend_gpu() as xp:``, ``minialex.backend.get_array_module``
    returns ``xp`` (NumPy in disguise) for ``DeviceArray`` inputs, and NumPy's
    conversion functions (np.asarray, ...) refuse them. ``xp.used`` lists the
    array-module functions called; ``to_device(a)`` / ``to_host(a)`` convert."""
    xp = _ArrayModule()
    saved = backend.cupy
    backend.cupy = _FakeCupy(xp)
    for name, convert in _CONVERSIONS.items():
        setattr(np, name, _refusing(name, convert))
    try:
        yield xp
    finally:
        backend.cupy = saved
        for name, convert in _CONVERSIONS.items():
            setattr(np, name, convert)


def to_device(a):
    """A DeviceArray copy of a NumPy array."""
    return _CONVERSIONS["array"](a, copy=True).view(DeviceArray)


def to_host(a):
    """A plain NumPy array from a DeviceArray (or anything array-like)."""
    return a.view(np.ndarray) if isinstance(a, np.ndarray) else _CONVERSIONS["asarray"](a)


def _reference_top_k_error(logits, labels, k):
    top = np.argsort(-logits, axis=1)[:, :k]
    return float((top != labels[:, None]).all(axis=1).mean())


def check_top_k_error(my_top_k_error):
    """my_top_k_error(logits (N, K), labels (N,), k) -> a Python float: the fraction of rows whose
    label is NOT among the k largest logits; must work on NumPy and CuPy arrays alike."""
    rng = np.random.default_rng(10)
    cases = []
    for n, classes, k in [(50, 10, 1), (50, 10, 5), (200, 1000, 5), (7, 3, 3)]:
        logits = rng.standard_normal((n, classes))
        labels = rng.integers(0, classes, size=n)
        labels[: n // 3] = logits[: n // 3].argmax(axis=1)  # some right answers, so errors are not all 1
        cases.append((logits, labels, k))
    for logits, labels, k in cases:  # NumPy arrays
        want = _reference_top_k_error(logits, labels, k)
        got = my_top_k_error(logits.copy(), labels.copy(), k)
        if not isinstance(got, float):
            raise ExerciseFailed(f"return a Python float (e.g. float(...)), got {type(got).__name__}")
        if abs(got - (1 - want)) < 1e-12 and abs(want - 0.5) > 1e-9:
            raise ExerciseFailed("that is the top-k ACCURACY; the error is 1 minus it")
        if abs(got - want) > 1e-12:
            raise ExerciseFailed(f"N={len(labels)}, K={logits.shape[1]}, k={k}: expected {want:.4f}, got {got:.4f}")
    for logits, labels, k in cases:  # the stand-in for CuPy arrays
        with pretend_gpu():
            try:
                got = my_top_k_error(to_device(logits), to_device(labels), k)
            except TypeError as err:
                if "pretend" in str(err):
                    raise ExerciseFailed(str(err)) from None
                raise
        got = float(to_host(got))
        if abs(got - _reference_top_k_error(logits, labels, k)) > 1e-12:
            raise ExerciseFailed("right on NumPy arrays, wrong on the stand-in for CuPy arrays")
    if backend.gpu_available():  # and on a real GPU where there is one
        cp = backend.cupy
        for logits, labels, k in cases:
            got = my_top_k_error(cp.asarray(logits), cp.asarray(labels), k)
            if not isinstance(got, float) or abs(got - _reference_top_k_error(logits, labels, k)) > 1e-12:
                raise ExerciseFailed(f"wrong on CuPy arrays: got {got!r}")
