"""Imagenette: the layout, readable class names, the checksummed download, and clear errors."""
import io
import tarfile

import numpy as np
import pytest
from PIL import Image

import minialex.data.imagenette as imagenette
from minialex.data import load_dataset

WNIDS = sorted(imagenette.CLASS_NAMES)


def write_imagenette(root, per_class=(2, 1), classes=WNIDS[:3]):
    for split, count in zip(("train", "val"), per_class):
        for k, wnid in enumerate(classes):
            (root / split / wnid).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                img = Image.new("RGB" if k else "L", (30 + i, 24), 40 * k)  # one class stored greyscale
                img.save(root / split / wnid / f"{wnid}_{i}.JPEG")


def test_extracted_copy_with_readable_class_names(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path / "cache"))
    write_imagenette(tmp_path / "imagenette-224")
    train, val = load_dataset("imagenette", tmp_path / "imagenette-224", log=None)
    assert train.classes == ["tench", "English springer", "cassette player"]
    assert (train.name, val.name) == ("imagenette-224-train", "imagenette-224-val")
    assert train.images.shape == (6, 3, 256, 256) and len(val) == 3
    assert np.array_equal(train.images[0, 0], train.images[0, 2]), "greyscale photos become RGB"


def test_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Imagenette not found .*--download.*imagenette2-320\.tgz.*MD5"):
        load_dataset("imagenette", tmp_path)


def test_foreign_folders_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path / "cache"))
    write_imagenette(tmp_path / "x", classes=["n01440764", "dogs"])
    with pytest.raises(ValueError, match="not Imagenette classes: dogs.*--dataset folder"):
        load_dataset("imagenette", tmp_path / "x", log=None)


def fake_archive(tmp_path):
    """The official archive's layout (imagenette2-320/train|val/WNID/*.JPEG) as a small .tgz."""
    write_imagenette(tmp_path / "src" / imagenette.FOLDER, per_class=(1, 1), classes=WNIDS[:2])
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(tmp_path / "src" / imagenette.FOLDER, arcname=imagenette.FOLDER)
    return buffer.getvalue()


def test_download_is_checked_extracted_and_then_reused(tmp_path, monkeypatch):
    payload = fake_archive(tmp_path)
    calls = []

    def fake_fetch(url, dest, md5):
        calls.append((url, md5))
        dest.write_bytes(payload)
        return dest

    monkeypatch.setattr(imagenette, "fetch", fake_fetch)
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path / "cache"))
    train, val = load_dataset("imagenette", tmp_path / "data", download=True, log=None)
    assert calls == [(imagenette.URL, imagenette.MD5)] and train.classes == ["tench", "English springer"]
    assert (tmp_path / "data" / imagenette.FOLDER / "val").is_dir()
    assert not (tmp_path / "data" / "imagenette2-320.tgz").exists(), "the archive is removed once extracted"
    load_dataset("imagenette", tmp_path / "data", download=True, log=None)
    assert len(calls) == 1, "an extracted copy is found, nothing is downloaded again"


def test_an_archive_with_foreign_paths_is_refused(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    monkeypatch.setattr(imagenette, "fetch", lambda url, dest, md5: dest.write_bytes(buffer.getvalue()))
    with pytest.raises(ValueError, match="unexpected entry '../evil.txt'"):
        load_dataset("imagenette", tmp_path / "data", download=True)
    assert not (tmp_path / "evil.txt").exists()
