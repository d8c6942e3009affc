"""Reading a local file with a size cap, for every connector that accepts local paths."""

from __future__ import annotations

import os
import stat


class FileTooLargeError(ValueError):
    """The file holds more than the caller allows."""


class NotAFileError(ValueError):
    """The path names a directory, a FIFO, a socket or a device: nothing to read as a file.
    The message is what it is instead, e.g. ``a FIFO (named pipe)``."""


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _refuse_unless_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise NotAFileError(next((name for test, name in _KINDS if test(mode)), "not a regular file"))


def read_at_most(path: str, max_bytes: int) -> bytes:
    """The file's bytes; reads one byte past the cap so a file that grows meanwhile is caught too.

    Raises OSError when the file cannot be read, FileTooLargeError when it is over `max_bytes`,
    NotAFileError when `path` (after following symlinks) is not a regular file.
    """
    # Checked before opening: opening a FIFO blocks until a writer comes (a run would hang with
    # no error), reading a device such as /dev/zero never ends. os.stat follows symlinks, so a
    # link is judged by its target.
    _refuse_unless_regular(os.stat(path).st_mode)
    # O_NONBLOCK: should the path turn into a FIFO between the stat and the open, the open returns
    # at once instead of hanging, and the fstat below refuses it. It changes nothing for files.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "rb") as handle:
        status = os.fstat(fd)
        _refuse_unless_regular(status.st_mode)
        # Ask for the size the file has, not the cap: read(cap) makes CPython allocate the whole
        # cap (megabytes) for every small file. A file that grew since fstat is read on to the cap.
        expected = min(status.st_size, max_bytes) + 1
        data = handle.read(expected)
        if len(data) == expected:
            data += handle.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:
        raise FileTooLargeError(f"larger than the limit of {max_bytes} bytes")
    return data
