"""read_at_most: the whole file up to the cap, whatever size the file system reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.files import FileTooLargeError, read_at_most


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097])
def test_a_file_at_or_under_the_cap_is_read_whole(tmp_path: Path, size: int) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(bytes(range(256)) * (size // 256) + bytes(size % 256))
    assert read_at_most(str(path), 4097) == path.read_bytes()


def test_a_file_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * 4098)
    with pytest.raises(FileTooLargeError, match="4097"):
        read_at_most(str(path), 4097)


def test_a_file_larger_than_its_reported_size_is_read_to_the_cap() -> None:
    # /proc files report size 0 and have content: the read must not stop at the reported size.
    data = read_at_most("/proc/self/status", 1 << 20)
    assert b"Name:" in data
    assert len(data) > 100
    with pytest.raises(FileTooLargeError):
        read_at_most("/proc/self/status", 10)
