"""`wirewatch export`: stored documents as JSON Lines or CSV rows, streamed to a file or stdout."""

from __future__ import annotations

import contextlib
import csv
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

import orjson

from connectors.progress import ProgressLog
from schemas.errors import ConfigError

# One row per article: the fields an analyst sorts and filters a spreadsheet by. Lists are joined
# with "; " (actor names hold commas).
CSV_COLUMNS = (
    "id",
    "published_at",
    "outlet",
    "url",
    "title",
    "language",
    "word_count",
    "actor_ids",
    "actor_names",
    "countries",
    "topic_ids",
    "source_count",
    "duplicate_of",
)
LIST_SEPARATOR = "; "


def csv_row(doc: Mapping[str, Any]) -> list[str]:
    values = {**doc, "outlet": (doc.get("source") or {}).get("name")}
    row = []
    for column in CSV_COLUMNS:
        value = values.get(column)
        if isinstance(value, list | tuple):
            value = LIST_SEPARATOR.join(str(item) for item in value)
        row.append("" if value is None else str(value))
    return row


def write_export(docs: Iterable[Mapping[str, Any]], out: IO[str], form: str, progress: ProgressLog) -> int:
    """Write `docs` to `out` as `form` ("jsonl" or "csv"); the number written."""
    written = 0
    writer = csv.writer(out, lineterminator="\n") if form == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    for doc in docs:
        if writer is not None:
            writer.writerow(csv_row(doc))
        else:
            out.write(orjson.dumps(doc).decode() + "\n")
        written += 1
        progress.add(1)
    return written


@contextlib.contextmanager
def open_output(path: str | None) -> Iterator[IO[str]]:
    """Standard output, or `path` written whole or not at all: into `path.partial`, renamed at the
    end, so an interrupted export never leaves a file that looks complete."""
    if path is None:
        yield sys.stdout
        return
    partial = f"{path}.partial"
    try:
        handle = open(partial, "w", encoding="utf-8", newline="")  # noqa: SIM115 - renamed below
    except OSError as exc:
        raise ConfigError(f"--output: cannot write {path}: {exc.strerror}") from exc
    try:
        with handle:
            yield handle
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
