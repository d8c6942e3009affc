"""Evaluate page extraction (connectors.page_fetch.fetch_page) on real article pages with known bodies.

Data: ../shared/data/articles, the pages of the scrapinghub article-extraction-benchmark
(html/<id>.html.gz) and their human-checked bodies (ground-truth.json, {id: {articleBody, url}}).

Each page is served gzip-encoded as text/html (no charset: the decoder finds it) by an HTTP server
on 127.0.0.1 in a child process, next to a robots.txt that allows everything, and goes through
`fetch_page` as the pipeline calls it: SSRF check (allow_private=True here), robots.txt, the host
limiter (min_delay_s=0 so the eval is quick; the pipeline pauses 1 s between two requests to a
host), fetch, decode, trafilatura. A page that comes back with any other status than "extracted"
counts as failed and scores an empty text.

Metric: the benchmark's own (its evaluate.py): tokens are the `\\w+` runs of the text; a page's
true positives, false positives and false negatives are counted over its multiset of 4-token
shingles and normalized by their sum, so long pages weigh no more than short ones; precision and
recall are the means over the pages where they are defined; F1 is their harmonic mean. The mean of
the per-page F1 is reported too. Speed: pages per second per core (CPU time of this process; the
server runs in another one) for extraction alone and for fetch + extraction. A table compares
trafilatura settings on extraction alone, which is how the settings of `extract_text` were chosen.
Results go to benchmarks/results/extract_eval.json and .md.

    .venv/bin/python benchmarks/eval_extract.py
    .venv/bin/python benchmarks/eval_extract.py --data ../shared/data/articles
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import gzip
import http.server
import json
import logging
import multiprocessing
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from multiprocessing.queues import Queue
from typing import Any

import requests
import trafilatura

from connectors.feed_schedule import HostLimiter
from connectors.http_fetch import FetchPolicy
from connectors.page_fetch import EXTRACTOR, decode_html, extract_text, fetch_page
from connectors.robots import RobotsCache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
DEFAULT_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "articles")
SHINGLE_N = 4
_TOKEN = re.compile(r"\w+")
ROBOTS_TXT = b"User-agent: *\nAllow: /\n"

# Settings compared on extraction alone; "chosen" is what connectors.page_fetch.extract_text uses.
SETTINGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "favor_precision": {"favor_precision": True},
    "favor_recall": {"favor_recall": True},
    "no tables": {"include_tables": False},
    "fast": {"fast": True},
    "fast + favor_precision": {"fast": True, "favor_precision": True},
    "chosen: fast + favor_recall": {"fast": True, "favor_recall": True},
}

Scores = tuple[float, float, float]  # normalized (tp, fp, fn) of one page


# --- the benchmark's metric ------------------------------------------------------------------------


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    # A text shorter than n tokens is one short shingle, as in the benchmark.
    return Counter(
        tuple(tokens[i : i + SHINGLE_N]) for i in range(max(1, len(tokens) - SHINGLE_N + 1)) if tokens
    )


def page_scores(true: str, pred: str) -> Scores:
    """(tp, fp, fn) over 4-token shingles, normalized to sum to 1 (all 0 when both texts are empty)."""
    want, got = _shingles(true), _shingles(pred)
    tp = sum((want & got).values())
    fp = sum((got - want).values())
    fn = sum((want - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else 0.0 if tp == fn == 0 else tp / (tp + fn)


def shingle_f1(true: str, pred: str) -> float:
    """One page's F1 over 4-token shingles (0.0 when nothing matches)."""
    scores = page_scores(true, pred)
    p, r = _precision(*scores), _recall(*scores)
    return 2 * p * r / (p + r) if p + r else 0.0


def summarize(scores: Sequence[Scores]) -> dict[str, float]:
    """Mean precision and recall over the pages where each is defined, F1 of the two, mean page F1."""
    precision = statistics.mean(_precision(*s) for s in scores if s[0] + s[1] > 0)
    recall = statistics.mean(_recall(*s) for s in scores if s[0] + s[2] > 0)
    page_f1 = []
    for s in scores:
        p, r = _precision(*s), _recall(*s)
        page_f1.append(2 * p * r / (p + r) if p + r else 0.0)
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
        "mean_page_f1": statistics.mean(page_f1),
    }


# --- the pages and their server --------------------------------------------------------------------


def load_pages(data: str) -> tuple[dict[str, bytes], dict[str, dict[str, str]]]:
    """{id: gzip bytes} and the ground truth; exits with a message when the data is missing."""
    truth_path = os.path.join(data, "ground-truth.json")
    paths = sorted(glob.glob(os.path.join(data, "html", "*.html.gz")))
    if not os.path.isfile(truth_path) or not paths:
        sys.exit(
            f"eval-extract: no article data at {data} (need ground-truth.json and html/*.html.gz): "
            "put the article-extraction benchmark there or pass --data"
        )
    with open(truth_path, encoding="utf-8") as f:
        truth: dict[str, dict[str, str]] = json.load(f)
    pages = {}
    for path in paths:
        with open(path, "rb") as f:
            pages[os.path.basename(path).split(".")[0]] = f.read()
    missing = sorted(set(truth) - set(pages))
    if missing:
        sys.exit(
            f"eval-extract: {len(missing)} ground-truth pages missing from {data}/html, e.g. {missing[0]}"
        )
    return pages, truth


def _serve(pages: dict[str, bytes], port_queue: Queue[int]) -> None:
    """The child process: /robots.txt and /<id>.html (gzip) until it is terminated."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                body, headers = ROBOTS_TXT, {"Content-Type": "text/plain"}
            else:
                body = pages.get(self.path.strip("/").removesuffix(".html"), b"")
                headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
                if not body:
                    self.send_error(404)
                    return
            self.send_response(200)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        port_queue.put(int(server.server_address[1]))
        server.serve_forever()


# --- the evaluation --------------------------------------------------------------------------------


def _cpu_rate(count: int, run: Callable[[], object]) -> float:
    start = time.process_time()
    run()
    return count / (time.process_time() - start)


def compare_settings(pages: dict[str, bytes], truth: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Extraction alone with each of SETTINGS (the page URL given, as fetch_page gives it)."""
    html = {key: decode_html(gzip.decompress(body), None) for key, body in pages.items()}
    rows = []
    for name, options in SETTINGS.items():
        texts: dict[str, str] = {}

        def run(options: dict[str, Any] = options, texts: dict[str, str] = texts) -> None:
            for key in truth:
                texts[key] = (
                    trafilatura.extract(html[key], url=truth[key]["url"], include_comments=False, **options)
                    or ""
                )

        rate = _cpu_rate(len(truth), run)
        metrics = summarize([page_scores(truth[k]["articleBody"], texts[k]) for k in truth])
        rows.append({"settings": name, "options": options, **metrics, "pages_per_s_per_core": rate})
        print(f"{name}: F1 {metrics['f1']:.4f}", file=sys.stderr)
    return rows


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    pages, truth = load_pages(args.data)
    context = multiprocessing.get_context("spawn")
    port_queue: Queue[int] = context.Queue()
    server = context.Process(target=_serve, args=(pages, port_queue), daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=30)
        policy = FetchPolicy(allow_private=True)
        limiter = HostLimiter(min_delay_s=0.0)
        robots = RobotsCache()
        results = {}
        now = dt.datetime.now(dt.UTC)
        with requests.Session() as session:

            def fetch_all() -> None:
                for key in truth:
                    url = f"http://127.0.0.1:{port}/{key}.html"
                    results[key] = fetch_page(
                        url, policy=policy, session=session, robots=robots, limiter=limiter, now=now
                    )

            wall = time.perf_counter()
            fetch_rate = _cpu_rate(len(truth), fetch_all)
            wall = time.perf_counter() - wall
    finally:
        server.terminate()
        server.join()

    # Extraction alone, on the same bytes the fetch got (decompressed), as fetch_page decodes them.
    html = {key: decode_html(gzip.decompress(pages[key]), None) for key in truth}
    extract_rate = _cpu_rate(
        len(truth), lambda: [extract_text(html[key], f"http://127.0.0.1/{key}.html") for key in truth]
    )
    scores = {key: page_scores(truth[key]["articleBody"], results[key].text or "") for key in truth}
    failed = {
        key: {"status": r.extraction.status, "reason": r.extraction.reason}
        for key, r in results.items()
        if r.extraction.status != "extracted"
    }
    worst = sorted(truth, key=lambda key: shingle_f1(truth[key]["articleBody"], results[key].text or ""))
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpu": platform.processor(), "cores_used": 1},
        "extractor": EXTRACTOR,
        "data": os.path.relpath(args.data, ROOT),
        "pages": len(truth),
        "failed": failed,
        "metrics": summarize(list(scores.values())),
        "speed": {
            "extract_pages_per_s_per_core": extract_rate,
            "fetch_extract_pages_per_s_per_core": fetch_rate,
            "fetch_extract_pages_per_s_wall": len(truth) / wall,
            "host_limiter_min_delay_s": 0.0,
        },
        "worst_pages": [
            {
                "id": key,
                "url": truth[key]["url"],
                "f1": shingle_f1(truth[key]["articleBody"], results[key].text or ""),
                "words_true": len(truth[key]["articleBody"].split()),
                "words_extracted": results[key].extraction.word_count,
            }
            for key in worst[:10]
        ],
        "settings": compare_settings(pages, truth) if not args.no_settings else [],
    }


def render(report: dict[str, Any]) -> str:
    m, speed = report["metrics"], report["speed"]
    lines = [
        "# Page extraction: evaluation",
        "",
        "Reproduce:",
        "",
        "```",
        "make eval-extract   # .venv/bin/python benchmarks/eval_extract.py",
        "```",
        "",
        f"Generated {report['generated_at']} (Python {report['machine']['python']}, {report['extractor']}).",
        "",
        f"{report['pages']} real article pages ({report['data']}: the pages of the scrapinghub "
        "article-extraction-benchmark with human-checked bodies), each served gzip-encoded as text/html "
        "by a local HTTP server "
        "on 127.0.0.1 with a robots.txt allowing all, and run through `connectors.page_fetch.fetch_page` "
        "(robots.txt, host limiter, fetch, decode, trafilatura). The host limiter's pause is 0 s here so "
        "the eval is quick (the pipeline's is 1 s); allow_private is on for the local server.",
        "",
        "Metric: the benchmark's (its evaluate.py): precision and recall over the multiset of 4-token "
        "shingles of `\\w+` tokens, normalized per page, averaged over pages; F1 is the harmonic mean of "
        "the two means. A failed page scores an empty text.",
        "",
        "## Result",
        "",
        f"precision **{m['precision']:.4f}**, recall **{m['recall']:.4f}**, F1 **{m['f1']:.4f}** "
        f"(mean per-page F1 {m['mean_page_f1']:.4f}); {report['pages']} pages, "
        f"{len(report['failed'])} failed.",
        "",
        "| speed (one core, CPU time) | pages/s |",
        "|---|---:|",
        f"| extraction alone (decode + trafilatura) | {speed['extract_pages_per_s_per_core']:.1f} |",
        f"| fetch + extraction (`fetch_page`) | {speed['fetch_extract_pages_per_s_per_core']:.1f} |",
        f"| fetch + extraction, wall clock, one thread | {speed['fetch_extract_pages_per_s_wall']:.1f} |",
        "",
    ]
    if report["failed"]:
        lines += ["Failed pages:", ""]
        lines += [f"- {key}: {v['status']} ({v['reason']})" for key, v in report["failed"].items()]
        lines.append("")
    lines += ["Lowest page F1:", "", "| page | F1 | words (truth / extracted) |", "|---|---:|---:|"]
    lines += [
        f"| {w['url']} | {w['f1']:.3f} | {w['words_true']} / {w['words_extracted']} |"
        for w in report["worst_pages"]
    ]
    if report["settings"]:
        lines += [
            "",
            "## trafilatura settings (extraction alone, comments off, page URL given)",
            "",
            "| settings | precision | recall | F1 | pages/s/core |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {row['settings']} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} "
            f"| {row['pages_per_s_per_core']:.1f} |"
            for row in report["settings"]
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=DEFAULT_DATA, help="folder with ground-truth.json and html/")
    parser.add_argument("--out", default=RESULTS, help="folder for extract_eval.json and .md")
    parser.add_argument("--no-settings", action="store_true", help="skip the trafilatura settings table")
    args = parser.parse_args(argv)
    # trafilatura warns per page about encodings it guesses; the scores say what matters.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    report = evaluate(args)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "extract_eval.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "extract_eval.md"), "w", encoding="utf-8") as f:
        f.write(render(report))
    m = report["metrics"]
    print(
        f"P {m['precision']:.4f} R {m['recall']:.4f} F1 {m['f1']:.4f}, "
        f"{report['pages']} pages, {len(report['failed'])} failed",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
