"""parse_feed over real feeds: the shared captures (news, misc) and feedparser's own test corpus.

The shared captures are read from `../shared/data/feeds/` (never copied into the repository). A
missing folder skips its cases, except in CI, where it fails them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest

from connectors.feed_parse import MAX_ENTRIES, REFUSED_ENTITIES, FeedParseResult, parse_feed
from schemas.feeds import FeedSpec

REPO = Path(__file__).resolve().parents[2]
# The project convention is ../shared/data beside the checkout; a clone elsewhere can point at it.
SHARED_FEEDS = Path(os.environ.get("WIREWATCH_SHARED_DATA") or REPO.parent / "shared" / "data") / "feeds"
NEWS = SHARED_FEEDS / "news"
MISC = SHARED_FEEDS / "misc"
FETCHED_AT = dt.datetime(2026, 2, 17, 12, 0, tzinfo=dt.UTC)
SPEC = FeedSpec(url="https://corpus.example.com/feed.xml", name="corpus")
MISSING = "(folder missing)"

# The two broken captures in misc/, and how they are reported.
BROKEN = {
    # A static-site generator's RSS with a mangled XML declaration and prefixed elements.
    "7ef13a42fa7e177a.xml": "broken rss feed, no entries read: SAXParseException: ",
    # A JSON Feed saved with an .xml name.
    "d4b7ab74da763119.xml": "not an RSS/Atom feed (JSON, perhaps a JSON Feed, which is not supported): ",
}
# Every entry skipped in the captures, and why; any other file keeps all its entries.
EXCLUDED = {
    # <item> with an empty <title> and <description>, only a link and guid: nothing to read.
    "c2a4afd1f4ddcada.xml": ("entry 4: no title, summary or content",),
}
# Totals over each folder, so a change that silently drops entries shows up.
TOTALS = {"news": (19, 607), "misc": (114, 1920)}  # files, records

FEEDPARSER_VERSION = "6.0.14"
CORPUS_CACHE = Path.home() / ".cache" / "wirewatch" / "feedparser-corpus"


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.xml")) if folder.is_dir() else [MISSING]


def _require(folder: Path) -> None:
    if folder.is_dir():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{folder} is missing, and CI is set: the shared test data must be present")
    pytest.skip(f"{folder} is absent (outside CI)")


def _parse(path: Path) -> FeedParseResult:
    return parse_feed(path.read_bytes(), {}, SPEC, fetched_at=FETCHED_AT)


def _check(folder: Path, name: str) -> None:
    _require(folder)
    data = (folder / name).read_bytes()

    result = parse_feed(data, {}, SPEC, fetched_at=FETCHED_AT)

    reference = feedparser.parse(io.BytesIO(data))
    entries = len(reference.entries)
    assert result.entries_seen == entries
    if name in BROKEN:
        assert result.feed_error is not None
        assert result.feed_error.startswith(BROKEN[name])
        assert "\n" not in result.feed_error
        assert result.records == ()
        return
    assert result.feed_error is None
    assert reference.get("version")
    assert entries > 0
    skipped = [line for line in result.entry_errors if line.startswith("entry ")]
    assert len(result.records) + len(skipped) == min(entries, MAX_ENTRIES)
    assert result.entry_errors == EXCLUDED.get(name, ())
    for record in result.records:
        assert record.published_at is not None
        assert record.published_at.utcoffset() == dt.timedelta(0)
        assert record.date_source is not None
        assert record.title or record.body
        assert record.url is None or urlsplit(record.url).scheme in ("http", "https")
        assert all(urlsplit(u).scheme in ("http", "https") for u in record.media_urls)


@pytest.mark.parametrize("name", _names(NEWS))
def test_news_capture(name):
    _check(NEWS, name)


@pytest.mark.parametrize("name", _names(MISC))
def test_misc_capture(name):
    _check(MISC, name)


@pytest.mark.parametrize(("label", "folder"), [("news", NEWS), ("misc", MISC)])
def test_folder_totals(label, folder):
    _require(folder)
    results = [_parse(path) for path in sorted(folder.glob("*.xml"))]
    assert (len(results), sum(len(r.records) for r in results)) == TOTALS[label]


def test_the_named_exceptions_exist():
    _require(MISC)
    assert set(BROKEN) | set(EXCLUDED) <= set(_names(MISC))


# --- feedparser's own test corpus ----------------------------------------------------------------


def _feedparser_sdist() -> Path:
    """feedparser's source distribution, downloaded once into the cache; skip (or fail in CI) if offline."""
    sdist = CORPUS_CACHE / f"feedparser-{FEEDPARSER_VERSION}.tar.gz"
    if sdist.is_file():
        return sdist
    CORPUS_CACHE.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    command += [f"feedparser=={FEEDPARSER_VERSION}", "-d", str(CORPUS_CACHE)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        reason = (done.stderr or done.stdout).strip().splitlines()[-1:] if done.returncode else []
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = [str(exc)]
    if sdist.is_file():
        return sdist
    message = f"cannot download feedparser=={FEEDPARSER_VERSION}: {' '.join(reason) or 'no sdist saved'}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.slow
def test_feedparser_test_corpus(tmp_path):
    sdist = _feedparser_sdist()
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    tests = tmp_path / f"feedparser-{FEEDPARSER_VERSION}" / "tests"
    files = sorted(p for p in tests.rglob("*") if p.is_file() and p.suffix in (".xml", ".rdf", ".atom"))

    started = time.perf_counter()
    failures: list[str] = []
    counts = {"files": len(files), "parsed_ok": 0, "feed_error": 0, "records": 0, "entry_errors": 0}
    refused: list[str] = []
    for path in files:
        try:
            result = _parse(path)
        except Exception as exc:  # noqa: BLE001  (collect every failing file, not just the first)
            failures.append(f"{path.relative_to(tests)}: {type(exc).__name__}: {exc}")
            continue
        counts["feed_error" if result.feed_error else "parsed_ok"] += 1
        counts["records"] += len(result.records)
        counts["entry_errors"] += len(result.entry_errors)
        if result.feed_error == REFUSED_ENTITIES:
            refused.append(str(path.relative_to(tests)))
    seconds = round(time.perf_counter() - started, 2)

    summary = {"feedparser": FEEDPARSER_VERSION, **counts, "exceptions": len(failures), "seconds": seconds}
    print(f"\nfeedparser {FEEDPARSER_VERSION} test corpus: {json.dumps(summary)}")
    (CORPUS_CACHE / "last-run.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    assert failures == []
    assert counts["files"] > 2000  # the sdist holds 2,242; a wrong path would find none
    assert counts["parsed_ok"] + counts["feed_error"] == counts["files"]
    # The only documents in the corpus that declare entities (both harmless; refused all the same).
    assert refused == [
        "wellformed/rdf/doctype_contains_entity_decl.xml",
        "wellformed/rss/entity_in_doctype.xml",
    ]
