"""The course that ``lessons/`` teaches: the graders, the learner's package template, its data.

As CS231n's students fill in ``layers.py``, the learner fills in a package of their own,
``mynet`` (``template/mynet/``: every function a stub that names its exercise), lesson by
lesson; the notebooks import it and grade what is in it. Each notebook starts with::

    import minialex.course as course
    mynet = course.setup()

which copies the template to ``./mynet`` the first time (never over the learner's work) and
makes ``import mynet`` find it. Everything here ships with ``pip install minialex``, so a
lesson runs in the repository, in any folder, or on a hosted notebook service.

Each lesson has a module of checks (``lesson02.py`` ...). ``grade(check, function)``
runs one on the learner's function and prints (and returns):

* "not done yet": the function still raises ``NotImplementedError``, and the notebook carries on;
* "passed";
* "failed: ...": what went wrong, and the notebook still carries on.

Every check runs the learner's function under ``watch`` (``watch.py``): a call into
minialex's own code is refused, so no exercise can be answered by calling the library.
``windows.py`` holds what the window checks share (overlap counts, gradients compared
with centred differences).

``MINIALEX_MYNET=DIR`` makes ``setup`` load ``DIR/mynet`` instead: the tests and CI point it at
the reference solutions (``lessons/solutions/mynet`` in the repository, not shipped).
"""
import importlib
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "template" / "mynet"
CIFAR10_SAMPLE = HERE / "data" / "cifar10-sample"  # 20 CIFAR-10 test images, 2 a class (data/README.md)
SOLUTIONS_VARIABLE = "MINIALEX_MYNET"


class ExerciseFailed(AssertionError):
    """Raised by a check when the learner's answer is wrong."""


def grade(check, answer):
    """Run ``check`` on ``answer`` (refusing calls into minialex) and print (and return)
    "passed", "not done yet" or "failed: ..."."""
    from .watch import refusing_library
    try:
        check(refusing_library(answer))
    except NotImplementedError:
        verdict = "not done yet"
    except Exception as err:  # a learner's bug can raise anything; report it, don't crash the notebook
        verdict = f"failed: {type(err).__name__}: {err}"
    else:
        verdict = "passed"
    print(f"{check.__name__}: {verdict}")
    return verdict


def __getattr__(name):
    """``course.lesson02`` ... : a lesson's checks, imported when first asked for."""
    if name.startswith("lesson") and name[6:].isdigit():
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def setup(folder="."):
    """Make ``import mynet`` load the learner's package and return it.

    With ``$MINIALEX_MYNET`` set, ``$MINIALEX_MYNET/mynet`` (the reference solutions, for CI);
    otherwise ``folder/mynet``, copied from the template first if it is not there. In IPython it
    also switches on ``autoreload``, so an edit to ``mynet/*.py`` is seen by the next cell."""
    chosen = os.environ.get(SOLUTIONS_VARIABLE)
    root = Path(chosen if chosen else folder).resolve()
    if not chosen and not (root / "mynet").exists():
        shutil.copytree(TEMPLATE, root / "mynet", ignore=shutil.ignore_patterns("__pycache__"))
        print(f"created {_shown(root / 'mynet')}: the package you will fill in, exercise by exercise")
    if not (root / "mynet" / "__init__.py").is_file():
        raise FileNotFoundError(f"{root / 'mynet'} is not a package (no __init__.py)")
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    for name in [m for m in sys.modules if m == "mynet" or m.startswith("mynet.")]:
        del sys.modules[name]  # another folder's mynet loaded earlier in this process
    _autoreload()
    mynet = importlib.import_module("mynet")
    print(f"mynet: {_shown(Path(mynet.__file__).parent)}")
    return mynet


def _shown(path):
    """``path`` relative to the current folder where it lies below it (what a notebook's output keeps)."""
    try:
        return Path(".") / path.relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _autoreload():
    try:
        ipython = get_ipython()  # noqa: F821 (defined inside IPython only)
    except NameError:
        return
    ipython.run_line_magic("load_ext", "autoreload")
    ipython.run_line_magic("autoreload", "2")
