"""Issue 27: nothing of the user's is touched, memory is bounded by the work, every bad file gets one line.

Each case is crafted here, tiny on disk. The cases where a file claims a large size run in a child
process under an address-space limit (``run_limited``), so a regression fails the test instead of
taking the machine's memory.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from minialex.run_files import CHECKPOINT, LOCK
from minialex.train import main
from minialex import trainer as trainer_module

from test_trainer import config, toy_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT, "MINIALEX_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
FAST = ["--subset", "40", "--batch-size", "20", "--epochs", "1", "--no-progress"]


def no_data(*args, **kwargs):
    raise AssertionError("the data set was loaded")


def one_line_error(capsys, *fragments):
    """The command's stderr: exactly one line, starting with "error: ", holding every fragment."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


# -- 1. nothing of the user's is touched -----------------------------------------------------------

SLOW_LOADING = ("import sys, time\nfrom minialex import train, trainer\n"
                "def slow(*args, **kwargs):\n    print('loading', flush=True)\n    time.sleep(120)\n"
                "trainer.load_dataset = slow\nsys.exit(train.main(sys.argv[1:]))")


def test_a_second_run_into_the_same_new_folder_is_refused_while_the_first_loads_its_data(tmp_path, capsys,
                                                                                          monkeypatch):
    out = tmp_path / "new" / "run"
    first = subprocess.Popen([sys.executable, "-c", SLOW_LOADING, "--out", str(out), "--no-progress"],
                             stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert first.stdout.readline() == "loading\n"
        monkeypatch.setattr(trainer_module, "load_dataset", no_data)
        assert main(["--out", str(out), "--no-progress"]) == 1
        one_line_error(capsys, "is in use", f"pid {first.pid}")
    finally:
        first.kill()
        first.wait()


def test_only_minialex_temporary_files_are_removed_never_the_users(tmp_path):
    run = tmp_path / "run"
    trainer_module.Trainer(config(epochs=1), run, data=toy_data(), progress=False, log=print).fit()
    users = [run / ".notes.tmp", run / ".thesis.tex.tmp", run / "notes.minialex-tmp"]
    for path in users:
        path.write_text("mine")
    ours = run / ".metrics.jsonl.123.minialex-tmp"
    ours.write_text("half")
    messages = []
    trainer_module.Trainer(config(epochs=1), run, data=toy_data(), progress=False, log=messages.append).fit()
    assert all(path.read_text() == "mine" for path in users)
    assert not ours.exists() and any("removed 1 temporary file" in m for m in messages)


@pytest.mark.parametrize("where", ["root", "home", "a folder of other files"])
def test_a_folder_that_is_not_a_run_is_refused_and_left_as_it_was(tmp_path, capsys, monkeypatch, where):
    monkeypatch.setattr(trainer_module, "load_dataset", no_data)
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / ".thesis.tex.tmp").write_text("mine")
    (folder / "config.json").write_text("{}")
    if where == "home":
        monkeypatch.setenv("HOME", str(folder))
    out = {"root": "/", "home": str(folder), "a folder of other files": str(folder)}[where]
    assert main(["--out", out, "--no-progress"]) == 1
    fragment = {"root": "is the root folder", "home": "is your home folder",
                "a folder of other files": "holds 2 other file(s) (.thesis.tex.tmp, config.json) and no minialex run"}
    one_line_error(capsys, fragment[where])
    assert sorted(p.name for p in folder.iterdir()) == [".thesis.tex.tmp", "config.json"]
    assert (folder / "config.json").read_text() == "{}"


def test_a_run_lock_that_is_a_symbolic_link_is_not_followed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(trainer_module, "load_dataset", no_data)
    precious = tmp_path / "precious.txt"
    precious.write_text("do not truncate me")
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK).symlink_to(precious)
    assert main(["--out", str(run), "--no-progress"]) == 1
    one_line_error(capsys, f"{LOCK} is a symbolic link", "remove it")
    assert precious.read_text() == "do not truncate me"
    (run / LOCK).unlink()
    (run / LOCK).symlink_to(tmp_path / "missing")  # a dangling link: O_CREAT must not make its target
    assert main(["--out", str(run), "--no-progress"]) == 1
    one_line_error(capsys, "symbolic link")
    assert not (tmp_path / "missing").exists()


# -- 3. the environment and Ctrl-C at start ------------------------------------------------------------


def start_cli(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "minialex.train", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**ENV, **(env or {})})


@pytest.mark.parametrize("variable, value, message", [
    ("MINIALEX_THREADS", "abc", "MINIALEX_THREADS must be a whole number of threads from 1 to 4096; got 'abc'"),
    ("MINIALEX_THREADS", "0", "MINIALEX_THREADS must be a whole number"),
    ("MINIALEX_THREADS", "-1", "MINIALEX_THREADS must be a whole number"),
    ("MINIALEX_THREADS", "\u00b2", "MINIALEX_THREADS must be a whole number"),
    ("MINIALEX_PATH", "evil", "MINIALEX_PATH must be one of"),
])
def test_a_bad_environment_variable_is_one_line_before_any_work(tmp_path, variable, value, message):
    out = tmp_path / "run"
    child = start_cli("--out", out, "--no-progress", env={variable: value})
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 1 and stderr == f"error: {message}" + stderr.split(message, 1)[1], stderr
    assert stderr.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("delay", [0.15, 0.3, 0.5, 0.8])
def test_ctrl_c_while_the_modules_import_is_one_line_and_exit_130(tmp_path, delay):
    child = start_cli("--out", tmp_path / "run", "--no-progress")
    time.sleep(delay)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 130, (child.returncode, stderr)
    assert "Traceback" not in stderr and stderr.strip().count("\n") == 0, stderr
    assert "interrupted" in stderr and "nothing was" in stderr
