"""Nothing is lost on any signal, and every bad value gets a clear message (issue #15).

Signals are real (os.kill, or a child process killed with SIGINT, SIGTERM or
SIGKILL); a kill -9 at an exact point is a child that calls os._exit there,
which, like SIGKILL, runs no clean-up at all.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minialex import checkpoint, run_files, trainer as trainer_module
from minialex.train import build_parser, main
from minialex.run_files import CHECKPOINT, LOCK
from minialex.trainer import Trainer, TrainingDiverged, TrainingInterrupted

from test_trainer import assert_same, config, params, toy_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT, "MINIALEX_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
CLI_RUN = ["--subset", "300", "--batch-size", "16", "--no-progress"]  # the embedded sample: 19 batches an epoch


def quiet(message):
    pass


def strict_json(line):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(line, parse_constant=refuse)


def read_metrics(run_dir):
    lines = [strict_json(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]
    return [l for l in lines if l["kind"] == "epoch"], [l for l in lines if l["kind"] == "point"]


def assert_metrics_match_the_checkpoint(run_dir):
    """metrics.jsonl holds exactly the checkpoint's history and points: nothing lost, nothing twice."""
    saved = checkpoint.load(os.path.join(run_dir, CHECKPOINT))
    epochs, points = read_metrics(run_dir)
    assert [e["epoch"] for e in epochs] == [h["epoch"] for h in saved["history"]]
    assert [(p["epoch"], p["train_loss"]) for p in points] == [(p["epoch"], p["train_loss"]) for p in saved["points"]]
    assert all(a["epoch"] < b["epoch"] for a, b in zip(points, points[1:])), "points in order, none twice"
    return saved


def start_cli(*args):
    return subprocess.Popen([sys.executable, "-m", "minialex.train", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def wait_for(path, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.01)


# -- signals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("first, second, gap", [(signal.SIGINT, signal.SIGINT, 0.001),
                                                (signal.SIGINT, signal.SIGINT, 0.02),
                                                (signal.SIGTERM, signal.SIGINT, 0.005)])
def test_a_second_signal_is_ignored_until_the_checkpoint_is_saved(tmp_path, monkeypatch, first, second, gap):
    data = toy_data()
    straight = Trainer(config(), tmp_path / "straight", data=data, progress=False, log=quiet)
    straight.fit()

    messages = []
    cut = Trainer(config(), tmp_path / "cut", data=data, progress=False, log=messages.append)
    step, calls = cut.optimizer.step, []

    def step_with_two_signals(lr=None):  # the 7th update of the run: epoch 2, batch 2
        calls.append(1)
        if len(calls) == 7:
            os.kill(os.getpid(), first)
            time.sleep(gap)
            os.kill(os.getpid(), second)
        step(lr)

    save = checkpoint.save

    def save_with_a_third(path, state):  # and one more during the checkpoint's write
        if cut.signal_received:
            os.kill(os.getpid(), second)
        save(path, state)

    cut.optimizer.step = step_with_two_signals
    monkeypatch.setattr(checkpoint, "save", save_with_a_third)
    with pytest.raises(TrainingInterrupted) as stopped:
        cut.fit()
    monkeypatch.undo()
    assert stopped.value.signum == first
    assert sum("stopping after the current step" in m and "ignored" in m for m in messages) == 1
    assert any("epoch 2, batch 2" in m and "--resume" in m for m in messages)
    saved = assert_metrics_match_the_checkpoint(tmp_path / "cut")
    assert saved["epoch"] == 1 and saved["position"]["batch"] == 2  # 5 batches an epoch; stopped after the 2nd

    resumed = Trainer.resume(tmp_path / "cut", data=data, progress=False, log=quiet)
    resumed.fit()
    assert_same(params(straight), params(resumed))
    assert resumed.points == straight.points
    assert_metrics_match_the_checkpoint(tmp_path / "cut")


def test_the_command_line_survives_two_quick_ctrl_c_and_a_sigterm(tmp_path):
    out = tmp_path / "run"
    process = start_cli("--epochs", 40, "--out", out, *CLI_RUN)
    wait_for(out / "metrics.jsonl", process)  # the first epoch is done: training goes on
    process.send_signal(signal.SIGINT)
    time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "further Ctrl-C and SIGTERM are ignored" in stdout and "interrupted by Ctrl-C" in stdout
    first = assert_metrics_match_the_checkpoint(out)

    os.remove(out / "metrics.jsonl")  # rewritten when the resumed run starts training
    process = start_cli("--out", out, "--resume", "--no-progress")
    wait_for(out / "metrics.jsonl", process)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "interrupted by SIGTERM" in stdout and "Traceback" not in stderr
    second = assert_metrics_match_the_checkpoint(out)
    assert second["epoch"] >= first["epoch"] and len(second["points"]) >= len(first["points"])

    assert main(["--out", str(out), "--resume", "--epochs", str(second["epoch"] + 1), "--no-progress"]) == 0
    done = assert_metrics_match_the_checkpoint(out)
    assert done["epoch"] == second["epoch"] + 1 and done["position"] is None


def test_a_write_killed_midway_leaves_a_temporary_file_that_the_next_start_removes(tmp_path):
    run = tmp_path / "run"
    killed_save = ("import os, sys, numpy as np\nfrom minialex import checkpoint\n"
                   "os.replace = lambda *args: os._exit(9)  # killed after the write, before the rename\n"
                   "checkpoint.save(sys.argv[1], {'w': np.ones(3)})")
    assert subprocess.run([sys.executable, "-c", killed_save, str(run / CHECKPOINT)], env=ENV).returncode == 9
    assert len(list(run.glob(".checkpoint.npz.*.minialex-tmp"))) == 1 and not (run / CHECKPOINT).exists()
    messages = []
    Trainer(config(epochs=1), run, data=toy_data(), progress=False, log=messages.append).fit()
    assert not list(run.glob(".*.minialex-tmp"))
    assert any("removed 1 temporary file" in m for m in messages)


def test_a_kill_after_the_last_checkpoint_leaves_metrics_that_resume_rewrites(tmp_path, capsys):
    out = tmp_path / "run"
    killed_after_the_checkpoint = (
        "import os, sys\nfrom minialex import train, trainer\nwrite = trainer.Trainer.write_metrics\n"
        "trainer.Trainer.write_metrics = lambda self: os._exit(9) if self.epoch == 2 else write(self)\n"
        "sys.exit(train.main(sys.argv[1:]))")
    child = subprocess.run([sys.executable, "-c", killed_after_the_checkpoint, "--epochs", "2", "--out", str(out),
                            *CLI_RUN], env=ENV, capture_output=True, text=True)
    assert child.returncode == 9, child.stderr
    assert checkpoint.load(out / CHECKPOINT)["epoch"] == 2
    assert len(read_metrics(out)[0]) == 1, "metrics.jsonl is one epoch behind the checkpoint"
    old_curves = (out / "curves.png").read_bytes()

    assert main(["--out", str(out), "--resume", "--no-progress"]) == 0
    assert "done: 2 epochs" in capsys.readouterr().out
    assert len(assert_metrics_match_the_checkpoint(out)["history"]) == 2
    assert (out / "curves.png").read_bytes() != old_curves


def test_metrics_hold_null_where_a_value_is_nan_or_infinite(tmp_path):
    trainer = Trainer(config(epochs=1), tmp_path / "run", data=toy_data(), progress=False, log=quiet)
    trainer.fit()
    trainer.history[0].update(val_loss=float("nan"), images_per_s=float("inf"))
    trainer.points[0]["train_loss"] = float("-inf")
    trainer.write_metrics()
    epochs, points = read_metrics(tmp_path / "run")  # strict JSON: NaN or Infinity would fail here
    assert epochs[0]["val_loss"] is None and epochs[0]["images_per_s"] is None and points[0]["train_loss"] is None


# -- the lock ------------------------------------------------------------------------------------

HOLD_THE_LOCK = ("import sys, time\nfrom minialex.run_files import run_lock\nwith run_lock(sys.argv[1]):\n"
                 "    print('held', flush=True)\n    time.sleep(120)")


def no_data(*args, **kwargs):
    raise AssertionError("the data set was loaded")


def test_a_run_directory_in_use_is_refused_and_a_dead_holder_does_not_block(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(out)], stdout=subprocess.PIPE, text=True,
                              env=ENV)
    try:
        assert holder.stdout.readline() == "held\n"
        with monkeypatch.context() as m:
            m.setattr(trainer_module, "load_dataset", no_data)  # refused before any data is loaded
            assert main(["--out", str(out), "--no-progress"]) == 1
        err = capsys.readouterr().err
        assert "is in use" in err and f"pid {holder.pid}" in err and err.count("\n") == 1
        with pytest.raises(RuntimeError, match="is in use"):
            Trainer(config(epochs=1), out, data=toy_data(), progress=False, log=quiet).fit()
    finally:
        holder.kill()  # SIGKILL: the holder gets no chance to clean up
        holder.wait()
    assert (out / LOCK).exists()
    Trainer(config(epochs=1), out, data=toy_data(), progress=False, log=quiet).fit()
    assert (out / LOCK).read_text() == f"pid {os.getpid()}\n"


def test_without_fcntl_the_run_directory_is_not_locked_and_a_warning_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(run_files, "fcntl", None)
    messages = []
    Trainer(config(epochs=1), tmp_path / "run", data=toy_data(), progress=False, log=messages.append).fit()
    assert any("no fcntl.flock" in m and "not locked" in m for m in messages)


# -- resuming with options -------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_resume_applies_the_rate_and_schedule_options_and_refuses_the_others(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["--epochs", "1", "--out", out, *CLI_RUN]) == 0
    capsys.readouterr()
    assert main(["--out", out, "--resume", "--batch-size", "32", "--model", "alexnet", "--no-augment"]) == 1
    err = capsys.readouterr().err
    assert all(option in err for option in ("--batch-size", "--model", "--augment", "resumed run keeps its own"))
    assert main(["--out", out, "--eval-only", "--lr", "0.1"]) == 1
    assert "--eval-only evaluates the run as it was saved, so --lr cannot apply" in capsys.readouterr().err

    # The divergence message's command works: it continues from the checkpoint with the rate it gives.
    assert main(["--out", out, "--resume", "--epochs", "2", "--lr", "1e30", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "holds the run after epoch 1" in err
    suggested = re.search(r"python -m minialex.train --out (\S+) --resume --lr ([\d.e+-]*\d)", err)
    assert suggested.groups() == (out, "1e+29")
    assert main(["--out", out, "--resume", "--lr", "1e+29", "--epochs", "2", "--no-progress"]) == 1  # applied:
    assert "resuming with --lr 1e+29 (the run had 0.01)" in capsys.readouterr().out

    # The same value as the run's is no change; --lr, --patience, --max-drops and --epochs are applied and logged.
    assert main(["--out", out, "--resume", "--batch-size", "16", "--epochs", "2", "--lr", "0.005", "--patience", "1",
                 "--max-drops", "0", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "resuming with --lr 0.005 (the run had 0.01)" in printed and "resuming with --patience 1" in printed
    saved = checkpoint.load(os.path.join(out, CHECKPOINT))
    assert saved["history"][1]["lr"] == 0.005 and saved["config"]["lr"] == 0.005 and saved["config"]["epochs"] == 2
    assert saved["schedule"]["patience"] == 1 and saved["schedule"]["max_drops"] == 0


def test_resume_applies_new_milestones(tmp_path):
    data = toy_data()
    Trainer(config(epochs=1, schedule="step", milestones=(5,)), tmp_path / "run", data=data, progress=False,
            log=quiet).fit()
    messages = []
    resumed = Trainer.resume(tmp_path / "run", data=data, progress=False, log=messages.append, epochs=3,
                             milestones=(2,))
    resumed.fit()
    assert [h["lr"] for h in resumed.history] == [0.01, 0.01, 0.001]
    assert "resuming with --milestones (2,) (the run had (5,))" in messages


def test_a_checkpoint_that_does_not_match_the_config_json_is_refused(tmp_path):
    data = toy_data()
    Trainer(config(epochs=1), tmp_path / "run", data=data, progress=False, log=quiet).fit()
    path = tmp_path / "run" / "config.json"
    path.write_text(path.read_text().replace('"batch_size": 16', '"batch_size": 32'))
    with pytest.raises(ValueError, match=r"not the run of its config.json: they differ in --batch-size \(16 in the "
                                         r"checkpoint, 32 in config.json\)"):
        Trainer.resume(tmp_path / "run", data=data, progress=False, log=quiet)


# -- divergence ----------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_before_the_first_checkpoint_says_that_there_is_none(tmp_path):
    trainer = Trainer(config(lr=1e30), tmp_path / "run", data=toy_data(), progress=False, log=quiet)
    with pytest.raises(TrainingDiverged, match="No checkpoint was saved .* Start the run again with a lower rate, "
                                               "e.g. --lr 1e"):
        trainer.fit()
    assert not (tmp_path / "run" / CHECKPOINT).exists()


def test_a_loss_far_above_its_start_for_ten_batches_stops_the_run(tmp_path):
    trainer = Trainer(config(epochs=1, lr=1e-9, dropout=0.0, batch_size=4, points_per_epoch=9), tmp_path / "run",
                      data=toy_data(), progress=False, log=quiet)

    def blow_up_after_the_first_point(t, point):
        if len(t.points) == 1:
            t.model["fc"].params["b"][:] = [0, 0, 300, 0]  # confidently "c": a loss of about 225

    with pytest.raises(TrainingDiverged, match=r"above 10 x max\(its first recorded value 1\.\d\d, ln\(4\) = 1\.39\) "
                                               r"= 1\d\.\d for 10 batches .*epoch 1, batch 12"):
        trainer.fit(stop=blow_up_after_the_first_point)


def test_weights_that_become_infinite_stop_the_run_and_are_never_saved(tmp_path):
    data = toy_data()
    trainer = Trainer(config(epochs=1), tmp_path / "run", data=data, progress=False, log=quiet)
    trainer.fit()
    before = params(trainer)
    trainer = Trainer.resume(tmp_path / "run", data=data, epochs=2, progress=False, log=quiet)
    step = trainer.optimizer.step

    def step_to_infinity(lr=None):
        step(lr)
        trainer.model["fc"].params["W"][0, 0] = np.inf

    trainer.optimizer.step = step_to_infinity
    with pytest.raises(TrainingDiverged, match="weights became NaN or infinite in the update of epoch 2, batch 1.*"
                                               "holds the run after epoch 1"):
        trainer.fit()
    assert_same(before, params(Trainer.resume(tmp_path / "run", data=data, progress=False, log=quiet)))


def test_a_batch_too_large_for_memory_says_to_lower_the_batch_size(tmp_path):
    trainer = Trainer(config(epochs=1), tmp_path / "run", data=toy_data(), progress=False, log=quiet)

    def out_of_memory(x):
        raise MemoryError()

    trainer.model.forward = out_of_memory
    with pytest.raises(MemoryError, match="out of memory in the training step .* --batch-size 16: .* --batch-size 8"):
        trainer.fit()


# -- option values -------------------------------------------------------------------------------------

BAD_OPTIONS = [
    (["--lr", "0"], "--lr must be a finite number > 0, got 0.0"),
    (["--lr", "-1"], "--lr must be a finite number > 0"),
    (["--lr", "nan"], "--lr must be a finite number > 0, got nan"),
    (["--lr", "inf"], "--lr must be a finite number > 0, got inf"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--subset", "0"], "--subset must be a number of images >= 1"),
    (["--momentum", "1"], "--momentum must be in [0, 1)"),
    (["--momentum", "-0.1"], "--momentum must be in [0, 1)"),
    (["--weight-decay", "-1"], "--weight-decay must be a finite number >= 0"),
    (["--warmup", "-1"], "--warmup must be a finite number of epochs >= 0"),
    (["--crop", "0"], "--crop must be a size in pixels >= 1"),
    (["--crop", "8"], "--crop 8 is too small for figure1: the smallest input it accepts is 12x12"),
    (["--model", "alexnet", "--crop", "100"], "--crop 100 is too small for alexnet: the smallest input it accepts "
                                              "is 227x227"),
    (["--milestones", "0", "3"], "--milestones must be epoch numbers >= 1"),
    (["--patience", "0"], "--patience must be a number of epochs >= 1"),
    (["--max-drops", "-1"], "--max-drops must be >= 0"),
    (["--dropout", "1"], "--dropout must be a probability in [0, 1)"),
    (["--dropout", "-0.5"], "--dropout must be a probability in [0, 1)"),
    (["--ten-crop"], "--ten-crop is a test of a trained run: use it with --eval-only"),
    (["--data-dir", "somewhere"], "--data-dir is not for --dataset embedded"),
    (["--val-dir", "somewhere"], "--val-dir is not for --dataset embedded"),
]


@pytest.mark.parametrize("args, message", BAD_OPTIONS)
def test_a_bad_option_value_gets_one_line_before_any_work(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.setattr(trainer_module, "load_dataset", no_data)
    assert main([*args, "--out", str(tmp_path / "run"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "run").exists()


def test_an_out_that_is_a_file_or_not_writable_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(trainer_module, "load_dataset", no_data)
    (tmp_path / "file").write_text("")
    for out in (tmp_path / "file", tmp_path / "file" / "run"):
        assert main(["--out", str(out)]) == 1
        assert "is a file, not a folder; choose another --out" in capsys.readouterr().err
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as root, chmod would not stop the writes
    assert main(["--out", str(tmp_path / "run")]) == 1
    assert f"this user may not write in {tmp_path}" in capsys.readouterr().err


def test_the_trainer_checks_the_same_values_and_the_sizes_it_learns_from_the_data(tmp_path):
    data = toy_data()  # 12x12 images, 4 classes
    with pytest.raises(ValueError, match=r"--momentum must be in \[0, 1\), got 1.5"):
        Trainer(config(momentum=1.5), tmp_path / "run", data=data, progress=False, log=quiet)
    with pytest.raises(ValueError, match="--crop 20 is larger than the 12x12 images of toy-train"):
        Trainer(config(crop=20), tmp_path / "run", data=data, progress=False, log=quiet)
    with pytest.raises(ValueError, match=r"alexnet cannot take 12x12 inputs \(pool1's 3x3 window is larger than its "
                                         r"1x1 input\); the smallest input it accepts is 227x227"):
        Trainer(config(model="alexnet"), tmp_path / "run", data=data, progress=False, log=quiet)
    messages = []
    Trainer(config(subset=3), tmp_path / "run", data=data, progress=False, log=messages.append)
    assert any("warning: --subset 3 is smaller than the number of classes (4)" in m for m in messages)


# -- the command line ----------------------------------------------------------------------------------


def test_help_shows_every_default_once_and_cuda_means_gpu():
    parser = build_parser()
    for action in parser._actions:
        if "--help" not in action.option_strings:
            assert action.help.count("(default: ") == 1, action.option_strings
    text = parser.format_help()
    assert "None" not in text and "(default: 0.01)" in text and "(default: 128)" in text
    assert "the epochs after which lr is divided by 10" in text
    assert parser.parse_args(["--device", "cuda"]).device == "gpu"


def test_the_readme_lists_every_option():
    readme = open(os.path.join(ROOT, "README.md")).read()
    section = readme.split("## Training: `python -m minialex.train`")[1].split("\n## ")[0]
    for action in build_parser()._actions:
        flag = action.option_strings[-1]
        assert flag == "--help" or f"`{flag}" in section or f"/{flag}`" in section, flag


def test_kill_9_at_random_moments_then_resume_ends_exactly_as_an_uninterrupted_run(tmp_path):
    """SIGKILL at seeded random moments (inside a batch, a validation, a checkpoint write or between
    them: wherever the clock says), five times, each followed by --resume (or a fresh start while no
    checkpoint exists yet): the final weights and metrics equal an uninterrupted run's."""
    run_args = ["--epochs", "3", *CLI_RUN]

    def finish(out, *extra):  # in a child like the killed ones: the same thread count, the same sums
        child = start_cli("--out", out, *extra, *run_args)
        assert child.wait(timeout=300) == 0, child.communicate()

    straight = tmp_path / "straight"
    finish(straight)
    cut = tmp_path / "cut"
    delays = np.random.default_rng(2026).uniform(0.5, 3.0, size=5)  # the child needs about 1 s to import
    for delay in delays:
        resume = ["--resume"] if (cut / CHECKPOINT).exists() else []
        child = start_cli("--out", cut, *resume, *run_args)
        try:
            child.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            child.kill()
        child.communicate()
    finish(cut, *(["--resume"] if (cut / CHECKPOINT).exists() else []))
    final, reference = checkpoint.load(cut / CHECKPOINT), checkpoint.load(straight / CHECKPOINT)
    for name, weights in reference["model"]["params"].items():
        assert np.array_equal(final["model"]["params"][name], weights), name
    strip = lambda epochs: [{k: v for k, v in e.items() if k not in ("seconds", "images_per_s")} for e in epochs]
    (cut_epochs, cut_points), (straight_epochs, straight_points) = read_metrics(cut), read_metrics(straight)
    assert strip(cut_epochs) == strip(straight_epochs) and cut_points == straight_points
    assert_metrics_match_the_checkpoint(cut)
    assert not list(cut.glob(".*.tmp")), "no temporary file is left behind"
