"""Seed files: list them, read them, parse the seed format, and the `ReadSeedFiles` transform.

A seed file is one article: optional leading whitespace, the word ``date``, an ISO date, then the
article body on the same line, paragraphs separated by blank lines. No title, no URL.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
from collections.abc import Iterator
from typing import NamedTuple

import apache_beam as beam
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PBegin, PCollection, TaggedOutput

import connectors.coders  # noqa: F401  (registers the record coders)
from connectors import counters
from connectors.files import FileTooLargeError, NotAFileError, read_at_most
from schemas.errors import BadRecordError
from schemas.records import DeadLetter, RawRecord, Source
from schemas.text import clean_line, first_sentence, join_words

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
SEED_SUFFIX = "*.txt"
STAGE = "read_seed"
DEAD_LETTERS = "dead_letters"

_HEADER = re.compile(r"\A\s*date\b[ \t]*(\S*)(.*)\Z", re.S | re.I)
_ISO_DATE = re.compile(r"\A(\d{4})-(\d{2})-(\d{2})\Z")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def has_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def expand_seed_pattern(pattern: str) -> str:
    """A folder means the seed files in it; a glob or a single file is used as given."""
    if "://" not in pattern and not has_glob(pattern) and os.path.isdir(pattern):
        return os.path.join(pattern, SEED_SUFFIX)
    return pattern


def list_seed_paths(pattern: str) -> list[str]:
    """Paths matching `pattern`, sorted. Local matches include directories and broken links on
    purpose: they are reported as dead letters instead of vanishing."""
    pattern = expand_seed_pattern(pattern)
    if "://" in pattern:
        matches = FileSystems.match([pattern])[0].metadata_list
        return sorted(m.path for m in matches)
    return sorted(glob.glob(pattern))


# Paths per element of the shuffle that spreads the files over workers: one element per file cost
# more than reading it; a few hundred chunks still spread a big folder over as many workers.
PATH_CHUNK = 64


def _path_chunks(pattern: str) -> Iterator[list[str]]:
    paths = list_seed_paths(pattern)
    for start in range(0, len(paths), PATH_CHUNK):
        yield paths[start : start + PATH_CHUNK]


def read_seed_file(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of one seed file; raises BadRecordError with the reason a user can act on."""
    if "://" in path:
        try:
            with FileSystems.open(path) as handle:
                data: bytes = handle.read(max_bytes + 1)
        except (BeamIOError, OSError) as exc:
            raise BadRecordError(f"cannot read file: {exc}") from exc
    else:
        try:
            return read_at_most(path, max_bytes)
        except NotAFileError as exc:  # a FIFO would hang the run, a device never end it
            raise BadRecordError(f"is {exc}, not a seed file") from exc
        except OSError as exc:
            raise BadRecordError(f"cannot read file: {exc.strerror or exc}") from exc
        except FileTooLargeError as exc:
            raise BadRecordError(f"file is {exc}") from exc
    if len(data) > max_bytes:
        raise BadRecordError(f"file is larger than the limit of {max_bytes} bytes")
    return data


def parse_seed(path: str, data: bytes, *, read_at: dt.datetime) -> RawRecord:
    """Parse one seed file into a RawRecord; raises BadRecordError naming what is wrong."""
    if not data.removeprefix(b"\xef\xbb\xbf").strip():
        raise BadRecordError("empty file")
    try:
        # Plain utf-8, BOM removed after: utf-8-sig would report offsets 3 bytes short.
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise BadRecordError(
            f"not UTF-8 text: invalid byte 0x{data[exc.start]:02x} at offset {exc.start}"
        ) from exc
    header = _HEADER.match(text)
    if header is None:
        raise BadRecordError("missing 'date YYYY-MM-DD' header at the start of the file")
    token, rest = header.groups()
    published = _parse_date(token)
    text_paragraphs = [join_words(p) for p in _BLANK_LINE.split(rest.replace("\r\n", "\n")) if p.strip()]
    if not text_paragraphs:
        raise BadRecordError("no article text after the date")
    body = "\n\n".join(text_paragraphs)
    return RawRecord(
        source=Source(kind="seed", name=_source_name(path), file=path),
        uri=path,
        title=first_sentence(clean_line(text_paragraphs[0])),
        body=body,
        body_format="text",
        published_at=published,
        date_source="seed",
        fetched_at=read_at,
    )


def _parse_date(token: str) -> dt.datetime:
    if not token:
        raise BadRecordError("missing date after 'date': expected YYYY-MM-DD")
    parts = _ISO_DATE.match(token)
    if parts is None:
        raise BadRecordError(f"bad date {token[:40]!r}: expected YYYY-MM-DD")
    year, month, day = (int(g) for g in parts.groups())
    try:
        return dt.datetime(year, month, day, tzinfo=dt.UTC)
    except ValueError as exc:
        raise BadRecordError(f"impossible date {token!r}: {exc}") from exc


def _source_name(path: str) -> str:
    """Seed files have no outlet; the folder they came from names the collection."""
    folder = os.path.basename(os.path.dirname(path.rstrip("/")))
    return folder or "seeds"


def read_seed(path: str, max_bytes: int, *, run_id: str | None, now: dt.datetime) -> RawRecord | DeadLetter:
    """One seed file read and parsed, or the dead letter saying why it could not be."""
    data = b""
    try:
        data = read_seed_file(path, max_bytes)
        return parse_seed(path, data, read_at=now)
    except BadRecordError as exc:
        return DeadLetter.build(
            stage=STAGE,
            error_type=type(exc).__name__,
            error=exc.reason,
            payload=data,
            source=path,
            occurred_at=now,
            run_id=run_id,
        )


class _ReadSeedFn(beam.DoFn):
    """Reads and parses one path; bad files go to the dead-letter output with the reason."""

    def __init__(self, max_bytes: int, run_id: str | None) -> None:
        self._max_bytes = max_bytes
        self._run_id = run_id
        self._read = Metrics.counter(counters.NAMESPACE, counters.RECORDS_READ)
        self._dead = Metrics.counter(counters.NAMESPACE, "seed_files_rejected")

    def process(self, path: str):  # type: ignore[no-untyped-def]
        self._read.inc()
        read = read_seed(path, self._max_bytes, run_id=self._run_id, now=dt.datetime.now(dt.UTC))
        if isinstance(read, DeadLetter):
            self._dead.inc()
            yield TaggedOutput(DEAD_LETTERS, read)
        else:
            yield read


class SeedReadResult(NamedTuple):
    records: PCollection[RawRecord]
    dead_letters: PCollection[DeadLetter]


class ReadSeedFiles(beam.PTransform[PBegin, SeedReadResult]):
    """Reads seed files matching a folder, a glob or a single path (any Beam filesystem).

    Bounded. Each file is read exactly once per run; a file that cannot be read or parsed becomes
    a DeadLetter (stage ``read_seed``) with a one-line reason. Metrics: ``records_read``,
    ``seed_files_rejected``.
    """

    def __init__(
        self, *, pattern: str, max_bytes: int = DEFAULT_MAX_BYTES, run_id: str | None = None
    ) -> None:
        super().__init__()
        if not pattern:
            raise ValueError("pattern must name a folder, a glob or a file")
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be a positive number of bytes, got {max_bytes}")
        self._pattern = pattern
        self._max_bytes = max_bytes
        self._run_id = run_id

    def expand(self, pbegin: PBegin) -> SeedReadResult:
        results = (
            pbegin
            | "Pattern" >> beam.Create([self._pattern])
            | "ListPaths" >> beam.FlatMap(_path_chunks).with_output_types(list[str])
            # Spread files over workers (listing happens on one), a chunk of paths per element.
            | "Spread" >> beam.Reshuffle()
            | "Paths" >> beam.FlatMap(lambda chunk: chunk).with_output_types(str)
            | "ReadAndParse"
            >> beam.ParDo(_ReadSeedFn(self._max_bytes, self._run_id))
            .with_output_types(RawRecord, dead_letters=DeadLetter)
            .with_outputs(DEAD_LETTERS, main="records")
        )
        return SeedReadResult(results.records, results[DEAD_LETTERS])
