"""download(): MD5-checked, atomic downloads, tried with file:// URLs."""
import hashlib
from pathlib import Path

import pytest

from minialex.data import default_cache_dir, download, md5sum


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "source" / "archive.bin"
    path.parent.mkdir()
    path.write_bytes(bytes(range(256)) * 1000)
    return path


def test_md5sum(source):
    assert md5sum(source) == hashlib.md5(source.read_bytes()).hexdigest()


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("MINIALEX_DATA")
    assert default_cache_dir() == Path.home() / ".cache" / "minialex"


def test_download_success(source, tmp_path):
    dest = tmp_path / "out" / "archive.bin"
    assert download(source.as_uri(), dest, md5sum(source)) == dest
    assert dest.read_bytes() == source.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["archive.bin"], "no temporary file is left"


def test_md5_mismatch_keeps_nothing(source, tmp_path):
    dest = tmp_path / "out" / "archive.bin"
    with pytest.raises(ValueError, match="MD5 mismatch.*expected 0123"):
        download(source.as_uri(), dest, "0123" * 8)
    assert list(dest.parent.iterdir()) == []


def test_unreachable_url_says_what_to_do(tmp_path):
    url = (tmp_path / "nowhere.bin").as_uri()
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(ConnectionError, match="offline") as info:
        download(url, dest, "0" * 32)
    assert url in str(info.value) and str(dest) in str(info.value)
    assert list(dest.parent.iterdir()) == []
