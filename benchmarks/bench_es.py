"""Benchmark: WriteToElasticsearch on the DirectRunner vs a hand-written helpers.bulk loop.

Both read the same JSONL shards of synthetic articles (never beam.Create, which is ~450 docs/s on
its own) and write them into fresh indices of the same Elasticsearch, one after the other in one
run. Results go to benchmarks/results/es_bulk.json and .md.

    python benchmarks/bench_es.py --es-url http://127.0.0.1:9200 --docs 50000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import random
import tempfile
import time
import uuid
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from elasticsearch import Elasticsearch, helpers

from connectors.elasticsearchio import WriteToElasticsearch
from connectors.es_client import EsEndpoint
from connectors.es_indices import IndexNames, article_document, ensure_indices, reset_indices
from pipelines.normalize import normalize_record
from schemas.records import Article, PipelineInfo, RawRecord, Source

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
_WORDS = (
    "talks summit minister sanctions missile satellite launch delegation border ceasefire treaty "
    "embassy statement parliament election economy trade energy pipeline drone artillery aid"
).split()


def make_shards(folder: str, docs: int, shards: int = 8) -> list[str]:
    """Synthetic ~3.5 KB articles, normalized once, as JSONL shards."""
    rng = random.Random(42)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    info = PipelineInfo(version="bench", run_id="bench")
    paths = [os.path.join(folder, f"articles-{i:02d}.jsonl") for i in range(shards)]
    handles = [open(p, "w", encoding="utf-8") for p in paths]  # noqa: SIM115  (closed below)
    try:
        for n in range(docs):
            body = "\n\n".join(
                " ".join(rng.choice(_WORDS) for _ in range(90)) + f" item {n}." for _ in range(6)
            )
            raw = RawRecord(
                source=Source(kind="seed", name="bench", file=f"bench/{n}.txt"),
                uri=f"bench/{n}.txt",
                body=body,
                published_at=now - dt.timedelta(minutes=n),
                fetched_at=now,
            )
            article = normalize_record(raw, ingested_at=now, pipeline=info)
            handles[n % shards].write(article.model_dump_json() + "\n")
    finally:
        for h in handles:
            h.close()
    return paths


def read_articles(paths: list[str]) -> Iterator[Article]:
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                yield Article.model_validate_json(line)


def bench_baseline(es_url: str, names: IndexNames, paths: list[str]) -> float:
    """What a user writes by hand: parse, then helpers.bulk in chunks of 500."""
    client = Elasticsearch(es_url, request_timeout=120)
    ensure_indices(client, names)
    started = time.perf_counter()
    actions = (
        {"_op_type": "create", "_index": names.articles_alias, "_id": a.id, "_source": article_document(a)}
        for a in read_articles(paths)
    )
    helpers.bulk(client, actions, chunk_size=500)
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def bench_pipeline(es_url: str, names: IndexNames, paths: list[str], beam_args: list[str]) -> float:
    options = PipelineOptions(beam_args)
    started = time.perf_counter()
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | "ReadShards" >> beam.io.ReadFromText(os.path.join(os.path.dirname(paths[0]), "*.jsonl"))
            | "Parse" >> beam.Map(Article.model_validate_json).with_output_types(Article)
            | "Write" >> WriteToElasticsearch(endpoint=EsEndpoint(url=es_url), names=names)
        )
    return time.perf_counter() - started


def count(es_url: str, names: IndexNames) -> int:
    client = Elasticsearch(es_url)
    client.indices.refresh(index=names.articles_alias)
    total = int(client.count(index=names.articles_alias)["count"])
    reset_indices(client, names)
    client.close()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--es-url", default=os.environ.get("ELASTICSEARCH_URL", "http://127.0.0.1:9200"))
    parser.add_argument("--docs", type=int, default=50_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory() as folder:
        paths = make_shards(folder, args.docs)
        size = sum(os.path.getsize(p) for p in paths) / args.docs
        runs: dict[str, float] = {}
        # Warm the server (JIT, caches) so the first variant measured is not penalized.
        warmup = IndexNames(f"bench-warmup-{uuid.uuid4().hex[:8]}")
        bench_baseline(args.es_url, warmup, paths[:1])
        count(args.es_url, warmup)
        variants = {
            "baseline_helpers_bulk": None,
            "sink_direct_1_worker": ["--direct_num_workers=1"],
            "sink_direct_2_processes": ["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
        }
        for name, beam_args in variants.items():
            names = IndexNames(f"bench-{uuid.uuid4().hex[:8]}")
            if beam_args is None:
                seconds = bench_baseline(args.es_url, names, paths)
            else:
                seconds = bench_pipeline(args.es_url, names, paths, beam_args)
            indexed = count(args.es_url, names)
            if indexed != args.docs:
                raise SystemExit(f"{name}: indexed {indexed} of {args.docs} documents")
            runs[name] = seconds
            print(f"{name:<26} {args.docs / seconds:8.0f} docs/s  ({seconds:.1f} s)", flush=True)

    base = args.docs / runs["baseline_helpers_bulk"]
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "docs": args.docs,
        "avg_doc_bytes": round(size),
        "docs_per_s": {k: round(args.docs / v) for k, v in runs.items()},
        "ratio_to_baseline": {k: round(args.docs / v / base, 2) for k, v in runs.items()},
    }
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "es_bulk.json"), "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    lines = [
        f"# Elasticsearch sink benchmark ({result['date']})",
        "",
        f"{args.docs} synthetic articles of ~{result['avg_doc_bytes']} bytes (JSON), {result['machine']},",
        "Elasticsearch on the same machine. Reproduce: `make bench`.",
        "",
        "| variant | docs/s | ratio to baseline |",
        "|---|---:|---:|",
    ]
    lines += [f"| {k} | {result['docs_per_s'][k]} | {result['ratio_to_baseline'][k]} |" for k in runs]
    with open(os.path.join(RESULTS, "es_bulk.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
