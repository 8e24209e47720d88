"""Imagenette: the layout, readable class names, the checksummed download, and clear errors."""
import io
import tarfile

import numpy as np
import pytest
from PIL import Image

import minialex.data.imagenette as imagenette
from minialex.data import load_dataset, md5sum

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


def serve(tmp_path, monkeypatch, payload):
    """Put the archive bytes at a file:// URL and point the loader at it, with its MD5."""
    archive = tmp_path / "served" / "imagenette2-320.tgz"
    archive.parent.mkdir()
    archive.write_bytes(payload)
    monkeypatch.setattr(imagenette, "URL", archive.as_uri())
    monkeypatch.setattr(imagenette, "MD5", md5sum(archive))
    return archive


def test_download_is_checked_extracted_and_then_reused(tmp_path, monkeypatch):
    served = serve(tmp_path, monkeypatch, fake_archive(tmp_path))
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path / "cache"))
    train, val = load_dataset("imagenette", tmp_path / "data", download=True, log=None)
    assert train.classes == ["tench", "English springer"]
    assert (tmp_path / "data" / imagenette.FOLDER / "val").is_dir()
    assert not (tmp_path / "data" / "imagenette2-320.tgz").exists(), "the archive is removed once extracted"
    served.unlink()
    load_dataset("imagenette", tmp_path / "data", download=True, log=None)  # found, not fetched again


def test_a_corrupted_download_is_refused(tmp_path, monkeypatch):
    serve(tmp_path, monkeypatch, fake_archive(tmp_path))
    monkeypatch.setattr(imagenette, "MD5", "0" * 32)
    with pytest.raises(ValueError, match="MD5 mismatch"):
        load_dataset("imagenette", tmp_path / "data", download=True)
    assert not list((tmp_path / "data").glob("*.tgz*")), "nothing half-downloaded is kept"


def test_an_archive_with_foreign_paths_is_refused(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    serve(tmp_path, monkeypatch, buffer.getvalue())
    with pytest.raises(ValueError, match="unexpected entry '../evil.txt'.*official Imagenette archive"):
        load_dataset("imagenette", tmp_path / "data", download=True)
    assert not (tmp_path / "evil.txt").exists()
