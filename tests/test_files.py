"""files.atomic_write: the destination is the old file or the new one, never half of one."""
import pytest

from minialex.files import atomic_write


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
