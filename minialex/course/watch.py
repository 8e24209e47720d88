"""Watching how a learner's function computes, not only what it returns.

Two things the result cannot show. A function that calls the library's own layer
(``minialex.functional.maxpool2d_backward``, ``MaxPool2d.backward``, ``SGD.step``...)
returns the right numbers without the learner having written anything; and a loop
over every output pixel gives the same numbers as im2col and one matrix product.
``watch`` runs the function under a trace: it notes every call into minialex's own
code (all of the installed package except this course folder and the device helpers of
``minialex.backend``), and counts the Python
lines run in the learner's own code (NumPy's, minialex's and these graders' lines are
not counted).

``grade`` wraps every learner function in ``refusing_library``, so every exercise
refuses the library; ``run_watched`` adds the line limit where a check needs it.
"""
import contextlib
import functools
import os
import sys
from types import SimpleNamespace

import numpy

import minialex

from . import ExerciseFailed

_COURSE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_LIBRARY = os.path.dirname(os.path.abspath(minialex.__file__)) + os.sep
_NOT_COUNTED = (os.path.dirname(os.path.abspath(numpy.__file__)) + os.sep, _LIBRARY)
# what an exercise may call: the device helpers (get_array_module, to_device), which lesson 10 teaches to use
_ALLOWED = (os.path.join(_LIBRARY, "backend.py"),)


def _library_name(code):
    """'minialex.functional.pooling.maxpool2d_backward' for a function of minialex's own code, else None."""
    path = os.path.abspath(code.co_filename)
    if not path.startswith(_LIBRARY) or path.startswith(_COURSE) or path in _ALLOWED:
        return None
    module = os.path.splitext(path[len(_LIBRARY):])[0].replace(os.sep, ".").removesuffix(".__init__")
    return f"minialex.{module}.{getattr(code, 'co_qualname', code.co_name)}"


@contextlib.contextmanager
def watch():
    """``with watch() as seen:`` ... then ``seen.lines`` (Python lines run in the learner's
    code) and ``seen.refused`` (the minialex functions it called, by name)."""
    seen = SimpleNamespace(lines=0, refused=[])

    def count_lines(frame, event, arg):
        if event == "line":
            seen.lines += 1
        return count_lines

    def on_call(frame, event, arg):
        name = _library_name(frame.f_code)
        if name is not None:
            seen.refused.append(name)
            return None
        return None if frame.f_code.co_filename.startswith(_NOT_COUNTED) else count_lines

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield seen
    finally:
        sys.settrace(previous)


def run_watched(fn, args, what, max_lines=None):
    """fn(*args), refusing calls into minialex and, if ``max_lines`` is given, more Python
    lines than that (a loop over pixels); -> its result."""
    fn = getattr(fn, "learners", fn)
    with watch() as seen:
        result = fn(*args)
    if seen.refused:
        raise ExerciseFailed(f"{what} calls {seen.refused[0]}, the library's own code: write it with your own "
                             "functions (and NumPy)")
    if max_lines is not None and seen.lines > max_lines:
        raise ExerciseFailed(f"{what} ran {seen.lines} lines of Python on a case with {max_lines} output "
                             "positions: that is a loop over pixels. Loop over the kernel offsets only, and let "
                             "whole-array operations and one matrix product do the rest")
    return result


def refusing_library(fn):
    """``fn`` as the checks call it: each call watched, a call into minialex refused.
    (``.learners`` is the function itself, for ``run_watched``.) A module (``mynet.network``) is
    passed as it is: the capstone's checks watch each call they make into it."""
    if not callable(fn):
        return fn
    what = getattr(fn, "__qualname__", repr(fn))

    @functools.wraps(fn)
    def watched(*args, **kwargs):
        return run_watched(lambda: fn(*args, **kwargs), (), what)
    watched.learners = fn
    return watched
