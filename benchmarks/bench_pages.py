"""Benchmark: what fetching linked pages costs a feed-only `wirewatch run`.

The 119 real article pages of ../shared/data/articles are served as text/html by eight HTTP
servers on 127.0.0.2 … 127.0.0.9 (eight hosts, so the per-host pause is paid eight ways at once,
as on feeds of several outlets), and eight feeds on 127.0.0.1 carry one teaser item per page: the
first TEASER_WORDS words of its human-checked body, linking to it. Each round runs, alternating,
`wirewatch run --feeds` into a new embedded store with `--no-fetch-pages` (the baseline) and
without it, and records the wall time and the CPU seconds of the run's processes.

Reported: medians over the rounds, the ratio of the two, and the extra CPU per fetched page. The
wall time with pages is mostly politeness (1 s between two requests to one host), not work.
Results: benchmarks/results/pages_bench.{json,md}.

    .venv/bin/python benchmarks/bench_pages.py            # 3 rounds
    .venv/bin/python benchmarks/bench_pages.py --rounds 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.server
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data" / "articles"
WIREWATCH = str(Path(sys.executable).with_name("wirewatch"))
HOSTS = [f"127.0.0.{n}" for n in range(2, 10)]
TEASER_WORDS = 25


def _server(host: str, routes: dict[str, tuple[bytes, str]]) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = routes.get(self.path, (b"not found", ""))
            self.send_response(200 if kind else 404)
            self.send_header("Content-Type", kind or "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _rss(items: list[tuple[str, str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid>{escape(link)}</guid><description>{escape(text)}</description></item>"
        for link, title, text in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>b</title>{entries}</channel></rss>'.encode()
    )


@contextmanager
def _served_feeds(folder: Path) -> Iterator[tuple[Path, int]]:
    """The catalog of the eight feeds, and the number of items they carry."""
    truth = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    page_routes: list[dict[str, tuple[bytes, str]]] = [{} for _ in HOSTS]
    feed_routes: dict[str, tuple[bytes, str]] = {}
    servers = [_server(host, routes) for host, routes in zip(HOSTS, page_routes, strict=True)]
    feed_server = _server("127.0.0.1", feed_routes)
    items: list[list[tuple[str, str, str]]] = [[] for _ in HOSTS]
    for n, key in enumerate(sorted(truth)):
        slot = n % len(HOSTS)
        html = gzip.decompress((DATA / "html" / f"{key}.html.gz").read_bytes())
        page_routes[slot][f"/p/{key}.html"] = (html, "text/html; charset=utf-8")
        host, port = HOSTS[slot], servers[slot].server_address[1]
        words = truth[key]["articleBody"].split()
        items[slot].append(
            (f"http://{host}:{port}/p/{key}.html", " ".join(words[:10]), " ".join(words[:TEASER_WORDS]))
        )
    catalog = ["version: 1", "feeds:"]
    port = feed_server.server_address[1]
    for slot, feed_items in enumerate(items):
        feed_routes[f"/feed-{slot}.xml"] = (_rss(feed_items), "application/rss+xml")
        catalog += [
            f"- url: http://127.0.0.1:{port}/feed-{slot}.xml",
            f"  name: Bench {slot}",
            "  allow_private: true",
        ]
    path = folder / "feeds.yaml"
    path.write_text("\n".join(catalog) + "\n", encoding="utf-8")
    try:
        yield path, sum(len(feed_items) for feed_items in items)
    finally:
        for server in (*servers, feed_server):
            server.shutdown()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(catalog: Path, store: Path, pages: bool) -> dict[str, Any]:
    argv = [WIREWATCH, "run", "--feeds", str(catalog), "--store", str(store), "--json"]
    argv += [] if pages else ["--no-fetch-pages"]
    env = {**os.environ, "NO_PROXY": "127.0.0.0/8", "no_proxy": "127.0.0.0/8"}
    cpu, started = _children_cpu(), time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    wall, cpu = time.monotonic() - started, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"wirewatch run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    counts = {key: summary[key] for key in ("written", "pages_fetched", "pages_extracted")}
    return {"wall_s": wall, "cpu_s": cpu, **counts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"bench_pages: {DATA} is missing (the real article pages)", file=sys.stderr)
        return 2
    runs: dict[str, list[dict[str, Any]]] = {"feed text only": [], "with pages": []}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, _served_feeds(Path(tmp)) as (catalog, items):
        for n in range(args.rounds):
            for name, pages in (("feed text only", False), ("with pages", True)):
                result = _run(catalog, Path(tmp) / f"{n}-{pages}.db", pages)
                runs[name].append(result)
                print(f"round {n + 1}: {name}: {result}", file=sys.stderr)
    med = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    base, full = med["feed text only"], med["with pages"]
    report = {
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "load_average_at_start": round(load, 2),
        "items": items,
        "hosts": len(HOSTS),
        "rounds": args.rounds,
        "runs": runs,
        "medians": med,
        "cpu_ratio": round(full["cpu_s"] / base["cpu_s"], 2),
        "wall_ratio": round(full["wall_s"] / base["wall_s"], 2),
        "extra_cpu_ms_per_page": round(
            1000 * (full["cpu_s"] - base["cpu_s"]) / max(1, full["pages_fetched"]), 1
        ),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pages_bench.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "pages_bench.md").write_text(_markdown(report), encoding="utf-8")
    print(_markdown(report))
    return 0


def _row(name: str, m: dict[str, float]) -> str:
    counts = " | ".join(f"{m[key]:.0f}" for key in ("written", "pages_fetched", "pages_extracted"))
    return f"| {name} | {m['wall_s']:.1f} | {m['cpu_s']:.2f} | {counts} |"


def _markdown(r: dict[str, Any]) -> str:
    base, full = r["medians"]["feed text only"], r["medians"]["with pages"]
    return f"""# Fetching linked pages: the cost on a feed-only run

Reproduce: `make bench-pages` (`.venv/bin/python benchmarks/bench_pages.py`).
Generated {r["generated"]} (Python {r["python"]}), load average {r["load_average_at_start"]} at the start.

{r["items"]} teaser items ({TEASER_WORDS} words of a real article's body) in {r["hosts"]} feeds on 127.0.0.1,
each linking to its real page on one of {r["hosts"]} hosts (127.0.0.2 …). `wirewatch run --feeds` into a new
embedded store, alternating, {r["rounds"]} rounds; medians. CPU: the run's processes (user + system).

| run | wall s | CPU s | written | pages fetched | text used |
|---|---:|---:|---:|---:|---:|
{_row("`--no-fetch-pages`", base)}
{_row("default (pages)", full)}

- CPU with pages / without: **{r["cpu_ratio"]}×**; wall: {r["wall_ratio"]}×.
- Extra CPU per fetched page: **{r["extra_cpu_ms_per_page"]} ms** (fetch, robots.txt, extraction,
  and the longer text's normalization, dedup and tagging downstream).
- The wall time with pages is mostly the per-host pause: 1 s between two requests to one host.
"""


if __name__ == "__main__":
    raise SystemExit(main())
