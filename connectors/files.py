"""Reading a local file with a size cap, for every connector that accepts local paths."""

from __future__ import annotations

import os


class FileTooLargeError(ValueError):
    """The file holds more than the caller allows."""


def read_at_most(path: str, max_bytes: int) -> bytes:
    """The file's bytes; reads one byte past the cap so a file that grows meanwhile is caught too.

    Raises OSError when the file cannot be read, FileTooLargeError when it is over `max_bytes`.
    """
    with open(path, "rb") as handle:
        # Ask for the size the file has, not the cap: read(cap) makes CPython allocate the whole
        # cap (megabytes) for every small file. A file that grew since fstat is read on to the cap.
        expected = min(os.fstat(handle.fileno()).st_size, max_bytes) + 1
        data = handle.read(expected)
        if len(data) == expected:
            data += handle.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:
        raise FileTooLargeError(f"larger than the limit of {max_bytes} bytes")
    return data
