"""load_cifar10 on tiny batches written in the official python-pickle format."""
import io
import os
import pickle
import shlex
import tarfile

import numpy as np
import pytest

from minialex.data import load_cifar10, md5sum
from minialex.data import cifar10

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_batches(folder, per_batch=4, test_size=3):
    """Write cifar-10-batches-py files into folder; returns {file name: (data, labels)}.

    Pickle protocol 4, as make_cifar10_batches.py writes (the official files are protocol 2): protocol 5, the
    default from Python 3.14, stores arrays with another NumPy function, which the loader does not admit."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {}
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", test_size)]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels,
                         b"filenames": [b"x.png"] * n}, f, protocol=4)
        written[name] = (data, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CLASSES], b"num_vis": 3072}, f, protocol=4)
    return written


@pytest.fixture
def cifar_root(tmp_path):
    write_batches(tmp_path / "cifar-10-batches-py")
    return tmp_path


def test_loads_shapes_labels_and_planes(tmp_path):
    written = write_batches(tmp_path / "cifar-10-batches-py")
    train, test = load_cifar10(tmp_path)
    assert train.images.shape == (20, 3, 32, 32) and test.images.shape == (3, 3, 32, 32)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert train.classes == CLASSES and train.name == "cifar10-train"
    assert train.labels.tolist() == sum((written[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    data = written["data_batch_2"][0]
    image = train.images[4]  # first image of the second batch
    # each row is the red plane, then green, then blue, each 32 rows of 32
    assert np.array_equal(image[0].ravel(), data[0, :1024])
    assert np.array_equal(image[2, 1], data[0, 2048 + 32:2048 + 64])
    assert np.array_equal(test.images.reshape(3, -1), written["test_batch"][0])


def test_accepts_the_batches_folder_itself(cifar_root):
    train, _ = load_cifar10(cifar_root / "cifar-10-batches-py")
    assert len(train) == 20


def test_cache_dir_is_the_default(cifar_root, monkeypatch):
    monkeypatch.setenv("MINIALEX_DATA", str(cifar_root))
    assert len(load_cifar10()[1]) == 3


def test_missing_folder_explains_both_options(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path)
    message = str(info.value)
    for fragment in ["--download", cifar10.URL, "cifar-10-batches-py", "data_batch_1", str(tmp_path)]:
        assert fragment in message


def test_missing_batch_file_is_named(cifar_root):
    (cifar_root / "cifar-10-batches-py" / "data_batch_4").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_4 is missing"):
        load_cifar10(cifar_root)


def test_truncated_pickle_is_named(cifar_root):
    path = cifar_root / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ValueError, match="data_batch_3 is truncated or corrupt"):
        load_cifar10(cifar_root)


def test_foreign_pickle_is_named(cifar_root):
    with open(cifar_root / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(ValueError, match="test_batch is not a CIFAR-10 python batch"):
        load_cifar10(cifar_root)


def test_wrong_image_size_is_explained(cifar_root):
    with open(cifar_root / "cifar-10-batches-py" / "data_batch_1", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 28 * 28), np.uint8), b"labels": [0] * 4}, f)
    with pytest.raises(ValueError, match=r"data_batch_1 does not hold CIFAR-10 images.*\(N, 3072\)"):
        load_cifar10(cifar_root)


class RunsCode:
    """Unpickling this calls ``action(*args)``: how a hostile pickle runs code."""

    def __init__(self, action, *args):
        self.action, self.args = action, args

    def __reduce__(self):
        return self.action, self.args


@pytest.mark.parametrize("file_name, key", [("batches.meta", b"label_names"), ("data_batch_2", b"labels")])
@pytest.mark.parametrize("action", [os.system, open])
def test_a_hostile_pickle_is_refused_and_runs_nothing(cifar_root, tmp_path, file_name, key, action):
    marker = tmp_path / "marker"
    payload = RunsCode(action, f"touch {shlex.quote(str(marker))}") if action is os.system \
        else RunsCode(action, str(marker), "w")
    path = cifar_root / "cifar-10-batches-py" / file_name
    with open(path, "rb") as f:
        content = pickle.load(f)
    content[key] = payload
    with open(path, "wb") as f:
        pickle.dump(content, f, protocol=4)
    with pytest.raises(ValueError, match=rf"{file_name} asks to load \S*{action.__name__}, which a CIFAR-10 "
                                         r"batch never needs: refusing to unpickle it"):
        load_cifar10(cifar_root)
    assert not marker.exists()


def test_numpy_1_and_2_names_of_the_array_functions_are_admitted():
    """The official files were written with NumPy 1 (numpy.core); NumPy 2 writes numpy._core."""
    pytest.importorskip("numpy._core.multiarray")  # NumPy before 1.26 has no numpy._core
    unpickler = cifar10.BatchUnpickler(io.BytesIO(), "batch")
    assert unpickler.find_class("numpy.core.multiarray", "_reconstruct") is \
        unpickler.find_class("numpy._core.multiarray", "_reconstruct")
    assert unpickler.find_class("numpy", "ndarray") is np.ndarray
    with pytest.raises(ValueError, match="batch asks to load numpy.load"):
        unpickler.find_class("numpy", "load")


def make_archive(path, extra_member=None):
    """A .tar.gz laid out like the official one, optionally with one more (hostile) entry."""
    source = path.parent / "archive-source"
    write_batches(source / "cifar-10-batches-py")
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        if extra_member:
            info = tarfile.TarInfo(extra_member)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    return path


def test_download_extracts_the_archive(tmp_path, monkeypatch):
    archive = make_archive(tmp_path / "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar10, "URL", archive.as_uri())
    monkeypatch.setattr(cifar10, "MD5", md5sum(archive))
    data_dir = tmp_path / "data"
    train, test = load_cifar10(data_dir, download=True)
    assert len(train) == 20 and len(test) == 3
    assert sorted(p.name for p in data_dir.iterdir()) == ["cifar-10-batches-py"], "archive and scratch removed"


def test_download_refuses_an_archive_that_escapes_its_folder(tmp_path, monkeypatch):
    archive = make_archive(tmp_path / "cifar-10-python.tar.gz", extra_member="../escaped.txt")
    monkeypatch.setattr(cifar10, "URL", archive.as_uri())
    monkeypatch.setattr(cifar10, "MD5", md5sum(archive))
    data_dir = tmp_path / "data"
    with pytest.raises(ValueError, match="unexpected entry '../escaped.txt'"):
        load_cifar10(data_dir, download=True)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (data_dir / "cifar-10-batches-py").exists()
