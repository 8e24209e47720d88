"""Graders for the lessons' exercises.

Each lesson has a module here (``lesson02.py`` ...) with ``check_*`` functions.
A check takes the learner's function, runs it on test cases, and compares the
result with the library (or with finite differences). The notebook calls
``grade(check, learner_function)``:

* the learner has not written it yet (it raises ``NotImplementedError``):
  "not done yet", and the notebook carries on;
* it is right: "passed";
* it is wrong: what went wrong, and the notebook still carries on.

Reference solutions live in ``lessons/solutions/``; the tests
(``tests/test_lessons.py``) prove that every solution
passes its check, that every unfilled
exercise reads "not done yet", and that typical wrong answers are caught.

Shared by the checks: ``windows.py`` (sliding windows, and gradients compared with
centred differences from ``minialex.gradcheck``) and ``watch.py`` (how a function
computes: no loops over pixels, no calls of the library's own layers). For the
lessons themselves, ``artifacts.py`` reads the committed results in ``results/``.
"""


class ExerciseFailed(AssertionError):
    """Raised by a check when the learner's answer is wrong."""


def grade(check, answer):
    """Run ``check(answer)`` and print (and return) "passed", "not done yet" or "failed: ..."."""
    try:
        check(answer)
    except NotImplementedError:
        verdict = "not done yet"
    except Exception as err:  # a learner's bug can raise anything; report it, don't crash the notebook
        verdict = f"failed: {type(err).__name__}: {err}"
    else:
        verdict = "passed"
    print(f"{check.__name__}: {verdict}")
    return verdict
