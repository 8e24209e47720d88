"""files.atomic_write: the destination is the old file or the new one, never half of one; open_regular: no FIFO
or device is read."""
import errno
import os

import pytest

from minialex.files import NotARegularFile, atomic_write, open_regular


def test_the_new_file_replaces_the_old_one_when_the_block_ends(tmp_path):
    path = tmp_path / "deep" / "metrics.jsonl"
    with atomic_write(path) as f:
        f.write(b"first")
        assert not path.exists(), "nothing at the destination while writing"
    with atomic_write(path) as f:
        f.write(b"second")
        assert path.read_bytes() == b"first"
    assert path.read_bytes() == b"second"
    assert [p.name for p in path.parent.iterdir()] == ["metrics.jsonl"], "no temporary file left"


def test_an_error_in_the_block_keeps_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "archive.bin"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match="checksum"):
        with atomic_write(path) as f:
            f.write(b"half of a new fi")
            raise ValueError("checksum mismatch")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["archive.bin"]


def test_a_full_disk_says_that_the_previous_file_is_intact(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(b"old")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError) as full:
        with atomic_write(path) as f:
            f.write(b"new")
    assert full.value.errno == errno.ENOSPC
    assert f"no space left on the disk to write {path}; the previous checkpoint.npz, if there was one, is intact" \
        in str(full.value) and "--resume" in str(full.value)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]


def test_only_regular_files_are_opened(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    for path, kind in [(tmp_path / "fifo", "a FIFO"), ("/dev/zero", "a device"), (tmp_path, "a folder")]:
        with pytest.raises(NotARegularFile, match=f"config file {path} is {kind}"):
            open_regular(path, "config file")
    (tmp_path / "file").write_bytes(b"text")
    with open_regular(tmp_path / "file") as f:
        assert f.read() == b"text"
