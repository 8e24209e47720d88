"""Issue 27: nothing of the user's is touched, memory is bounded by the work, every bad file gets one line.

Each case is crafted here, tiny on disk. The cases where a file claims a large size run in a child
process under an address-space limit (``run_limited``), so a regression fails the test instead of
taking the machine's memory.
"""
import gzip
import io
import os
import pickle
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from minialex import checkpoint
from minialex.data import load_dataset, load_image_folder
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


@pytest.mark.parametrize("delay", [0.4, 0.7, 1.0])
def test_ctrl_c_while_the_modules_import_is_one_line_and_exit_130(tmp_path, delay):
    child = start_cli("--out", tmp_path / "run", "--no-progress")
    time.sleep(delay)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 130, (child.returncode, stderr)
    assert "Traceback" not in stderr and stderr.strip().count("\n") == 0, stderr
    # Still importing or loading: one line says that nothing was done or saved; training: the run saved and says so.
    assert "interrupted" in stderr and "nothing was" in stderr or "Ctrl-C: stopping" in stdout, (stdout, stderr)


# -- 2. memory bounded by the work, not by what a file claims ----------------------------------------

LIMIT = 1536 << 20  # bytes of address space for a child: a regression fails instead of taking the machine


def run_limited(args, env=None, timeout=120):
    """``python ARGS`` in a child whose address space is limited to LIMIT; (returncode, stderr)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
    child = subprocess.run([sys.executable, *map(str, args)], preexec_fn=limit, capture_output=True, text=True,
                           env={**ENV, **(env or {})}, timeout=timeout)
    return child.returncode, child.stderr


def cli_limited(*args, env=None):
    """The training command under the memory limit: its exit code and its one line of error."""
    code, err = run_limited(["-m", "minialex.train", "--no-progress", *args], env)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    return code, (lines[0] if len(lines) == 1 else err)


def image_tree(root, extra=()):
    """root/{a,b}/ with two small images each, plus ``extra`` [(relative path, PIL image or bytes)]."""
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            Image.new("RGB", (40, 30), (60 * i, 90, 200)).save(root / cls / f"{i}.png")
    for relative, content in extra:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            content.save(path)
    return root


@pytest.mark.parametrize("width", [12000, 60000])
def test_an_image_far_wider_than_high_is_refused_from_its_header(tmp_path, width):
    root = image_tree(tmp_path / "photos", [("a/wide.png", Image.new("L", (width, 1)))])
    code, err = cli_limited("--dataset", "folder", "--data-dir", root, "--out", tmp_path / "run",
                            env={"MINIALEX_DATA": str(tmp_path / "cache")})
    assert code == 1 and "wide.png" in err and f"{width}x1 pixels" in err and "1 image(s)" in err, err


def npz_with_member(path, name, content, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "a", compression) as archive:
        archive.writestr(name, content)


def claim_size(path, member, size):
    """Rewrite the uncompressed size that ``path``'s zip declares for ``member`` (local and central headers)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            if data[start + name_at:start + name_at + len(name)] == name:
                struct.pack_into("<I", data, start + size_at, size)
            start += 4
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A finished one-epoch run of the toy data: its directory and its state."""
    run = tmp_path_factory.mktemp("saved") / "run"
    trainer_module.Trainer(config(epochs=1), run, data=toy_data(), progress=False, log=lambda m: None).fit()
    return run, checkpoint.load(run / CHECKPOINT)


def copy_run(saved_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(saved_run[0], run)
    return run


def test_a_checkpoint_member_claiming_more_than_the_file_is_refused_before_reading(saved_run, tmp_path):
    run = copy_run(saved_run, tmp_path)
    npz_with_member(run / CHECKPOINT, "extra.npy", np.lib.format.MAGIC_PREFIX + bytes(200 << 20))  # 200 MB of zeros
    assert (run / CHECKPOINT).stat().st_size < 2 << 20
    code, err = cli_limited("--out", run, "--resume")
    assert code == 1 and "claim" in err and "checkpoint" in err and str(run) in err, err
    claim_size(run / CHECKPOINT, "extra.npy", 0xFFFFFFF0)  # 4 GiB, as a zip header can say
    code, err = cli_limited("--out", run, "--resume")
    assert code == 1 and "claim" in err, err


def test_an_npy_header_claiming_a_huge_array_is_refused_before_allocating(saved_run, tmp_path):
    run = copy_run(saved_run, tmp_path)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (1 << 40,)})
    npz_with_member(run / CHECKPOINT, "huge.npy", header.getvalue() + bytes(64), zipfile.ZIP_STORED)
    code, err = cli_limited("--out", run, "--resume")
    assert code == 1 and "huge.npy claims a (1099511627776,) float64 array" in err, err


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "folder"])
@pytest.mark.parametrize("name", [CHECKPOINT, "config.json"])
def test_a_checkpoint_or_config_that_is_not_a_regular_file_is_refused_without_blocking(saved_run, tmp_path, name,
                                                                                        kind):
    run = copy_run(saved_run, tmp_path)
    (run / name).unlink()
    if kind == "fifo":
        os.mkfifo(run / name)
    elif kind == "folder":
        (run / name).mkdir()
    else:
        (run / name).symlink_to("/dev/zero")
    code, err = cli_limited("--out", run, "--resume")  # run's timeout: a read that blocks fails the test
    assert code == 1 and str(run / name) in err, err
    assert {"fifo": "FIFO", "/dev/zero": "a device", "folder": "folder"}[kind] in err, err


def write_idx(path, shape, body=b""):
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(struct.pack(f">I{len(shape)}I", 0x0800 | len(shape), *shape) + body)


def fashion_mnist_folder(folder, n=5):
    folder.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", (n, 28, 28), bytes(n * 784))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", (n,), bytes(n))
    return folder


@pytest.mark.parametrize("shape, body, message", [  # body: how many bytes follow the header
    ((4_000_000, 28, 28), 0, "claims 4,000,000 items, more than the 1,000,000"),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), 0, "holds 4294967295x4294967295 images, expected 28x28"),
    ((999_999, 28, 28), 1000, "its header promises (999999, 28, 28) = 783999216 values but it holds 1000"),
    ((5, 28, 28), 200 << 20, "its header promises (5, 28, 28) = 3920 values but it holds more"),
])
def test_an_idx_file_is_read_no_further_than_its_header_allows(tmp_path, shape, body, message):
    folder = fashion_mnist_folder(tmp_path / "fm")
    write_idx(folder / "train-images-idx3-ubyte.gz", shape, bytes(body))
    code, err = cli_limited("--dataset", "fashion-mnist", "--data-dir", folder, "--out", tmp_path / "run")
    assert code == 1 and "train-images-idx3-ubyte.gz" in err and message in err, err


def cifar_folder(folder, batch=None, meta=None):
    """cifar-10-batches-py with tiny batches; ``batch``/``meta``: bytes that replace data_batch_1/batches.meta."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        content = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
        (folder / name).write_bytes(pickle.dumps(content, protocol=4))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]}, protocol=4))
    if batch is not None:
        (folder / "data_batch_1").write_bytes(batch)
    if meta is not None:
        (folder / "batches.meta").write_bytes(meta)
    return folder


def nested_list(depth):
    """A list that np.asarray would expand to 2**depth items, a few hundred bytes as a pickle (the memo)."""
    x = [0] * 4
    for _ in range(depth):
        x = [x, x]
    return x


ZEROS = np.zeros((4, 3072), np.uint8)
# (which file, what it holds: made in the test, so that pytest never prints a list of 2**40 items, message)
CIFAR_CASES = {
    "memo-bomb": ("batch", lambda: {b"data": nested_list(40), b"labels": nested_list(40)},
                  "expected uint8 data of shape (N, 3072)"),
    "a-million-names": ("meta", lambda: {b"label_names": [b"x"] * 1_000_000}, "more than 200,000 pickle instructions"),
    "int-names": ("meta", lambda: {b"label_names": 7}, "expected a list of 2 to 1000 names, got a int"),
    "str-names": ("meta", lambda: {b"label_names": "airplane"}, "expected a list of 2 to 1000 names, got a str"),
    "integer-names": ("meta", lambda: {b"label_names": list(range(10))}, "expected a list of 2 to 1000 names"),
    "int-labels": ("batch", lambda: {b"data": ZEROS, b"labels": 3}, "and a list of N labels, got"),
    "huge-label": ("batch", lambda: {b"data": ZEROS, b"labels": [0, 1, 10 ** 30, 2]}, "holds the label 1000000"),
    "label-1.5": ("batch", lambda: {b"data": ZEROS, b"labels": [0, 1.5, 2, 3]}, "holds the label 1.5, not a class"),
    "label-10": ("batch", lambda: {b"data": ZEROS, b"labels": [0, 1, 2, 10]}, "holds the label 10, not a class"),
}


@pytest.mark.parametrize("case", CIFAR_CASES)
def test_a_cifar_file_gets_one_line_within_the_memory_limit(tmp_path, case):
    which, content, message = CIFAR_CASES[case]
    crafted = pickle.dumps(content(), protocol=4)
    assert len(crafted) < 3 << 20
    folder = cifar_folder(tmp_path / "cifar-10-batches-py", **{which: crafted})
    code, err = cli_limited("--dataset", "cifar10", "--data-dir", folder, "--out", tmp_path / "run")
    assert code == 1 and {"batch": "data_batch_1", "meta": "batches.meta"}[which] in err and message in err, err


def test_a_crop_larger_than_the_images_is_refused_before_the_network_is_built(tmp_path):
    code, err = cli_limited("--crop", "12000", "--out", tmp_path / "run")
    assert code == 1 and "--crop 12000 is larger than the 28x28 images" in err, err


# -- 3. checkpoints with a valid checksum and a structure minialex never writes --------------------------


def set_in(state, path, value):
    """state with the entry at ``path`` (keys) set to ``value``, or removed where value is DELETE."""
    *parents, last = path
    for key in parents:
        state = state[key]
    if value is DELETE:
        del state[last]
    else:
        state[last] = value


DELETE = object()
NAN_WEIGHTS = object()
STRUCTURE_CASES = {  # (where, the value put there, what the message says)
    "int-velocity": (("optimizer", "velocity"), 3, "optimizer['velocity'] must be a dict of arrays"),
    "string-epoch": (("epoch",), "1", "'epoch' must be a whole number from 0 to the run's 1 epochs, not '1'"),
    "schedule-step": (("schedule",), {"step": 1}, "'schedule' lacks"),
    "history-numbers": (("history",), [1, 2, 3], "'history' must be a list of records"),
    "unknown-option": (("config", "colour"), "red", "options this minialex does not know: colour"),
    "batch-size-text": (("config", "batch_size"), "128", "the option batch_size must be a whole number, not '128'"),
    "batch-size-2.5": (("config", "batch_size"), 2.5, "the option batch_size must be a whole number, not 2.5"),
    "lr-text": (("config", "lr"), "0.01", "the option lr must be a number, not '0.01'"),
    "integer-classes": (("classes",), [0, 1, 2, 3], "'classes' must be a list of 1 to 100,000 names"),
    "no-optimizer": (("optimizer",), DELETE, "it has no 'optimizer'"),
    "no-config": (("config",), DELETE, "it has no 'config'"),
    "no-momentum": (("optimizer", "momentum"), DELETE, "'optimizer' lacks 'momentum'"),
    "epoch-inf": (("epoch",), float("inf"), "'epoch' must be a whole number"),
    "nan-weights": (("model", "params"), NAN_WEIGHTS, "holds NaN or infinite values: the file is damaged"),
    "velocity-shape": (("optimizer", "velocity", "conv1.W"), np.zeros(3), "must be a float array of the shape"),
    "negative-lr": (("config", "lr"), -1.0, "--lr must be a finite number > 0"),
    "position": (("position",), {"batch": "x"}, "'position' is not where an epoch stopped"),
    "rng": (("model", "rng"), [{"bit_generator": "MT19937"}], "is not a random generator's state"),
    "mean-nan": (("mean",), np.full((3, 12, 12), np.nan, np.float32), "'mean' must be a finite float image"),
    "crop-too-big": (("crop",), 99, "'crop' must be a whole number of pixels within the 12x12 mean image"),
}


@pytest.mark.parametrize("case", STRUCTURE_CASES)
def test_a_checkpoint_of_another_structure_gets_one_line_naming_it(saved_run, tmp_path, capsys, case):
    where, value, message = STRUCTURE_CASES[case]
    run = copy_run(saved_run, tmp_path)
    state = checkpoint.load(run / CHECKPOINT)
    if value is NAN_WEIGHTS:
        value = {**state["model"]["params"], "conv1.W": np.full_like(state["model"]["params"]["conv1.W"], np.nan)}
    set_in(state, where, value)
    checkpoint.save(run / CHECKPOINT, state)  # a valid checksum over the crafted structure
    with pytest.raises(ValueError) as refused:
        trainer_module.Trainer.resume(run, data=toy_data(), progress=False, log=lambda m: None)
    text = str(refused.value)
    assert "\n" not in text and str(run / CHECKPOINT) in text and message in text, text


@pytest.mark.parametrize("content, message", [
    ('"model"', "it holds a JSON str, not an object of options"),
    ("{not json", "Expecting property name"),
    ("\xff\xfe", "codec can't decode"),
])
def test_a_config_json_that_is_not_a_run_s_gets_one_line_naming_it(saved_run, tmp_path, capsys, content, message):
    run = copy_run(saved_run, tmp_path)
    (run / "config.json").write_bytes(content.encode("latin-1"))
    with pytest.raises(ValueError) as refused:
        trainer_module.Trainer.resume(run, data=toy_data(), progress=False, log=lambda m: None)
    text = str(refused.value)
    assert "\n" not in text and f"{run / 'config.json'} is not a minialex config.json" in text and message in text


@pytest.mark.parametrize("args, message", [
    (["--warmup", "1e308"], "--warmup 1e+308 is longer than the run (--epochs 10)"),
    (["--seed", "-1"], "--seed must be a whole number >= 0, got -1"),
    (["--weight-decay", "1e308"], "--weight-decay must be a finite number >= 0 and below 1"),
])
def test_option_values_that_overflow_later_are_refused_at_once(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.setattr(trainer_module, "load_dataset", no_data)
    assert main([*args, "--out", str(tmp_path / "run"), "--no-progress"]) == 1
    one_line_error(capsys, message)
    assert not (tmp_path / "run").exists()


# -- 4. data as users have it (issue 28, item 4) -------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "val"])
def test_a_root_with_one_split_is_one_tree_and_the_split_is_no_class(tmp_path, split):
    image_tree(tmp_path / "root" / split)
    train, test = load_dataset("folder", tmp_path / "root", log=None, progress=False)
    assert train.classes == ["a", "b"] and len(train) + len(test) == 4


def test_every_undecodable_image_is_listed_in_one_pass_or_skipped_with_a_count(tmp_path, capsys):
    root = image_tree(tmp_path / "photos", [("a/bad1.jpg", b"not a jpeg"), ("b/bad2.png", b"\x89PNG\r\n\x1a\n"),
                                             ("b/bad3.webp", b"RIFF....WEBP")])
    cache = tmp_path / "cache"
    with pytest.raises(ValueError) as refused:
        load_image_folder(root, size=16, cache_dir=cache, log=None, progress=False)
    text = str(refused.value)
    assert text.startswith(f"3 image(s) in {root} cannot be decoded: a/bad1.jpg (") and "\n" not in text
    assert "b/bad2.png" in text and "b/bad3.webp" in text and "--skip-bad-images" in text
    messages = []
    kept = load_image_folder(root, size=16, cache_dir=cache, log=messages.append, progress=False, skip_bad=True)
    assert len(kept) == 4 and kept.labels.tolist() == [0, 0, 1, 1]
    assert any(m.startswith("warning: left out 3 image(s)") for m in messages)
    again = load_image_folder(root, size=16, cache_dir=cache, log=messages.append, progress=False, skip_bad=True)
    assert np.array_equal(again.images, kept.images) and messages[-1].startswith("read 4 decoded images")
    with pytest.raises(ValueError, match="3 image"):  # the cache of a skipping run does not hide them later
        load_image_folder(root, size=16, cache_dir=cache, log=None, progress=False)


def test_webp_and_other_formats_pillow_reads_are_read_and_small_images_get_a_warning(tmp_path):
    root = image_tree(tmp_path / "photos", [("a/c.webp", Image.new("RGB", (40, 40), (255, 0, 0))),
                                             ("b/c.bmp", Image.new("RGB", (50, 40))),
                                             ("b/tiny.gif", Image.new("P", (1, 1)))])
    messages = []
    ds = load_image_folder(root, size=24, cache_dir=tmp_path / "cache", log=messages.append, progress=False)
    assert len(ds) == 7 and ds.images[2, 0].mean() > 200  # a/c.webp, red
    warning = [m for m in messages if "enlarged" in m]
    assert warning == [f"warning: 1 image(s) of {root} have a shorter side below 24 pixels (the smallest: "
                       "b/tiny.gif, 1x1); they were enlarged to 24x24, which blurs them"]


def test_an_undecodable_file_name_is_named_with_its_folder(tmp_path):
    root = image_tree(tmp_path / "photos")
    os.rename(root / "a" / "0.png", os.path.join(os.fsencode(root / "a"), b"caf\xe9.png"))
    with pytest.raises(ValueError) as refused:
        load_image_folder(root, size=16, cache_dir=tmp_path / "cache", log=None, progress=False)
    assert str(refused.value) == f"{root / 'a'} holds a file or folder whose name is not UTF-8 text: " \
                                 "'caf\ufffd.png'; rename it"


def test_no_progress_silences_the_decoding_bars(tmp_path):
    root = image_tree(tmp_path / "photos", [(f"{c}/more{i}.png", Image.new("RGB", (20, 20))) for c in "ab"
                                            for i in range(8)])
    code, err = run_limited(["-m", "minialex.train", "--dataset", "folder", "--data-dir", root, "--crop", "16",
                             "--epochs", "1", "--no-progress", "--out", tmp_path / "run"],
                            env={"MINIALEX_DATA": str(tmp_path / "cache")})
    assert code == 0 and err == "", err


def test_nan_weights_are_refused_when_a_run_is_used_not_only_when_it_resumes(saved_run, tmp_path):
    from minialex.saved_model import load_model
    run = copy_run(saved_run, tmp_path)
    state = checkpoint.load(run / CHECKPOINT)
    state["model"]["params"]["fc.W"] = np.full_like(state["model"]["params"]["fc.W"], np.inf)
    checkpoint.save(run / CHECKPOINT, state)
    (run / "model.npz").unlink(missing_ok=True)
    with pytest.raises(ValueError, match="model params 'fc.W' holds NaN or infinite values: the file is damaged"):
        load_model(run)
