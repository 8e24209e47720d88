"""Watching how a learner's function computes, not only what it returns.

A loop over every output pixel gives the same numbers as im2col and one matrix
product, so comparing results cannot tell them apart. ``watch`` runs the function
under a trace: it counts the Python lines run in the learner's own code (NumPy's,
minialex's and these graders' lines are not counted) and notes any call of the
functions it is told to refuse (the library's loop references, its layers).
"""
import contextlib
import os
import sys
from types import SimpleNamespace

import numpy

import minialex

from . import ExerciseFailed

_NOT_COUNTED = tuple(os.path.dirname(m.__file__) + os.sep for m in (numpy, minialex)) + (
    os.path.dirname(__file__) + os.sep,)


@contextlib.contextmanager
def watch(refused=()):
    """``with watch({code: name}) as seen:`` ... then ``seen.lines`` (Python lines run
    in the learner's code) and ``seen.refused`` (names of the refused functions called)."""
    seen = SimpleNamespace(lines=0, refused=[])

    def count_lines(frame, event, arg):
        if event == "line":
            seen.lines += 1
        return count_lines

    def on_call(frame, event, arg):
        if frame.f_code in refused:
            seen.refused.append(refused[frame.f_code])
        return None if frame.f_code.co_filename.startswith(_NOT_COUNTED) else count_lines

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield seen
    finally:
        sys.settrace(previous)


def run_watched(fn, args, refused, what, max_lines=None):
    """fn(*args), refusing calls of ``refused`` ({function: its name}) and, if ``max_lines``
    is given, more Python lines than that (a loop over pixels); -> its result."""
    with watch({f.__code__: name for f, name in refused.items()}) as seen:
        result = fn(*args)
    if seen.refused:
        raise ExerciseFailed(f"{what} calls {seen.refused[0]}: write it with your own functions")
    if max_lines is not None and seen.lines > max_lines:
        raise ExerciseFailed(f"{what} ran {seen.lines} lines of Python on a case with {max_lines} output "
                             "positions: that is a loop over pixels. Loop over the kernel offsets only, and let "
                             "whole-array operations and one matrix product do the rest")
    return result
