"""Benchmark: how long after a publisher adds an item to its feed it is searchable in Elasticsearch.

`wirewatch stream` runs as a user starts it (the CLI in a subprocess, on Prism, writing to a local
Elasticsearch) and polls one RSS feed served from this process on 127.0.0.1. Items are added one
at a time at a steady pace; for each, t_added is when the served feed started to include it and
t_searchable is when a search (no forced refresh: the index's own 1 s refresh, as users get it)
first returned it. Also recorded: when a poll first fetched the item, which splits the latency
into waiting for the next poll and the pipeline plus the refresh. Results go to
benchmarks/results/stream_latency.json and .md.

    python benchmarks/bench_stream.py --es-url http://127.0.0.1:9200 --items 120 --pace 0.5
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.server
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email.utils import format_datetime
from hashlib import sha256
from typing import Any
from xml.sax.saxutils import escape

from elasticsearch import Elasticsearch

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
WIREWATCH = os.path.join(os.path.dirname(sys.executable), "wirewatch")
FEED_WINDOW = 50  # like a real feed, only the newest items are listed
ES_POLL_S = 0.05  # how often the searchable check runs: the resolution of t_searchable


# --- the publisher ------------------------------------------------------------------------------


class Feed:
    """An RSS feed with an ETag that answers conditional GETs; notes when each item was added and
    when a 200 answer first carried it."""

    def __init__(self, token: str) -> None:
        self.token = token
        self._lock = threading.Lock()
        self._items: list[tuple[str, str]] = []  # (title, <item> xml), oldest first
        self.added: dict[str, float] = {}
        self.served: dict[str, float] = {}
        self.answers = {"200": 0, "304": 0}
        self._body = b""
        self._etag = ""
        self._render()

    def publish(self, n: int) -> str:
        title = f"Latency item {n} {self.token}"
        published = format_datetime(dt.datetime.now(dt.UTC), usegmt=True)
        xml = (
            f"<item><title>{escape(title)}</title>"
            f'<guid isPermaLink="false">urn:wirewatch-bench:{self.token}:{n}</guid>'
            f"<pubDate>{published}</pubDate><description>Item {n}: the minister spoke about the border "
            f"talks, the ceasefire and the summit that follows next week.</description></item>"
        )
        with self._lock:
            self._items.append((title, xml))
            self._render()
            self.added[title] = time.monotonic()  # from now on every answer includes it
        return title

    def answer(self, if_none_match: str | None) -> tuple[int, bytes, str]:
        with self._lock:
            if if_none_match == self._etag:
                self.answers["304"] += 1
                return 304, b"", self._etag
            self.answers["200"] += 1
            now = time.monotonic()
            for title, _ in self._items[-FEED_WINDOW:]:
                self.served.setdefault(title, now)
            return 200, self._body, self._etag

    def _render(self) -> None:
        items = "".join(xml for _, xml in reversed(self._items[-FEED_WINDOW:]))
        self._body = (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>Wirewatch latency benchmark</title><link>https://example.com/</link>{items}"
            "</channel></rss>"
        ).encode()
        self._etag = f'"{sha256(self._body).hexdigest()[:16]}"'


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    feed: Feed

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        status, body, etag = self.feed.answer(self.headers.get("If-None-Match"))
        self.send_response(status)
        self.send_header("ETag", etag)
        if status == 200:
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(feed: Feed) -> http.server.ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"feed": feed})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


# --- the reader ---------------------------------------------------------------------------------


class Watcher(threading.Thread):
    """Searches for the items added and not yet found, every ES_POLL_S, and notes when each appears."""

    def __init__(self, client: Elasticsearch, alias: str, feed: Feed) -> None:
        super().__init__(daemon=True)
        self._client = client
        self._alias = alias
        self._feed = feed
        self.found: dict[str, float] = {}
        self.stop = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self._watch()
        except Exception as exc:  # noqa: BLE001  (reported by the main thread)
            self.error = exc

    def _watch(self) -> None:
        # 404 before the stream creates the index, 503 for a moment while its shard starts.
        client = self._client.options(ignore_status=(404, 503), max_retries=0)
        while not self.stop.wait(ES_POLL_S):
            pending = [t for t in list(self._feed.added) if t not in self.found]
            if not pending:
                continue
            answer = client.search(
                index=self._alias,
                query={"terms": {"title.keyword": pending}},
                size=len(pending),
                source_includes=["title"],
            )
            now = time.monotonic()
            for hit in answer.body.get("hits", {}).get("hits", []):
                self.found.setdefault(hit["_source"]["title"], now)


# --- the stream ---------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{name}/stat", encoding="ascii") as handle:
                if int(handle.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(name))
    return found


def _kill_all(process: subprocess.Popen[bytes], prisms: set[int]) -> None:
    """SIGKILL the CLI's group and the Prism servers it started (they have a session of their own)."""
    if process.poll() is None:
        prisms.update(_children(process.pid))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for pid in prisms:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as handle:
            if os.path.basename(handle.read().split(b"\0")[0]) == b"prism":
                os.killpg(pid, signal.SIGKILL)


def _delete_prefix(client: Elasticsearch, prefix: str) -> None:
    client.options(ignore_status=404).indices.delete(index=f"{prefix}-*", expand_wildcards="all")
    templates = client.options(ignore_status=404).indices.get_index_template(name=f"{prefix}-*")
    for template in templates.get("index_templates", []):
        client.indices.delete_index_template(name=template["name"])
    components = client.options(ignore_status=404).cluster.get_component_template(name=f"{prefix}-*")
    for component in components.get("component_templates", []):
        client.cluster.delete_component_template(name=component["name"])


def _percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 3),
        "p50": round(_percentile(values, 50), 3),
        "p95": round(_percentile(values, 95), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def measure(args: argparse.Namespace, folder: str) -> dict[str, Any]:
    token = uuid.uuid4().hex[:8]
    prefix = f"bench-stream-{token}"
    alias = f"{prefix}-articles"
    feed = Feed(token)
    server = serve(feed)
    client = Elasticsearch(args.es_url, request_timeout=30)
    catalog = os.path.join(folder, "feeds.yaml")
    with open(catalog, "w", encoding="utf-8") as handle:
        handle.write(
            "version: 1\nfeeds:\n"
            f"- url: http://127.0.0.1:{server.server_address[1]}/wire.xml\n"
            "  name: Latency benchmark wire\n  allow_private: true\n"
        )
    argv = [
        WIREWATCH,
        "stream",
        "--feeds",
        catalog,
        "--es-url",
        args.es_url,
        "--es-index-prefix",
        prefix,
        "--poll-interval",
        str(args.poll_interval),
        "--poll-tick",
        str(args.poll_tick),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("ELASTICSEARCH_URL", "WIREWATCH_ES_INDEX_PREFIX")}
    out_path, err_path = os.path.join(folder, "stream.stdout"), os.path.join(folder, "stream.stderr")
    prisms: set[int] = set()
    watcher = Watcher(client, alias, feed)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        launched = time.monotonic()
        process = subprocess.Popen(argv, cwd=folder, env=env, stdout=out, stderr=err, start_new_session=True)

        def fail(message: str) -> SystemExit:
            with open(err_path, encoding="utf-8", errors="replace") as handle:
                return SystemExit(f"{message}\n--- stream stderr (tail)\n{handle.read()[-3000:]}")

        try:
            watcher.start()
            # Warm-up: item 0 is searchable once the stream runs; it is not part of the figures.
            warmup = feed.publish(0)
            while warmup not in watcher.found:
                if watcher.error is not None:
                    raise fail(f"searching Elasticsearch failed: {watcher.error!r}")
                if process.poll() is not None or time.monotonic() - launched > args.timeout:
                    raise fail("the stream did not index its first item")
                time.sleep(0.05)
            prisms.update(_children(process.pid))
            startup_s = watcher.found[warmup] - launched
            print(f"stream up: first item searchable {startup_s:.1f} s after launch", flush=True)

            started = time.monotonic()
            titles = []
            for n in range(1, args.items + 1):
                time.sleep(max(0.0, started + (n - 1) * args.pace - time.monotonic()))
                titles.append(feed.publish(n))
            deadline = time.monotonic() + args.timeout
            while any(t not in watcher.found for t in titles) and time.monotonic() < deadline:
                if process.poll() is not None:
                    raise fail("the stream exited during the measurement")
                if watcher.error is not None:
                    raise fail(f"searching Elasticsearch failed: {watcher.error!r}")
                time.sleep(0.1)
            watcher.stop.set()
            watcher.join()

            process.send_signal(signal.SIGINT)
            try:
                exit_code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                raise fail("the stream did not stop within 60 s of SIGINT") from None
        finally:
            watcher.stop.set()
            _kill_all(process, prisms)
            server.shutdown()
            server.server_close()

    with open(out_path, encoding="utf-8", errors="replace") as handle:
        stopped = next(
            (line for line in reversed(handle.read().splitlines()) if line.startswith("stopped:")), ""
        )
    try:
        client.indices.refresh(index=alias)  # after the measurement: only to count what was stored
        per_title = client.search(
            index=alias,
            size=0,
            aggs={"titles": {"terms": {"field": "title.keyword", "size": 10 * (args.items + 1)}}},
        ).body["aggregations"]["titles"]["buckets"]
        stored = int(client.count(index=alias)["count"])
    finally:
        _delete_prefix(client, prefix)
        client.close()

    found = [t for t in titles if t in watcher.found]
    latency = [watcher.found[t] - feed.added[t] for t in found]
    to_fetch = [feed.served[t] - feed.added[t] for t in found if t in feed.served]
    fetch_to_searchable = [watcher.found[t] - feed.served[t] for t in found if t in feed.served]
    duplicated = sorted(b["key"] for b in per_title if b["doc_count"] > 1)
    if not latency:
        raise SystemExit("no item became searchable")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "runner": "Prism (wirewatch stream, LOOPBACK workers)",
        "poll_interval_s": args.poll_interval,
        "poll_tick_s": args.poll_tick,
        "items": args.items,
        "pace_s": args.pace,
        "feed_window": FEED_WINDOW,
        "search_poll_s": ES_POLL_S,
        "refresh": "index refresh_interval 1s, never forced during the measurement",
        "startup_to_first_searchable_s": round(startup_s, 2),
        "searchable": len(found),
        "not_searchable_within_timeout": len(titles) - len(found),
        "latency_s": _summary(latency),
        "added_to_first_fetch_s": _summary(to_fetch),
        "first_fetch_to_searchable_s": _summary(fetch_to_searchable),
        "feed_answers": dict(feed.answers),
        "stored_documents": stored,
        "expected_documents": args.items + 1,
        "duplicated_titles": len(duplicated),
        "stream_exit_code": exit_code,
        "stream_stopped_line": stopped,
    }


def write_results(result: dict[str, Any]) -> None:
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "stream_latency.json"), "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
        handle.write("\n")
    rows = [
        ("added → searchable", result["latency_s"]),
        ("added → first fetched by a poll", result["added_to_first_fetch_s"]),
        ("first fetched → searchable", result["first_fetch_to_searchable_s"]),
    ]
    stopped = re.sub(r"^stopped: ", "", result["stream_stopped_line"]) or "(no line)"
    lines = [
        f"# Streaming latency: feed item → searchable in Elasticsearch ({result['date']})",
        "",
        f"`wirewatch stream --poll-interval {result['poll_interval_s']} --poll-tick {result['poll_tick_s']}` "
        f"on Prism, one RSS feed on 127.0.0.1 (ETags, newest {result['feed_window']} items), "
        f"Elasticsearch on the same machine ({result['machine']}). {result['items']} items added one every "
        f"{result['pace_s']} s after a warm-up item; searchable = first returned by a search run every "
        f"{result['search_poll_s']} s, refresh left to the index's 1 s refresh_interval (never forced). "
        "Reproduce: `python benchmarks/bench_stream.py`.",
        "",
        "| seconds | min | p50 | p95 | max | mean |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {label} | {s['min']} | {s['p50']} | {s['p95']} | {s['max']} | {s['mean']} |" for label, s in rows
    ]
    lines += [
        "",
        f"- searchable: {result['searchable']} of {result['items']} "
        f"({result['not_searchable_within_timeout']} not within the timeout)",
        f"- stored documents: {result['stored_documents']} (expected {result['expected_documents']}), "
        f"titles stored more than once: {result['duplicated_titles']}",
        f"- feed answers: {result['feed_answers']['200']} × 200, {result['feed_answers']['304']} × 304",
        f"- startup (launch → warm-up item searchable): {result['startup_to_first_searchable_s']} s",
        f"- stream stopped by SIGINT with exit code {result['stream_exit_code']}: {stopped}",
    ]
    with open(os.path.join(RESULTS, "stream_latency.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--es-url", default=os.environ.get("ELASTICSEARCH_URL", "http://127.0.0.1:9200"))
    parser.add_argument("--items", type=int, default=120, help="items to add (after one warm-up item)")
    parser.add_argument("--pace", type=float, default=0.5, help="seconds between two added items")
    parser.add_argument("--poll-interval", type=int, default=1, help="wirewatch stream --poll-interval")
    parser.add_argument("--poll-tick", type=float, default=0.5, help="wirewatch stream --poll-tick")
    parser.add_argument("--timeout", type=float, default=120, help="startup and per-run wait limit (s)")
    args = parser.parse_args()
    if args.items < 2:
        parser.error("--items must be at least 2")
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as folder:
        result = measure(args, folder)
    write_results(result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
