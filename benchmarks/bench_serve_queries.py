"""Benchmark: what `wirewatch serve`'s search page costs each store, per query.

A page is the store's `search` (one page of 20 hits) plus its `search_facets` (total, the facets,
articles per day) for the same request. The store holds N articles (default 100,000)
made from the shared world-news captures (tests.conftest.news_articles(), tagged as the pipeline
does): article k is capture k mod n with its own id, outlet (one of 40), publication time (spread
over 120 days) and, appended to its body, another capture's title, so that queries split the
store unevenly; every ninth is a copy of the one before it. The embedded store is built once and
cached under ~/.cache/wirewatch/bench-serve/; with `--es-url` (or ELASTICSEARCH_URL, which `make
bench-serve` sets) the same articles are indexed into Elasticsearch (`bench-serve-*` indices,
kept for the next run) and timed the same way.

Each query (`QUERIES`: empty, words, a phrase, field clauses, filters, broad ones) runs `--reps`
times, alternating; the caches are emptied before each run (the embedded store's facets and last
matching set, Elasticsearch's shard request cache), so every time is a cold one. The embedded
store's one-time costs are timed apart: the search marks (dropped from the cached store first)
and reading the columns kept in memory (`prepare_search`, as `wirewatch serve` starts).
Reported: p50 and p95 of search + facets per query, and the p95 over all runs.

Results: benchmarks/results/serve_bench.{json,md}.

    .venv/bin/python benchmarks/bench_serve_queries.py
    .venv/bin/python benchmarks/bench_serve_queries.py --articles 20000 --reps 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_fts import cached_store

from connectors.es_store import ElasticsearchStore
from connectors.localstore import LocalStore
from pipelines.search_query import Filters, search_request
from schemas.records import Article

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wirewatch" / "bench-serve"
RECIPE = 1  # bump when the store's recipe changes
OUTLETS = 40
DAYS = 120
START = dt.datetime(2025, 10, 20, tzinfo=dt.UTC)
PAGE = 20

# (kind, query text, filters)
QUERIES: list[tuple[str, str, Filters]] = [
    ("empty", "", Filters()),
    ("empty, all copies", "", Filters(all_copies=True)),
    ("one word", "Greenland", Filters()),
    ("one word", "ceasefire", Filters()),
    ("one word, broad", "Trump", Filters()),
    ("two words", "trump greenland", Filters()),
    ("two words", "oil prices", Filters()),
    ("phrase", '"North Korea"', Filters()),
    ("phrase", '"prime minister"', Filters()),
    ("prefix", "sanction*", Filters()),
    ("boolean", "Ukraine OR Russia", Filters()),
    ("field: actor", "actor:Q22686", Filters()),
    ("field: topic", "topic:military", Filters()),
    ("field: country", "country:ukr", Filters()),
    ("filter: actor", "", Filters(actors=("Q22686",))),
    ("filter: topic", "", Filters(topics=("diplomacy",))),
    ("filter: country", "", Filters(countries=("USA",))),
    ("filter: dates", "", Filters(since=START + dt.timedelta(days=30), until=START + dt.timedelta(days=37))),
    ("filter: outlet", "", Filters(outlets=("outlet-07",))),
    ("word + filters", "Trump", Filters(countries=("USA",), since=START + dt.timedelta(days=60))),
    ("word + topic", "election", Filters(topics=("elections",))),
]


def log(message: str) -> None:
    print(f"bench_serve: {message}", file=sys.stderr, flush=True)


def bench_articles(size: int) -> Iterator[Article]:
    """The store's `size` articles, made from the captures (tagged as the pipeline does)."""
    from tests.conftest import as_canonical, news_articles, seed_articles

    started = time.monotonic()
    captures = [as_canonical(a) for a in [*seed_articles(), *news_articles()]]
    log(f"{len(captures)} tagged captures in {time.monotonic() - started:.0f} s; making {size:,} articles …")
    step = dt.timedelta(days=DAYS) / size
    previous = None
    for k in range(size):
        base = captures[k % len(captures)]
        other = captures[(k * 7919 + 13) % len(captures)]
        source = base.source.model_copy(
            update={
                "name": f"outlet-{k % OUTLETS:02d}",
                "feed_url": f"https://outlet-{k % OUTLETS:02d}.example/feed",
            }
        )
        update: dict[str, Any] = {
            "id": f"{k:016x}",
            "source": source,
            "published_at": START + step * k,
            "body": f"{base.body} {other.title}",
        }
        if k % 9 == 8 and previous is not None:
            update |= {"duplicate_of": previous, "duplicate_reason": "near", "similarity": 0.9}
        article = base.model_copy(update=update)
        previous = article.id
        yield article


def build_store(size: int) -> Path:
    """The embedded store of `size` articles, made once."""

    def fill(partial: Path) -> None:
        started = time.monotonic()
        store = LocalStore(str(partial))
        made = bench_articles(size)
        while batch := list(itertools.islice(made, 1000)):
            store.write_articles(batch)
        store.close()
        log(f"  built in {time.monotonic() - started:.0f} s")

    return cached_store(CACHE / f"store-{size}-r{RECIPE}-{tags_version()}.db", fill)


def tags_version() -> str:
    """The registry and taxonomy versions the articles are tagged with: a store tagged by other
    rules is another store (and Elasticsearch's copy must hold the same tags)."""
    from tests.conftest import _tagger

    tagger = _tagger()
    return f"{tagger.registry_version}-{tagger.taxonomy_version}"


def build_es(url: str, size: int) -> ElasticsearchStore:
    """The same articles in Elasticsearch (indices `bench-serve-*`), indexed unless already there."""
    from elasticsearch import Elasticsearch, helpers

    from connectors.es_indices import IndexNames, article_document, ensure_indices

    names = IndexNames(f"bench-serve-r{RECIPE}-{tags_version()}".lower().replace(".", "-"))
    client = Elasticsearch(url, request_timeout=300)
    ensure_indices(client, names)
    store = ElasticsearchStore(client, names, location=url)
    store.refresh()
    if client.count(index=names.articles_alias)["count"] != size:
        started = time.monotonic()
        actions = (
            {"_op_type": "index", "_index": names.articles_alias, "_id": a.id, "_source": article_document(a)}
            for a in bench_articles(size)
        )
        helpers.bulk(client, actions, chunk_size=1000)
        store.refresh()
        client.indices.forcemerge(index=names.articles_alias, max_num_segments=1)
        log(f"  indexed into Elasticsearch in {time.monotonic() - started:.0f} s")
    return store


def forget_search_marks(path: Path) -> None:
    """Drop the search marks a run before left in the cached store, to time making them."""
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE IF EXISTS search_marks")
        db.execute("DELETE FROM meta WHERE key = 'marks_through'")


def clear_caches(store: LocalStore | ElasticsearchStore) -> None:
    """What a store keeps of the last requests: each timed request is a cold one."""
    if isinstance(store, LocalStore):
        store._facet_cache.clear()
        store._last_match = None
    else:  # the shard request cache keeps aggregations
        store._client.indices.clear_cache(index=store._names.articles_alias, request=True)


def run(store: LocalStore | ElasticsearchStore, text: str, filters: Filters) -> tuple[float, float, int]:
    """Seconds of search and of search_facets (cold), and the total."""
    clear_caches(store)
    request = search_request(text, filters, limit=PAGE, everything=True)
    started = time.perf_counter()
    store.search(request)
    searched = time.perf_counter()
    facets = store.search_facets(request)
    return searched - started, time.perf_counter() - searched, facets.total


def served(store: LocalStore | ElasticsearchStore, reps: int) -> dict[str, float]:
    """The whole search page as `wirewatch serve` answers it (the Flask app in this process, its
    template rendered), every query `reps` times, cold: p50 and p95 in ms."""
    from pipelines.web.app import create_app

    client = create_app(store, lambda: ()).test_client()
    times = []
    for _ in range(reps):
        for _, text, filters in QUERIES:
            params: list[tuple[str, str]] = [("q", text)]
            for name, values in (
                ("actor", filters.actors),
                ("topic", filters.topics),
                ("country", filters.countries),
                ("outlet", filters.outlets),
            ):
                params += [(name, value) for value in values]
            params += [
                (name, when.isoformat())
                for name, when in (("since", filters.since), ("until", filters.until))
                if when
            ]
            params += [("all", "1")] if filters.all_copies else []
            clear_caches(store)
            started = time.perf_counter()
            response = client.get("/", query_string=params)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or b'class="error' in response.data:
                raise SystemExit(
                    f"bench_serve: the page for {text!r} {filters} failed ({response.status_code})"
                )
    return {
        "page_ms_p50": round(statistics.median(times), 2),
        "page_ms_p95": round(percentile(times, 0.95), 2),
    }


def time_queries(store: LocalStore | ElasticsearchStore, reps: int) -> dict[str, Any]:
    """Every query `reps` times, alternating: p50/p95 per query and over all runs."""
    samples: dict[int, list[tuple[float, float, int]]] = {i: [] for i in range(len(QUERIES))}
    for _ in range(reps):
        for i, (_, text, filters) in enumerate(QUERIES):
            samples[i].append(run(store, text, filters))
    rows = []
    for i, (kind, text, filters) in enumerate(QUERIES):
        pages = [(s + f) * 1000 for s, f, _ in samples[i]]
        rows.append(
            {
                "kind": kind,
                "query": text,
                "filters": {
                    k: v if not isinstance(v, dt.datetime) else v.isoformat()
                    for k, v in vars(filters).items()
                    if v
                },
                "total": samples[i][0][2],
                "search_ms_p50": round(statistics.median(s * 1000 for s, _, _ in samples[i]), 2),
                "facets_ms_p50": round(statistics.median(f * 1000 for _, f, _ in samples[i]), 2),
                "page_ms_p50": round(statistics.median(pages), 2),
                "page_ms_p95": round(percentile(pages, 0.95), 2),
            }
        )
        log(json.dumps(rows[-1]))
    every = [(s + f) * 1000 for runs in samples.values() for s, f, _ in runs]
    return {
        "overall_page_ms_p50": round(statistics.median(every), 2),
        "overall_page_ms_p95": round(percentile(every, 0.95), 2),
        "queries": rows,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--es-url",
        default=os.environ.get("ELASTICSEARCH_URL"),
        help="also Elasticsearch (make bench-serve starts one)",
    )
    args = parser.parse_args()
    path = build_store(args.articles)
    forget_search_marks(path)
    store = LocalStore(str(path))
    started = time.perf_counter()
    store._index_terms()  # what the first search on a store filled before the search marks does
    marks_s = time.perf_counter() - started
    started = time.perf_counter()
    store.prepare_search()  # the columns held in memory, read as `wirewatch serve` starts
    columns_s = time.perf_counter() - started
    log(f"search marks of {args.articles:,} articles in {marks_s:.1f} s; columns in {columns_s:.1f} s")
    run(store, "Trump", Filters())  # imports, the tokenizer's first use, the page cache
    report: dict[str, Any] = {
        "articles": args.articles,
        "store_bytes": path.stat().st_size,
        "reps": args.reps,
        "search_marks_s": round(marks_s, 1),
        "columns_s": round(columns_s, 2),
        "embedded": time_queries(store, args.reps),
    }
    report["embedded"]["served"] = served(store, args.reps)
    store.close()
    if args.es_url:
        es = build_es(args.es_url, args.articles)
        run(es, "Trump", Filters())
        report["elasticsearch"] = time_queries(es, args.reps)
        report["elasticsearch"]["served"] = served(es, args.reps)
        es.close()
    write_report(report)


def write_report(report: dict[str, Any]) -> None:
    lines = [
        "# `wirewatch serve`'s search page: search + facets per query, both stores",
        "",
        f"`python benchmarks/bench_serve_queries.py` (`make bench-serve`) — "
        f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; load average at the end "
        f"{[round(x, 2) for x in os.getloadavg()]}; 2 cores.",
        "",
        f"{report['articles']:,} articles (embedded store {report['store_bytes'] / 1e6:.0f} MB), "
        f"every ninth a copy; {report['reps']} cold runs per query (caches emptied), after one "
        "warm-up query. A page: `search` (20 hits) + `search_facets`. Target: p95 ≤ 150 ms.",
        "",
        "Once per embedded store, not in the figures: the search marks of its "
        f"{report['articles']:,} articles (the first search after they were written makes them) "
        f"took {report['search_marks_s']} s; "
        "reading the facet values and dates into memory (`serve` does so as it starts) "
        f"{report['columns_s']} s.",
    ]
    for name, title in (
        ("embedded", "Embedded store (SQLite)"),
        ("elasticsearch", "Elasticsearch (one node)"),
    ):
        if name not in report:
            continue
        found = report[name]
        lines += [
            "",
            f"## {title}: **p95 {found['overall_page_ms_p95']} ms** (p50 {found['overall_page_ms_p50']} ms)",
            "",
            "The whole page as `wirewatch serve` answers it (the same queries through its Flask app, "
            f"the template rendered): p95 {found['served']['page_ms_p95']} ms "
            f"(p50 {found['served']['page_ms_p50']} ms). The store's part, per query:",
            "",
            "| kind | query | filters | total | search ms p50 | facets ms p50 | page ms p50 | page ms p95 |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in found["queries"]:
            filters = ", ".join(f"{k}={v}" for k, v in r["filters"].items()) or "–"
            lines.append(
                f"| {r['kind']} | `{r['query'] or '(none)'}` | {filters} | {r['total']:,} | "
                f"{r['search_ms_p50']} | {r['facets_ms_p50']} | {r['page_ms_p50']} | {r['page_ms_p95']} |"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve_bench.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "serve_bench.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
