"""Benchmark: actor + topic tagging throughput on one core, the compiled path beside the Python path.

The target: >= 10,000 articles/s per core for actors and topics together, with the full registry.

Corpus: --articles synthetic articles of ~3 KB (`pipelines.tag_match.synthetic_articles`: seed
sentences with their actors swapped for random registry names, so the density of names and topic
phrases is that of wire copy). Measured in one process pinned to one core, after a warm-up: the
articles are tagged in alternating chunks by `Tagger.tag` on its compiled path (tagcore, Rust: the
mapping, both automata and the rules, for texts that are ASCII once mapped) and on its Python path
(`native=False`, the reference it must equal), so both see the same machine load; every 50th
result of the two is compared. Also reported: registry load and build time (including the compiled
tables and automata), and the RSS the tagger adds. Needs the extension (`make install`).

Results go to benchmarks/results/tagging_bench.json and .md.

    .venv/bin/python benchmarks/bench_tagging.py [--articles 100000]
    .venv/bin/python benchmarks/bench_tagging.py --articles 5000   # quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

import ahocorasick_rs

from pipelines import tagger_cache
from pipelines.tag_match import Tagger, synthetic_articles

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
TARGET_ARTICLES_PER_S = 10_000
CHUNK = 500  # articles per alternation between the two implementations
CHECK_EVERY = 50  # compare the two results of every n-th article


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pin_to_one_core() -> int | None:
    """Run on one CPU (the last one), so that every figure is per core."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def rss_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def run(articles_count: int, size: int) -> dict[str, Any]:
    cpu = pin_to_one_core()
    gc.collect()
    rss_before = rss_bytes()
    started = time.perf_counter()
    os.environ[tagger_cache.DISABLE_ENV] = "0"  # the build itself, as a process with no cache pays it
    try:
        tagger = Tagger.from_files(native=True)
    finally:
        del os.environ[tagger_cache.DISABLE_ENV]
    load_s = time.perf_counter() - started
    rss_after = rss_bytes()
    Tagger.from_files(native=True)  # builds once more and keeps the tables in the cache
    started = time.perf_counter()
    Tagger.from_files(native=True)
    cached_s = time.perf_counter() - started
    reference = Tagger(tagger.registry, tagger.taxonomy, native=False)
    log(f"tagger built in {load_s:.3f} s; generating {articles_count:,} articles")
    articles = synthetic_articles(tagger.registry, articles_count, size)
    for title, body in articles[:500]:  # warm-up
        tagger.tag(title, body)
        reference.tag(title, body)

    wall = {"native": 0.0, "python": 0.0}
    cpu_s = {"native": 0.0, "python": 0.0}
    actor_tags = topic_tags = spans = 0
    checked = 0
    log("tagging")
    for first in range(0, len(articles), CHUNK):
        chunk = articles[first : first + CHUNK]
        for name, tag in (("native", tagger.tag), ("python", reference.tag)):
            wall_started, cpu_started = time.perf_counter(), time.process_time()
            for title, body in chunk:
                tag(title, body)
            wall[name] += time.perf_counter() - wall_started
            cpu_s[name] += time.process_time() - cpu_started
        for title, body in chunk[::CHECK_EVERY]:
            result = tagger.tag(title, body)
            if result != reference.tag(title, body):
                raise AssertionError(f"the compiled path differs from the Python path on {title!r}")
            checked += 1
            actor_tags += len(result.actors)
            topic_tags += len(result.topics)
            spans += sum(len(tag.spans) for tag in result.actors)
            spans += sum(len(tag.spans) for tag in result.topics)
    count = len(articles)
    rates = {name: count / seconds for name, seconds in wall.items()}
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["benchmarks/bench_tagging.py", *sys.argv[1:]]),
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cores": os.cpu_count(),
            "pinned_to_cpu": cpu,
            "python": platform.python_version(),
            "ahocorasick_rs": _version("ahocorasick_rs"),
            "aho_corasick_crate": _crate_version("aho-corasick"),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "registry": {
            "version": tagger.registry_version,
            "taxonomy_version": tagger.taxonomy_version,
            "actors": len(tagger.registry.actors),
            "topics": len(tagger.taxonomy.topics),
            "patterns": tagger.patterns,
            "load_and_build_s": round(load_s, 3),
            "build_s": round(tagger.build_seconds, 3),
            "load_from_cache_s": round(cached_s, 3),
            "rss_added_mib": round((rss_after - rss_before) / 2**20, 1)
            if rss_after is not None and rss_before is not None
            else None,
        },
        "corpus": {
            "articles": count,
            "mean_chars": round(sum(len(t) + len(b) + 2 for t, b in articles) / count),
            "actor_tags_per_article": round(actor_tags / checked, 2),
            "topic_tags_per_article": round(topic_tags / checked, 2),
            "evidence_spans_per_article": round(spans / checked, 1),
            "compared_with_reference": checked,
        },
        "throughput": {
            name: {
                "articles_per_s": round(rates[name]),
                "articles_per_cpu_s": round(count / cpu_s[name]),
                "us_per_article": round(1e6 / rates[name], 1),
            }
            for name in wall
        },
        "ratio": round(rates["native"] / rates["python"], 2),
        "target_articles_per_s": TARGET_ARTICLES_PER_S,
        "pass": rates["native"] >= TARGET_ARTICLES_PER_S,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module.replace("_", "-"))
    except PackageNotFoundError:
        return getattr(ahocorasick_rs, "__version__", "?")


def _crate_version(name: str) -> str:
    """The version of a crate tagcore is built with, as its Cargo.lock pins it."""
    lock = (REPO / "native" / "tagcore" / "Cargo.lock").read_text(encoding="utf-8")
    found = re.search(rf'name = "{re.escape(name)}"\nversion = "([^"]+)"', lock)
    return found.group(1) if found else "?"


def render_markdown(res: dict[str, Any]) -> str:
    m, reg, corpus, thr = res["machine"], res["registry"], res["corpus"], res["throughput"]
    opt, ref = thr["native"], thr["python"]
    verdict = "**pass**" if res["pass"] else "**fail**"
    return "\n".join(
        [
            f"# Tagging benchmark ({res['date']})",
            "",
            f"Reproduce: `.venv/bin/python {res['command']}`.",
            "",
            f"{m['machine']}, {m['cores']} cores (the benchmark is pinned to one), Python {m['python']}, "
            f"ahocorasick-rs {m['ahocorasick_rs']} (Python path), aho-corasick crate "
            f"{m['aho_corasick_crate']} (compiled path); load average {m['load_average_at_start']} at start, "
            f"{res['load_average_at_end']} at the end.",
            "",
            "## Target",
            "",
            "| target | measured | result |",
            "|---|---|---|",
            f"| actors + topics >= {res['target_articles_per_s']:,} articles/s/core, full registry "
            f"| {opt['articles_per_s']:,} articles/s ({opt['us_per_article']} µs/article) | {verdict} |",
            "",
            f"## Throughput on one core ({corpus['articles']:,} articles of ~{corpus['mean_chars']:,} chars)",
            "",
            "| implementation | articles/s | articles/CPU-s | µs/article |",
            "|---|---:|---:|---:|",
            f"| `Tagger.tag`, compiled path (tagcore) | {opt['articles_per_s']:,} | "
            f"{opt['articles_per_cpu_s']:,} | {opt['us_per_article']} |",
            f"| `Tagger.tag`, Python path (`native=False`) | {ref['articles_per_s']:,} | "
            f"{ref['articles_per_cpu_s']:,} | {ref['us_per_article']} |",
            f"| ratio compiled / Python | {res['ratio']} | | |",
            "",
            f"Per article: {corpus['actor_tags_per_article']} actor tags, {corpus['topic_tags_per_article']} "
            f"topic tags, {corpus['evidence_spans_per_article']} evidence spans. The two paths "
            f"ran in alternating chunks of {CHUNK} articles; {corpus['compared_with_reference']:,} results "
            "were compared and equal.",
            "",
            "## Registry",
            "",
            f"Registry {reg['version']} ({reg['actors']} actors), taxonomy {reg['taxonomy_version']} "
            f"({reg['topics']} topics): {reg['patterns']:,} automaton patterns; load + build "
            f"{reg['load_and_build_s']} s (build {reg['build_s']} s, compiled tables and automata "
            f"included), or {reg['load_from_cache_s']} s from the built-tagger cache "
            "(pipelines/tagger_cache.py, what every later process pays); "
            "the tagger adds "
            f"{reg['rss_added_mib']} MiB RSS.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=3000, help="characters per article")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.articles < 1:
        parser.error("--articles must be at least 1")
    result = run(args.articles, args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tagging_bench.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out / "tagging_bench.md").write_text(render_markdown(result), encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("throughput", "ratio", "pass")}, indent=2))


if __name__ == "__main__":
    main()
