"""Benchmark: the embedded store's full-text index upkeep, by FTS5 `automerge`, at two store sizes.

A new article's write into the embedded store is mostly FTS5's: its terms go into a new segment,
and segments are merged level by level once `automerge` of them gather on a level (FTS5's default
is 4, LocalStore sets FTS_AUTOMERGE). Fewer merges mean cheaper writes, and more segments for a
search to read. This bench measures both sides on stores of bench-e2e's corpus:

- templates: stores of N articles (default 10,000 and 200,000; `--sizes`) filled through
  bench-e2e's loop of (c) from its stored corpus, cached under ~/.cache/wirewatch/bench-fts/;
- per size and setting (`--settings`, default 4 and 8), alternating, `--reps` rounds each: a copy
  of the template gets the setting, then the 5,000 articles of bench-e2e's measured corpus (read
  from a store bench-e2e's loop filled with them), written 200 a call as the sink does
  (`LocalStore.write_articles`); the CPU seconds of those writes per article, then the latency of
  ten searches (`LocalStore.search`, three passes, medians).

Results: benchmarks/results/fts_bench.{json,md}.

    .venv/bin/python benchmarks/bench_fts.py
    .venv/bin/python benchmarks/bench_fts.py --sizes 10000 --reps 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_e2e import RESULTS, loop_command, measured_corpus, stored_corpus

from connectors.localstore import FULL_DOC, LocalStore
from schemas.records import Article

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wirewatch" / "bench-fts"
QUERIES = (
    "Putin",
    "sanctions Russia",
    "ceasefire Gaza",
    "election results",
    "oil prices",
    '"prime minister"',
    "Ukraine drone attack",
    "China Taiwan",
    "refugees",
    "nuclear talks",
)
BATCH = 200  # articles per write_articles call, as the sink batches them


def log(message: str) -> None:
    print(f"bench_fts: {message}", file=sys.stderr, flush=True)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cached_store(path: Path, fill: Callable[[Path], None]) -> Path:
    """The store at `path`, made once: `fill` writes a partial file, which is renamed when done
    (a run stopped halfway leaves no store that looks complete)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.db")
    for leftover in path.parent.glob(f"{partial.name}*"):
        leftover.unlink()
    fill(partial)
    with sqlite3.connect(partial) as db:  # one file: the write-ahead log folded in
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(path)
    return path


def filled_store(name: str, pattern: str) -> Path:
    """A store bench-e2e's loop of (c) filled with the seed files of `pattern`, made once."""

    def fill(partial: Path) -> None:
        log(f"filling {name}.db (bench-e2e's loop of (c)) …")
        started = time.monotonic()
        subprocess.run(
            loop_command("full", pattern, ["--store", str(partial)]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        log(f"  filled in {time.monotonic() - started:.0f} s")

    return cached_store(CACHE / f"{name}.db", fill)


def copy_store(template: Path, to: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        target = Path(f"{to}{suffix}")
        if target.exists():
            target.unlink()
    shutil.copyfile(template, to)


def trial(template: Path, automerge: int, articles: list[Article], work: Path) -> dict[str, Any]:
    path = work / "trial.db"
    copy_store(template, path)
    store = LocalStore(str(path))
    try:
        store._db.execute(
            "INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', ?)", (automerge,)
        )
        before = cpu_s()
        written = 0
        for start in range(0, len(articles), BATCH):
            written += store.write_articles(articles[start : start + BATCH]).written
        write_cpu = cpu_s() - before
        latencies = []
        for _ in range(3):
            for query in QUERIES:
                started = time.perf_counter()
                store.search(query, limit=20)
                latencies.append(time.perf_counter() - started)
        segments = store._db.execute("SELECT count(*) FROM articles_fts_data").fetchone()[0]
    finally:
        store.close()
    return {
        "written": written,
        "write_cpu_ms_per_article": round(write_cpu / max(written, 1) * 1000, 4),
        "search_ms_median": round(statistics.median(latencies) * 1000, 2),
        "search_ms_max": round(max(latencies) * 1000, 2),
        "fts_data_rows": segments,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,200000", help="stored articles of each template")
    parser.add_argument("--settings", default="4,8", help="automerge values compared")
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    settings = [int(s) for s in args.settings.split(",")]

    measured = measured_corpus(5000, 0.07)
    source = filled_store("measured-5000", measured.pattern)
    with sqlite3.connect(source) as db:
        articles = [
            Article.model_validate_json(row[0]) for row in db.execute(f"SELECT {FULL_DOC} FROM articles")
        ]
    log(f"{len(articles):,} articles to write per round")
    work = CACHE / "work"
    work.mkdir(parents=True, exist_ok=True)
    rounds: list[dict[str, Any]] = []
    for size in sizes:
        corpus = stored_corpus(size, 0.07, measured, backfill=True)
        template = filled_store(f"stored-{size}", corpus.pattern)
        for rep in range(args.reps):
            for automerge in settings:
                result = {
                    "stored": size,
                    "automerge": automerge,
                    "rep": rep,
                    **trial(template, automerge, articles, work),
                }
                log(json.dumps(result))
                rounds.append(result)
    shutil.rmtree(work)
    write_report(rounds, sizes, settings)


def write_report(rounds: list[dict[str, Any]], sizes: list[int], settings: list[int]) -> None:
    medians: dict[tuple[int, int], dict[str, float]] = {}
    for size in sizes:
        for automerge in settings:
            group = [r for r in rounds if (r["stored"], r["automerge"]) == (size, automerge)]
            medians[(size, automerge)] = {
                k: statistics.median(r[k] for r in group)
                for k in ("write_cpu_ms_per_article", "search_ms_median")
            }
    base = settings[0]
    lines = [
        "# The embedded store's full-text index: write and search cost by FTS5 automerge",
        "",
        f"`python benchmarks/bench_fts.py` — {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; "
        f"load average at the end {[round(x, 2) for x in os.getloadavg()]}.",
        "",
        "5,000 articles of bench-e2e's measured corpus written 200 a call into a copy of a store of N "
        "articles (bench-e2e's stored corpus); then ten searches, three passes. Medians of the rounds, "
        f"which alternate the settings. Ratios against automerge {base} (FTS5's default is 4).",
        "",
        "| stored | automerge | write CPU ms/article | × | search ms (median) | × |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        for automerge in settings:
            m, b = medians[(size, automerge)], medians[(size, base)]
            lines.append(
                f"| {size:,} | {automerge} | {m['write_cpu_ms_per_article']:.3f} | "
                f"{m['write_cpu_ms_per_article'] / b['write_cpu_ms_per_article']:.2f} | "
                f"{m['search_ms_median']:.2f} | {m['search_ms_median'] / b['search_ms_median']:.2f} |"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fts_bench.json").write_text(json.dumps({"rounds": rounds}, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "fts_bench.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
