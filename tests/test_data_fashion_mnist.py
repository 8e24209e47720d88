"""load_fashion_mnist on tiny gzip-compressed IDX files."""
import gzip
import struct

import numpy as np
import pytest

from minialex.data import fashion_mnist, load_fashion_mnist, md5sum


def write_idx(path, array, magic=None):
    """Write a uint8 array as a gzip-compressed IDX file (magic defaults to the right one)."""
    magic = magic if magic is not None else 0x0800 | array.ndim
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_fashion_mnist(folder, n_train=12, n_test=5):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for prefix, n in [("train", n_train), ("t10k", n_test)]:
        arrays[prefix] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", arrays[prefix][0])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", arrays[prefix][1])
    return arrays


@pytest.fixture
def folder(tmp_path):
    write_fashion_mnist(tmp_path)
    return tmp_path


def test_loads_shapes_labels_and_classes(tmp_path):
    arrays = write_fashion_mnist(tmp_path)
    train, test = load_fashion_mnist(tmp_path)
    assert train.images.shape == (12, 1, 28, 28) and test.images.shape == (5, 1, 28, 28)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert np.array_equal(train.images[:, 0], arrays["train"][0])
    assert np.array_equal(test.labels, arrays["t10k"][1])
    assert train.classes[0] == "T-shirt/top" and train.classes[-1] == "Ankle boot" and len(train.classes) == 10
    train.images[0, 0, 0, 0] = 1  # the arrays are ordinary writable arrays


def test_accepts_a_parent_folder(tmp_path):
    write_fashion_mnist(tmp_path / "fashion-mnist")
    assert len(load_fashion_mnist(tmp_path)[0]) == 12


def test_missing_files_explain_both_options(tmp_path):
    write_fashion_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(tmp_path)
    message = str(info.value)
    for fragment in ["missing t10k-labels-idx1-ubyte.gz", "--download", fashion_mnist.URL, str(tmp_path)]:
        assert fragment in message
    assert "train-images" not in message


def test_bad_magic_number(folder):
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(12, np.uint8), magic=0x0803)
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz is not an IDX file.*bad magic"):
        load_fashion_mnist(folder)


def test_truncated_gzip(folder):
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz is truncated or corrupt"):
        load_fashion_mnist(folder)


def test_header_that_promises_more_than_the_file_holds(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">4I", 0x0803, 12, 28, 28) + bytes(11 * 28 * 28))
    with pytest.raises(ValueError, match=r"truncated or corrupt: its header promises \(12, 28, 28\)"):
        load_fashion_mnist(folder)


def test_wrong_image_size(folder):
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((12, 32, 32), np.uint8))
    with pytest.raises(ValueError, match="holds 32x32 images, expected 28x28"):
        load_fashion_mnist(folder)


def test_label_count_mismatch(folder):
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))
    with pytest.raises(ValueError, match="12 images but 11 labels"):
        load_fashion_mnist(folder)


def test_download_fetches_missing_files_and_checks_md5(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    write_fashion_mnist(mirror)
    monkeypatch.setattr(fashion_mnist, "URL", mirror.as_uri() + "/")
    monkeypatch.setattr(fashion_mnist, "FILES", {name: md5sum(mirror / name) for name in fashion_mnist.FILES})
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path / "cache"))
    train, test = load_fashion_mnist(download=True)
    assert len(train) == 12 and len(test) == 5
    assert sorted(p.name for p in (tmp_path / "cache" / "fashion-mnist").iterdir()) == sorted(fashion_mnist.FILES)
