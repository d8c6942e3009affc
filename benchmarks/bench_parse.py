"""Benchmark: parse_feed over the real news captures vs plain feedparser.parse(bytes), in one run.

Three variants read the same documents from memory, in alternating rounds so that a busy machine
slows them alike, each for at least --seconds in all:

- baseline_feedparser: `feedparser.parse(data)` with its defaults (HTML sanitized, URIs resolved);
- feedparser_fast_options: the same with `sanitize_html=False, resolve_relative_uris=False`;
- parse_feed: Wirewatch's parser (decode check, the options above, RawRecords out).

Results go to benchmarks/results/parse.json and .md.

    python benchmarks/bench_parse.py [--feeds ../shared/data/feeds/news] [--seconds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import feedparser

from connectors.feed_parse import parse_feed
from schemas.feeds import FeedSpec

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_FEEDS = REPO.parent / "shared" / "data" / "feeds" / "news"
ROUNDS = 3

SPEC = FeedSpec(url="https://bench.example.com/feed.xml", name="bench")
FETCHED_AT = dt.datetime(2026, 2, 17, tzinfo=dt.UTC)


def baseline(data: bytes) -> int:
    return len(feedparser.parse(data).entries)


def fast_options(data: bytes) -> int:
    return len(feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False).entries)


def wirewatch(data: bytes) -> int:
    return len(parse_feed(data, {}, SPEC, fetched_at=FETCHED_AT).records)


VARIANTS: dict[str, Callable[[bytes], int]] = {
    "baseline_feedparser": baseline,
    "feedparser_fast_options": fast_options,
    "parse_feed": wirewatch,
}


def run_round(parse: Callable[[bytes], int], docs: list[bytes], seconds: float) -> tuple[float, int, int]:
    """Whole passes over `docs` until `seconds` have gone by: (elapsed, documents, items)."""
    done_docs = done_items = 0
    started = time.perf_counter()
    while True:
        for data in docs:
            done_items += parse(data)
        done_docs += len(docs)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed, done_docs, done_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=Path, default=DEFAULT_FEEDS, help="folder of captured feeds (*.xml)")
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum time per variant (default 3)")
    args = parser.parse_args()

    paths = sorted(args.feeds.glob("*.xml"))
    if not paths:
        raise SystemExit(f"--feeds: no *.xml files in {args.feeds}")
    docs = [p.read_bytes() for p in paths]
    for parse in VARIANTS.values():  # warm-up: imports, regex compilation, caches
        run_round(parse, docs, 0.0)

    totals = {name: [0.0, 0, 0] for name in VARIANTS}
    for _ in range(ROUNDS):
        for name, parse in VARIANTS.items():
            elapsed, n_docs, n_items = run_round(parse, docs, args.seconds / ROUNDS)
            totals[name][0] += elapsed
            totals[name][1] += n_docs
            totals[name][2] += n_items

    base_docs_per_s = totals["baseline_feedparser"][1] / totals["baseline_feedparser"][0]
    variants = {
        name: {
            "seconds": round(elapsed, 2),
            "docs": n_docs,
            "items": n_items,
            "docs_per_s": round(n_docs / elapsed, 1),
            "items_per_s": round(n_items / elapsed),
            "ratio_to_baseline": round(n_docs / elapsed / base_docs_per_s, 2),
        }
        for name, (elapsed, n_docs, n_items) in totals.items()
    }
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "feedparser": feedparser.__version__,
        "corpus": f"{len(docs)} feeds, {sum(map(len, docs))} bytes ({args.feeds.name}/)",
        "items_per_pass": wirewatch_items(docs),
        "variants": variants,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "parse.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"# Feed parsing benchmark ({result['date']})",
        "",
        f"{result['corpus']}, {result['items_per_pass']} items per pass; {result['machine']};",
        f"feedparser {result['feedparser']}. Each variant ran >= {args.seconds:g} s, "
        f"in {ROUNDS} alternating rounds.",
        "Reproduce: `.venv/bin/python benchmarks/bench_parse.py`.",
        "",
        "| variant | docs/s | items/s | ratio to baseline (docs/s) |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {v['docs_per_s']} | {v['items_per_s']} | {v['ratio_to_baseline']} |"
        for name, v in variants.items()
    ]
    (RESULTS / "parse.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


def wirewatch_items(docs: list[bytes]) -> int:
    return sum(wirewatch(data) for data in docs)


if __name__ == "__main__":
    main()
