"""Benchmark: deduplication throughput on one core, and the size of the dedup state at 1M documents.

The issue: "Throughput of signature computation and candidate lookup (docs/s per core) at 100k
documents, and memory of the dedup state for 1M documents in the embedded store. Target:
>= 5,000 docs/s/core for signatures; state for 1M documents <= 300 MB."

Corpus: --docs synthetic articles (seeded RNG) of 3-5 KB, words drawn with their real frequencies
from the RSS captures and seed articles, from 200 outlets (half of whose items end in the outlet's
boilerplate), each with its own canonical URL and (mostly) a global GUID, built with
`pipelines.normalize.normalize_record` like real feed items. ~10 % are syndicated near copies of an
earlier article (new headline; byline, boilerplate, truncation, changed words and combinations)
and ~2 % exact copies (same text, another outlet).

Measured in one process pinned to one core, after a warm-up, one run each:

1. signatures: `schemas.near_dup.minhash_array` alone (one-permutation hashing), the whole
   `schemas.dedup.fingerprint` (exact keys + signature + LSH band keys), and as the baseline the
   classic k-permutation MinHash implemented here: the same shingle hashes
   (`schemas.near_dup._shingle_hashes`) through 128 multiply-shift permutations, the minimum of each;
2. lookup + decision: the first half is decided and written to a fresh LocalStore with its keys
   (as `pipelines.dedup` does); the second half is then looked up in chunks of 200
   (`pipelines.dedup.lookup_chunk`) and decided by one `DuplicateResolver`, as a batch run does.
   Baseline: brute force, every sampled document compared with the signatures of all stored
   canonical articles held in memory;
3. state at --state-docs canonical documents: the postings of each article's exact keys (URL,
   global GUID, text; made by `schemas.dedup.document_keys`, the id key is not stored), band keys
   (`DEFAULT_CONFIG.bands` of them) and a full article's indexed lead key (the first `LEAD_DEPTHS`
   rung's, `schemas.near_dup.indexed_lead_key`; the deeper rungs and the title's ride in the
   ladder of its `dedup_docs` row, not measured here) in the one `dedup_index` table, packed by
   `connectors.localstore.posting`, inserted in article order, 1,000 articles per transaction like
   `write_articles`, plus a minimal `articles` row each whose `doc` JSON carries the fields `lookup`
   verifies exact keys against; size by dbstat (`LocalStore.dedup_state_bytes`), file size, and a
   fresh process doing 10k lookups against it (latency, peak RSS, false candidates).

Results go to benchmarks/results/dedup_bench.json and .md.

    .venv/bin/python benchmarks/bench_dedup.py [--docs 100000] [--state-docs 1000000]
    .venv/bin/python benchmarks/bench_dedup.py --docs 5000 --state-docs 50000   # quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import math
import os
import platform
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from connectors.localstore import _HASH_BITS, MAX_ROWID, LocalStore, posting
from schemas.dedup import DedupConfig, Fingerprint, document_keys, fingerprint, is_id_key
from schemas.near_dup import (
    DEFAULT_CONFIG,
    INDEXED_LEAD_DEPTH,
    LEAD_PREFIX,
    _shingle_hashes,
    minhash_array,
)

# The same headline and byline edits, and truncation, as the evaluation set (run as a script, this
# folder is on sys.path); the boilerplate and replacement words here are the bench's own.
from eval_dedup import _BYLINES, _HEADLINES, _truncate  # isort: skip

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_FEEDS = REPO.parent / "shared" / "data" / "feeds" / "news"
DEFAULT_SEEDS = REPO / "seeds"

U64 = npt.NDArray[np.uint64]

TARGET_SIGNATURES_PER_S = 5_000
TARGET_STATE_BYTES = 300_000_000  # "300 MB", decimal (286 MiB)
RNG_SEED = 20260217
OUTLETS = 200
NEAR_COPY_SHARE = 0.10
EXACT_COPY_SHARE = 0.02
LOOKUP_CHUNK = 200  # as pipelines.dedup.LOOKUP_CHUNK (checked when that module is imported)
WRITE_BATCH = 1_000
BRUTE_SAMPLE = 1_000
# Share of real feed items whose exact keys include a global GUID (measured on the captures: 600 of
# 607 items); the rest have the id, URL and text keys only.
GLOBAL_GUID_SHARE = 0.98
PERMALINK_GUID_SHARE = 0.7  # GUIDs that are the item's URL (the rest: tag: URIs and the like)
STATE_NEAR_KEYS = DEFAULT_CONFIG.bands  # band keys per canonical article
# A full article's indexed lead keys (schemas.near_dup.indexed_lead_key): the first rung's.
STATE_LEAD_KEYS = 1
BASELINE_NUM_PERM = 128  # the k-permutation MinHash baseline
BASELINE_SEED = 20260218
START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)

_BOILERPLATE = (
    "Copyright 2026 The Associated Press. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed without permission.",
    "(Except for the headline, this story has not been edited by our staff and is published from a "
    "syndicated feed.)",
    "Reporting by Maria Keller; additional reporting by Li Wei; editing by James Ortega and Anna "
    "Schmidt. Our standards: the Trust Principles.",
)
_FILLER = "the a officials said on monday reportedly government sources country minister new".split()
_RECIPES = (
    "byline",
    "boilerplate",
    "truncate",
    "words",
    "byline+words",
    "truncate+boilerplate",
    "all",
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pin_to_one_core() -> int | None:
    """Run on one CPU (the last one), so that every figure is per core."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def proc_status_bytes(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status: VmRSS (now) or VmHWM (peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def maxrss_bytes() -> int:
    """resource.getrusage's peak RSS (kilobytes on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.quantile(np.asarray(values), q))


# -- corpus ---------------------------------------------------------------------------------------


def real_texts(feeds: Path, seeds: Path) -> list[str]:
    """Bodies (as text) of the captured feed items and the seed articles."""
    from connectors.feed_parse import parse_feed
    from connectors.seedio import parse_seed
    from schemas.feeds import FeedSpec
    from schemas.text import clean_text, html_to_text

    now = dt.datetime.now(dt.UTC)
    texts: list[str] = []
    for path in sorted(feeds.glob("*.xml")):
        spec = FeedSpec(url=f"https://feeds.example.com/{path.stem}.xml", name=path.stem)
        for rec in parse_feed(path.read_bytes(), {}, spec, fetched_at=now).records:
            raw = rec.body or rec.summary or ""
            texts.append(html_to_text(raw) if rec.body_format == "html" or "<" in raw else clean_text(raw))
    for name in sorted(glob.glob(str(seeds / "*.txt"))):
        with open(name, "rb") as fh:
            texts.append(parse_seed(name, fh.read(), read_at=now).body)
    return [t for t in texts if t.strip()]


@dataclass
class Vocabulary:
    words: list[str]
    cdf: npt.NDArray[np.float64]
    mean_chars: float  # mean length of a word plus its space, weighted by frequency

    @classmethod
    def of(cls, texts: Sequence[str]) -> Vocabulary:
        counts = Counter(w for t in texts for w in t.split())
        if len(counts) < 1000:
            raise SystemExit(f"only {len(counts)} distinct words in the real texts: check --feeds/--seeds")
        words = [w for w, _ in counts.most_common()]
        freq = np.array([counts[w] for w in words], dtype=np.float64)
        p = freq / freq.sum()
        mean_chars = float(np.dot(p, [len(w) + 1 for w in words]))
        return cls(words, np.cumsum(p), mean_chars)

    def sample(self, rng: np.random.Generator, n: int) -> list[str]:
        idx = np.searchsorted(self.cdf, rng.random(n) * self.cdf[-1], side="right")
        idx = np.minimum(idx, len(self.words) - 1)
        return [self.words[i] for i in idx.tolist()]


def paragraphs(words: list[str], rng: random.Random) -> str:
    """Words as paragraphs of 40-90 words (capitalized first word, final full stop)."""
    out: list[str] = []
    i = 0
    while i < len(words):
        n = rng.randint(40, 90)
        chunk = words[i : i + n]
        i += n
        chunk[0] = chunk[0][:1].upper() + chunk[0][1:]
        out.append(" ".join(chunk).rstrip(".,;:") + ".")
    return "\n\n".join(out)


def _replace_words(text: str, fraction: float, rng: random.Random) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), min(len(words), max(1, round(len(words) * fraction)))):
        words[i] = rng.choice(_FILLER)
    return " ".join(words)


def syndicate(body: str, recipe: str, rng: random.Random) -> str:
    """A syndicated near copy of `body` (the headline is replaced separately)."""
    if recipe == "byline":
        return f"{rng.choice(_BYLINES)} {body}"
    if recipe == "boilerplate":
        return f"{body}\n\n{rng.choice(_BOILERPLATE)}"
    if recipe == "truncate":
        return _truncate(body, rng.uniform(0.6, 0.9))
    if recipe == "words":
        return _replace_words(body, rng.uniform(0.01, 0.05), rng)
    if recipe == "byline+words":
        return f"{rng.choice(_BYLINES)} {_replace_words(body, 0.02, rng)}"
    if recipe == "truncate+boilerplate":
        return f"{_truncate(body, rng.uniform(0.6, 0.9))}\n\n{rng.choice(_BOILERPLATE)}"
    cut = _replace_words(_truncate(body, rng.uniform(0.6, 0.9)), rng.uniform(0.01, 0.05), rng)
    return f"{rng.choice(_BYLINES)} {cut}\n\n{rng.choice(_BOILERPLATE)}"


@dataclass
class Corpus:
    articles: list[Any]  # schemas.records.Article
    origin: list[int | None]  # for a planted copy, the index of the article it copies
    kind: list[str]  # "original", "exact" or the near-copy recipe
    mean_body_bytes: float
    mean_words: float
    generate_seconds: float


def make_corpus(n: int, vocab: Vocabulary, seed: int) -> Corpus:
    """`n` articles in publication order, built from RawRecords by normalize_record."""
    from pipelines.normalize import normalize_record
    from schemas.records import PipelineInfo, RawRecord, Source

    started = time.perf_counter()
    rng = random.Random(seed)
    nrng = np.random.Generator(np.random.PCG64(seed))
    info = PipelineInfo(version="bench", run_id="bench-dedup")
    outlets = [
        f"{rng.choice(('news', 'daily', 'times', 'post', 'wire'))}{o:03d}.example.com" for o in range(OUTLETS)
    ]
    footers = [paragraphs(vocab.sample(nrng, rng.randint(30, 50)), rng) for _ in range(OUTLETS)]
    with_footer = [rng.random() < 0.5 for _ in range(OUTLETS)]
    bodies: list[str] = []
    titles: list[str] = []
    originals: list[int] = []
    articles: list[Any] = []
    origin: list[int | None] = []
    kinds: list[str] = []
    for i in range(n):
        outlet = rng.randrange(OUTLETS)
        host = outlets[outlet]
        roll = rng.random()
        src: int | None = None
        if originals and len(originals) >= 100 and roll < EXACT_COPY_SHARE:
            src = rng.choice(originals)
            body, kind = bodies[src], "exact"
            title = rng.choice(_HEADLINES).format(w=" ".join(titles[src].split()[:4]))
        elif originals and len(originals) >= 100 and roll < EXACT_COPY_SHARE + NEAR_COPY_SHARE:
            src = rng.choice(originals)
            kind = rng.choice(_RECIPES)
            body = syndicate(bodies[src], kind, rng)
            title = rng.choice(_HEADLINES).format(w=" ".join(titles[src].split()[:4]))
        else:
            target = rng.uniform(3000, 5000) - (len(footers[outlet]) + 2 if with_footer[outlet] else 0)
            body = paragraphs(vocab.sample(nrng, max(50, int(target / vocab.mean_chars))), rng)
            if with_footer[outlet]:
                body = f"{body}\n\n{footers[outlet]}"
            title = " ".join(body.split()[: rng.randint(6, 12)]).rstrip(".,;:")
            kind = "original"
            originals.append(i)
        bodies.append(body)
        titles.append(title)
        published = START + dt.timedelta(seconds=3 * i)
        url = f"https://www.{host}/{published:%Y/%m/%d}/story-{i:07d}"
        guid_roll = rng.random()
        if guid_roll < 0.7:
            guid, permalink = url, True
        elif guid_roll < GLOBAL_GUID_SHARE:
            guid, permalink = f"tag:{host},2026:article-{i:07d}", False
        else:
            guid, permalink = None, False
        raw = RawRecord(
            source=Source(kind="feed", name=host, feed_url=f"https://{host}/rss.xml"),
            uri=url,
            body=body,
            title=title,
            url=url,
            guid=guid,
            guid_is_permalink=permalink,
            published_at=published,
            date_source="published",
            fetched_at=published + dt.timedelta(minutes=5),
        )
        articles.append(normalize_record(raw, ingested_at=START + dt.timedelta(days=2), pipeline=info))
        origin.append(src)
        kinds.append(kind)
        if (i + 1) % 10_000 == 0:
            log(f"  generated {i + 1:,} / {n:,} articles")
    return Corpus(
        articles=articles,
        origin=origin,
        kind=kinds,
        mean_body_bytes=float(np.mean([len(a.body.encode()) for a in articles])),
        mean_words=float(np.mean([a.word_count for a in articles])),
        generate_seconds=time.perf_counter() - started,
    )


# -- 1. signatures --------------------------------------------------------------------------------


class KPermutationMinHash:
    """The baseline: classic MinHash with `num_perm` independent hash functions (the textbook one).

    Each shingle hash x goes through every permutation h_i(x) = ((a_i * x + b_i) mod 2**64) >> 32
    (multiply-shift, a_i odd, 32-bit values as in `minhash_array`), and position i of the signature
    is the minimum of h_i over the shingle set: `num_perm` hashes per shingle where one-permutation
    hashing computes one. Same shingle hashes as `minhash_array` (`_shingle_hashes`), vectorized
    with numpy the same way, so the ratio of the two measures the signature scheme alone.
    """

    def __init__(self, num_perm: int, seed: int) -> None:
        rng = np.random.Generator(np.random.PCG64(seed))
        self.a: U64 = (rng.integers(0, 2**64, size=num_perm, dtype=np.uint64) | np.uint64(1))[:, None]
        self.b: U64 = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64)[:, None]
        self.num_perm = num_perm

    def __call__(self, text: str, k: int) -> U64:
        hashes = _shingle_hashes(text, k)
        if hashes.shape[0] == 0:
            return np.full(self.num_perm, (1 << 32) - 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            values = np.multiply.outer(self.a[:, 0], hashes)  # (num_perm, shingles)
            values += self.b
        values >>= np.uint64(32)
        result: U64 = values.min(axis=1)
        return result


def _timed(label: str, n: int, run: Any) -> dict[str, Any]:
    """Wall and CPU time of `run()` over `n` documents."""
    log(f"signatures: {label} over {n:,} articles")
    started, cpu = time.perf_counter(), time.process_time()
    run()
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    return {
        "seconds": round(seconds, 2),
        "docs_per_s": round(n / seconds),
        "cpu_seconds": round(cpu_s, 2),
        "docs_per_cpu_s": round(n / cpu_s),
    }


def bench_signatures(corpus: Corpus, config: DedupConfig) -> tuple[list[Fingerprint], dict[str, Any]]:
    articles = corpus.articles
    near = config.near
    n = len(articles)
    baseline = KPermutationMinHash(BASELINE_NUM_PERM, BASELINE_SEED)

    def oph(text: str) -> U64:
        return minhash_array(text, num_perm=near.num_perm, k=near.shingle_k, seed=near.seed)

    for a in articles[: min(500, n)]:  # word-character table, probe orders, powers of the hash base
        fingerprint(a, config)
        oph(a.body)
        baseline(a.body, near.shingle_k)

    fps: list[Fingerprint] = []

    def run_fingerprint() -> None:
        fps.extend(fingerprint(a, config) for a in articles)

    def run_minhash() -> None:
        for a in articles:
            oph(a.body)

    def run_shingles() -> None:
        for a in articles:
            _shingle_hashes(a.body, near.shingle_k)

    def run_baseline() -> None:
        for a in articles:
            baseline(a.body, near.shingle_k)

    fp_t = _timed("fingerprint()", n, run_fingerprint)
    mh_t = _timed("minhash_array()", n, run_minhash)
    sh_t = _timed("_shingle_hashes()", n, run_shingles)
    kp_t = _timed(f"baseline {BASELINE_NUM_PERM}-permutation MinHash", n, run_baseline)

    # The two schemes estimate the same Jaccard similarity: check it on the planted near copies.
    pairs = [(i, src) for i, src in enumerate(corpus.origin) if src is not None][:2000]
    err_oph: list[float] = []
    err_kperm: list[float] = []
    for i, src in pairs:
        x, y = articles[i].body, articles[src].body
        sx, sy = _shingle_hashes(x, near.shingle_k), _shingle_hashes(y, near.shingle_k)
        ux, uy = set(sx.tolist()), set(sy.tolist())
        true = len(ux & uy) / len(ux | uy) if ux | uy else 1.0
        err_oph.append(abs(float(np.mean(oph(x) == oph(y))) - true))
        kx, ky = baseline(x, near.shingle_k), baseline(y, near.shingle_k)
        err_kperm.append(abs(float(np.mean(kx == ky)) - true))

    return fps, {
        "docs": n,
        "fingerprint": fp_t,
        "minhash_array": mh_t,
        "shingle_hashes": sh_t,
        "baseline_kperm_minhash": {**kp_t, "num_perm": BASELINE_NUM_PERM, "hash": "multiply-shift"},
        "minhash_to_kperm_ratio": round(mh_t["docs_per_s"] / kp_t["docs_per_s"], 2),
        "minhash_to_kperm_cpu_ratio": round(mh_t["docs_per_cpu_s"] / kp_t["docs_per_cpu_s"], 2),
        "fingerprint_to_kperm_ratio": round(fp_t["docs_per_s"] / kp_t["docs_per_s"], 2),
        "fingerprint_to_minhash_ratio": round(fp_t["docs_per_s"] / mh_t["docs_per_s"], 3),
        "keys_overhead_share": round(1 - mh_t["seconds"] / fp_t["seconds"], 3),
        "shingle_share_of_minhash": round(sh_t["seconds"] / mh_t["seconds"], 3),
        "jaccard_error_near_copies": {
            "pairs": len(pairs),
            "minhash_array_mean_abs": round(statistics.fmean(err_oph), 4) if pairs else None,
            "kperm_mean_abs": round(statistics.fmean(err_kperm), 4) if pairs else None,
        },
        "exact_keys_per_doc": round(float(np.mean([len(f.exact_keys) for f in fps])), 3),
        "near_keys_per_doc": round(float(np.mean([len(f.near_keys) for f in fps])), 3),
        "target_docs_per_s": TARGET_SIGNATURES_PER_S,
        # The target is on signature computation; fingerprint adds the keys and is reported beside it.
        "pass": mh_t["docs_per_s"] >= TARGET_SIGNATURES_PER_S,
    }


# -- 2. lookup + decision -------------------------------------------------------------------------


def prefill(
    store: LocalStore, corpus: Corpus, fps: list[Fingerprint], half: int, config: DedupConfig
) -> tuple[dict[str, Any], set[str]]:
    """Decide the first half in one run (no store) and write it with its keys, as pipelines.dedup does."""
    from schemas.dedup import DuplicateResolver, apply_decision, with_keys
    from schemas.records import Sighting

    started = time.perf_counter()
    resolver = DuplicateResolver(config)
    decisions = [resolver.decide(fp) for fp in fps[:half]]
    copies: dict[str, list[Sighting]] = defaultdict(list)
    for fp, d in zip(fps[:half], decisions, strict=True):
        if d.duplicate_of is not None:
            copies[d.duplicate_of].append(fp.sighting)
    decide_s = time.perf_counter() - started

    started = time.perf_counter()
    written = 0
    for lo in range(0, half, WRITE_BATCH):
        hi = min(lo + WRITE_BATCH, half)
        batch = [
            with_keys(apply_decision(a, d, copies.get(a.id, ()) if d.duplicate_of is None else ()), fp)
            for a, fp, d in zip(
                corpus.articles[lo:hi],
                fps[lo:hi],
                decisions[lo:hi],
                strict=True,
            )
        ]
        written += store.write_articles(batch).written
        if (lo // WRITE_BATCH + 1) % 10 == 0:
            log(f"  prefill: wrote {lo + len(batch):,} / {half:,}")
    write_s = time.perf_counter() - started
    canonical = {fp.article_id for fp, d in zip(fps[:half], decisions, strict=True) if d.duplicate_of is None}
    return {
        "docs": half,
        "written": written,
        "canonical": sum(1 for d in decisions if d.duplicate_of is None),
        "canonical_share": round(sum(1 for d in decisions if d.duplicate_of is None) / half, 4),
        "decide_seconds": round(decide_s, 2),
        "write_seconds": round(write_s, 2),
        "write_docs_per_s": round(half / write_s),
        "dedup_state_bytes": store.dedup_state_bytes(),
    }, canonical


def bench_lookup(
    store: LocalStore, corpus: Corpus, fps: list[Fingerprint], half: int, config: DedupConfig
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Look up and decide the second half in chunks, against the store holding the first half."""
    from pipelines import dedup as pdedup
    from schemas.dedup import DuplicateResolver

    assert pdedup.LOOKUP_CHUNK == LOOKUP_CHUNK, "the pipeline's chunk size changed"
    todo = sorted(fps[half:], key=lambda fp: fp.order)  # what _ResolveRunFn does (already in order)
    # Warm-up on a throwaway resolver: SQLite's page cache, the statement cache, numpy paths.
    warm = DuplicateResolver(config)
    for fp in todo[:LOOKUP_CHUNK]:
        warm.decide(fp, pdedup.lookup_chunk(store, [fp], config.near)[0])

    log(f"lookup: {len(todo):,} articles against {half:,} stored, chunks of {LOOKUP_CHUNK}")
    resolver = DuplicateResolver(config)
    decisions = []
    returned = near_stored = near_memory = 0
    lookup_s = decide_s = lookup_cpu = decide_cpu = 0.0
    clock, cpu_clock = time.perf_counter, time.process_time
    for lo in range(0, len(todo), LOOKUP_CHUNK):
        chunk = todo[lo : lo + LOOKUP_CHUNK]
        t0, c0 = clock(), cpu_clock()
        found = pdedup.lookup_chunk(store, chunk, config.near)
        lookup_s += clock() - t0
        lookup_cpu += cpu_clock() - c0
        for fp, mine in zip(chunk, found, strict=True):
            # Untimed: the candidates of this run (the resolver's own band index) before deciding.
            near_memory += len({c for k in fp.near_keys for c in resolver._near.get(k, ())})
            t0, c0 = clock(), cpu_clock()
            decisions.append(resolver.decide(fp, mine))
            decide_s += clock() - t0
            decide_cpu += cpu_clock() - c0
            # Untimed: canonical stored articles sharing a band key (their similarity is computed).
            shared = set(fp.near_keys)
            returned += len(mine)
            near_stored += sum(1 for d in mine if d.duplicate_of is None and d.near_keys & shared)
    total_s = lookup_s + decide_s

    by_id = {a.id: i for i, a in enumerate(corpus.articles)}
    stats: Counter[str] = Counter()
    for fp, d in zip(todo, decisions, strict=True):
        i = by_id[fp.article_id]
        src = corpus.origin[i]
        kind = corpus.kind[i]
        group = "exact" if kind == "exact" else "near" if src is not None else "original"
        stats[f"{group}_planted"] += 1
        if d.duplicate_of is None:
            continue
        stats[f"{group}_folded"] += 1
        if src is not None and d.duplicate_of == corpus.articles[src].id:
            stats[f"{group}_folded_to_own_original"] += 1
            stats[f"{group}_from_{'store' if src < half else 'this_run'}"] += 1
    n = len(todo)
    return {
        "docs": n,
        "stored_docs": half,
        "seconds": round(total_s, 2),
        "docs_per_s": round(n / total_s),
        "docs_per_cpu_s": round(n / (lookup_cpu + decide_cpu)),
        "lookup_seconds": round(lookup_s, 2),
        "decide_seconds": round(decide_s, 2),
        "stored_docs_returned_per_doc": round(returned / n, 3),
        "candidates_verified_per_doc": round((near_stored + near_memory) / n, 3),
        "candidates_from_store_per_doc": round(near_stored / n, 3),
        "candidates_from_run_per_doc": round(near_memory / n, 3),
        "copies": {
            "exact_planted": stats["exact_planted"],
            "exact_found": stats["exact_folded"],
            "exact_found_to_own_original": stats["exact_folded_to_own_original"],
            "near_planted": stats["near_planted"],
            "near_found": stats["near_folded"],
            "near_found_to_own_original": stats["near_folded_to_own_original"],
            "found_original_in_store": stats["exact_from_store"] + stats["near_from_store"],
            "found_original_in_this_run": stats["exact_from_this_run"] + stats["near_from_this_run"],
            "originals": stats["original_planted"],
            "originals_folded_wrongly": stats["original_folded"],
        },
    }, {fp.article_id: d for fp, d in zip(todo, decisions, strict=True)}


def bench_lsh_candidates(
    corpus: Corpus, fps: list[Fingerprint], half: int, config: DedupConfig
) -> dict[str, Any]:
    """What each signature scheme's band keys (same bands x rows) make candidates, in memory.

    The originals of the first half are indexed by band key; every article of the second half
    collects the ones sharing a band key with it. A candidate other than the article's own original
    (for a planted copy) is unrelated: `decide` reads its body and computes its signature for
    nothing. Recall: planted near copies of a first-half original that share a band key with it.
    """
    from schemas.dedup import outlet_of
    from schemas.near_dup import band_keys

    near = config.near
    baseline = KPermutationMinHash(BASELINE_NUM_PERM, BASELINE_SEED)
    log(f"lsh: band keys of the {BASELINE_NUM_PERM}-permutation baseline for {len(fps):,} articles")
    schemes: dict[str, list[tuple[str, ...]]] = {
        "minhash_array": [fp.near_keys for fp in fps],
        "baseline_kperm_minhash": [
            tuple(band_keys(baseline(a.body, near.shingle_k), near.bands, near.rows)) for a in corpus.articles
        ],
    }
    outlets = [outlet_of(a) for a in corpus.articles]
    out: dict[str, Any] = {"bands": near.bands, "rows": near.rows}
    for name, keys in schemes.items():
        index: dict[str, list[int]] = defaultdict(list)
        stored = 0
        for i in range(half):
            if corpus.kind[i] == "original":
                stored += 1
                for k in keys[i]:
                    index[k].append(i)
        unrelated = with_unrelated = same_outlet = near_copies = near_found = 0
        for i in range(half, len(fps)):
            cands = {c for k in keys[i] for c in index.get(k, ())}
            own = corpus.origin[i]
            wrong = [c for c in cands if c != own]
            unrelated += len(wrong)
            with_unrelated += bool(wrong)
            same_outlet += sum(1 for c in wrong if outlets[c] == outlets[i])
            if own is not None and own < half and corpus.kind[i] != "exact":
                near_copies += 1
                near_found += own in cands
        n = len(fps) - half
        out[name] = {
            "stored_originals": stored,
            "unrelated_candidates_per_doc": round(unrelated / n, 4),
            "docs_with_unrelated_candidate": round(with_unrelated / n, 4),
            "unrelated_same_outlet_share": round(same_outlet / unrelated, 3) if unrelated else None,
            "near_copy_recall": round(near_found / near_copies, 4) if near_copies else None,
            "near_copies": near_copies,
        }
    return out


def bench_brute_force(
    fps: list[Fingerprint],
    half: int,
    canonical: set[str],
    decided: dict[str, Any],
    config: DedupConfig,
    sample: int,
    seed: int,
) -> dict[str, Any]:
    """Every sampled document against the signatures of all stored canonical articles, in memory.

    `canonical`: the stored canonical ids; `decided`: the LSH path's decision for each later id.
    """
    stored_ids: list[str] = []
    rows: list[npt.NDArray[np.uint32]] = []
    for fp in fps[:half]:
        if fp.article_id in canonical and fp.signature:
            stored_ids.append(fp.article_id)
            rows.append(fp.signature_array())
    matrix = np.vstack(rows)
    todo = fps[half:]
    picks = sorted(random.Random(seed).sample(range(len(todo)), min(sample, len(todo))))
    threshold = config.near.threshold
    # Warm-up.
    for i in picks[:20]:
        (matrix == todo[i].signature_array()).sum(axis=1)
    log(f"baseline: brute force, {len(picks):,} articles x {matrix.shape[0]:,} stored signatures")
    found: dict[int, str | None] = {}
    started, cpu = time.perf_counter(), time.process_time()
    for i in picks:
        fp = todo[i]
        if not fp.signature:
            found[i] = None
            continue
        agree = (matrix == fp.signature_array()).sum(axis=1)
        best = int(agree.argmax())
        found[i] = stored_ids[best] if agree[best] / matrix.shape[1] >= threshold else None
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    rate = len(picks) / seconds
    matches = [i for i in picks if found[i] is not None]
    lsh_same = sum(1 for i in matches if decided[todo[i].article_id].duplicate_of == found[i])
    lsh_any = sum(1 for i in matches if decided[todo[i].article_id].duplicate_of is not None)
    return {
        "sample": len(picks),
        "stored_signatures": int(matrix.shape[0]),
        "seconds": round(seconds, 2),
        "docs_per_s": round(rate, 1),
        "docs_per_cpu_s": round(len(picks) / cpu_s, 1),
        "docs_per_s_extrapolated_1m": round(rate * matrix.shape[0] / 1_000_000, 2),
        "sample_with_stored_match": len(matches),
        "lsh_folded_same_article": lsh_same,
        "lsh_folded_any": lsh_any,
        "signature_matrix_bytes": int(matrix.nbytes),
    }


# -- 3. state at 1M documents ---------------------------------------------------------------------


# Values per synthetic document: 2 for the id, 4 for the content hash, 1 for the GUID, 1 per band key.
_STATE_SLOTS = 7 + STATE_NEAR_KEYS + STATE_LEAD_KEYS
_KIND_ORDER = "iugt"  # id, URL, GUID, text: the order of schemas.dedup.exact_keys


def _splitmix64(x: U64) -> U64:
    """splitmix64: a stateless generator, so that any document's keys can be made again alone."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


@dataclass
class StateDoc:
    """A synthetic stored article: the fields `LocalStore.lookup` verifies exact keys against, and
    its keys as `schemas.dedup.fingerprint` would give them (the id key first, then URL, GUID, text)."""

    article_id: str
    canonical_url: str
    guid: str | None
    content_hash: str
    exact_keys: list[str]
    near_keys: list[str]

    def doc_json(self) -> str:
        """The `articles.doc` JSON, reduced to what `lookup` reads."""
        return json.dumps(
            {
                "id": self.article_id,
                "canonical_url": self.canonical_url,
                "guid": self.guid,
                "content_hash": self.content_hash,
            },
            separators=(",", ":"),
        )


def state_docs(docs: Sequence[int]) -> list[StateDoc]:
    """The synthetic state documents numbered `docs`.

    The exact keys come from `schemas.dedup.document_keys` over a canonical URL, a GUID (the URL
    for 70 %, a tag: URI for 28 %, none for 2 %, as in the corpus) and a content hash; the band
    keys have the shape of `schemas.near_dup.band_keys` ("<band>-<16 hex digits>", one per band of
    `DEFAULT_CONFIG`), their values as uniform as the real 64-bit hashes.
    """
    counters: U64 = np.asarray(docs, dtype=np.uint64)[:, None] * np.uint64(_STATE_SLOTS)
    counters = counters + np.arange(_STATE_SLOTS, dtype=np.uint64)[None, :] + np.uint64(RNG_SEED)
    values = _splitmix64(counters.astype(np.uint64, copy=False))
    rows: list[list[int]] = values.tolist()
    out: list[StateDoc] = []
    for n, row in zip(docs, rows, strict=True):
        article_id = f"{row[0]:016x}{row[1]:016x}"
        content_hash = "".join(f"{v:016x}" for v in row[2:6])
        host = f"news{n % OUTLETS:03d}.example.com"
        url = f"https://www.{host}/2026/01/05/story-{n:08d}"
        guid_roll = (row[6] >> 11) / 2**53
        guid = (
            url
            if guid_roll < PERMALINK_GUID_SHARE
            else f"tag:{host},2026:article-{n:08d}"
            if guid_roll < GLOBAL_GUID_SHARE
            else None
        )
        exact = sorted(
            document_keys(article_id, url, guid, content_hash), key=lambda k: _KIND_ORDER.index(k[0])
        )
        near = [f"{b:02d}-{v:016x}" for b, v in enumerate(row[7 : 7 + STATE_NEAR_KEYS])]
        near += [f"{LEAD_PREFIX}{INDEXED_LEAD_DEPTH:02d}-{v:016x}" for v in row[7 + STATE_NEAR_KEYS :]]
        out.append(StateDoc(article_id, url, guid, content_hash, exact, near))
    return out


def fill_state(path: str, docs: int) -> dict[str, Any]:
    if docs > MAX_ROWID:
        raise SystemExit(f"--state-docs must be <= {MAX_ROWID:,} (the postings' rowid field)")
    LocalStore(path).close()  # the schema, WAL mode
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -1048576")  # 1 GiB: the fill is bound by hashing, not I/O
    ingested = (START + dt.timedelta(days=2)).isoformat()
    started = time.perf_counter()
    exact_rows = near_rows = 0
    for batch in range((docs + WRITE_BATCH - 1) // WRITE_BATCH):
        lo = batch * WRITE_BATCH
        size = min(WRITE_BATCH, docs - lo)
        art: list[tuple[Any, ...]] = []
        ex: list[tuple[int]] = []
        nr: list[tuple[int]] = []
        for j, d in enumerate(state_docs(range(lo, lo + size))):
            rowid = lo + j + 1
            art.append(
                (rowid, d.article_id, ingested, ingested, "feed", "bench", "en", "t", "", d.doc_json())
            )
            # As LocalStore.write_prepared does: no id key (articles.id answers for it), one posting per key.
            ex.extend((posting(k, rowid),) for k in d.exact_keys if not is_id_key(k))
            nr.extend((posting(k, rowid),) for k in d.near_keys)
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO articles(rowid, id, published_at, ingested_at, source_kind, source_name, "
            "language, title, body, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            art,
        )
        # As LocalStore.write_prepared does: the full-text index is fed by the writer, not by a trigger.
        db.executemany(
            "INSERT INTO articles_fts(rowid, title, body) VALUES (?, ?, ?)", [(r[0], r[7], r[8]) for r in art]
        )
        # Postings are spread over the whole key space whatever the order: random B-tree inserts.
        exact_rows += db.executemany("INSERT OR IGNORE INTO dedup_index(posting) VALUES (?)", ex).rowcount
        near_rows += db.executemany("INSERT OR IGNORE INTO dedup_index(posting) VALUES (?)", nr).rowcount
        db.execute("COMMIT")
        if (batch + 1) % 100 == 0:
            rate = (lo + size) / (time.perf_counter() - started)
            log(f"  state: {lo + size:,} / {docs:,} articles ({rate:,.0f}/s)")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    fill_s = time.perf_counter() - started

    postings = exact_rows + near_rows
    pages, leaf_bytes, unused = db.execute(
        "SELECT count(*), sum(pgsize), sum(unused) FROM dbstat "
        "WHERE name = 'dedup_index' AND pagetype = 'leaf'"
    ).fetchone()
    (table_bytes,) = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'dedup_index'").fetchone()
    (counted,) = db.execute("SELECT count(*) FROM dedup_index").fetchone()
    per_posting = table_bytes / postings
    table = {
        "rows": counted,
        "bytes": table_bytes,
        "bytes_per_posting": round(per_posting, 2),
        "bytes_per_doc": round(table_bytes / docs, 1),
        "leaf_pages": pages,
        "leaf_bytes": leaf_bytes,
        "leaf_fill": round(1 - unused / leaf_bytes, 3),
    }
    breakdown = {
        kind: {
            "postings": rows,
            "per_doc": round(rows / docs, 3),
            "bytes": round(rows * per_posting),
            "bytes_per_doc": round(rows * per_posting / docs, 1),
            "share": round(rows / postings, 3),
        }
        for kind, rows in (("exact", exact_rows), ("near", near_rows))
    }

    # What the same rows take once packed (VACUUM rebuilds a table in key order, pages ~full).
    log("state: measuring the packed size (the table copied in key order)")
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as tmp:
        db.execute("ATTACH DATABASE ? AS packed", (os.path.join(tmp, "packed.db"),))
        db.execute("CREATE TABLE packed.dedup_index (posting INTEGER PRIMARY KEY)")
        db.execute("BEGIN")
        db.execute("INSERT INTO packed.dedup_index SELECT posting FROM main.dedup_index ORDER BY posting")
        db.execute("COMMIT")
        (packed,) = db.execute(
            "SELECT sum(pgsize) FROM dbstat('packed') WHERE name = 'dedup_index'"
        ).fetchone()
        db.execute("DETACH DATABASE packed")
    db.close()

    store = LocalStore(path)
    state_bytes = store.dedup_state_bytes()
    store.close()
    file_bytes = sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))
    return {
        "docs": docs,
        "exact_keys_per_doc": round(exact_rows / docs, 3),
        "near_keys_per_doc": round(near_rows / docs, 3),
        "postings": postings,
        "fill_seconds": round(fill_s, 1),
        "dedup_state_bytes": state_bytes,
        "dedup_state_mb": round(state_bytes / 1e6, 1),
        "dedup_state_mib": round(state_bytes / 2**20, 1),
        "bytes_per_doc": round(state_bytes / docs, 1),
        "bytes_per_posting": round(state_bytes / postings, 2),
        "table": table,
        "breakdown": breakdown,
        "packed_bytes": packed,
        "packed_bytes_per_doc": round(packed / docs, 1),
        "packed_bytes_per_posting": round(packed / postings, 2),
        "file_bytes": file_bytes,
        "file_note": "the whole SQLite file: the dedup index plus one minimal articles row per document "
        "(empty body, a doc JSON of id, canonical URL, GUID and content hash) and its FTS and id index, "
        "not real article text",
        "target_bytes": TARGET_STATE_BYTES,
        "pass": 0 <= state_bytes <= TARGET_STATE_BYTES,
        "over_target_bytes": max(0, state_bytes - TARGET_STATE_BYTES),
    }


def lookup_worker(path: str, docs: int, lookups: int) -> dict[str, Any]:
    """Run in a fresh process: single and chunked lookups against the filled store; peak RSS; then,
    untimed, what the answers were (own article verified, false candidates, bucket collisions)."""
    rng = random.Random(RNG_SEED)
    picks = [rng.randrange(docs) for _ in range((lookups + 1) // 2)]
    # New documents: the same key shapes, numbered past the stored ones.
    queries: list[tuple[bool, StateDoc]] = [(True, d) for d in state_docs(picks)]
    queries += [(False, d) for d in state_docs(range(docs, docs + lookups // 2))]
    rng.shuffle(queries)
    rss_before = proc_status_bytes("VmRSS")
    store = LocalStore(path)
    for _, d in queries[:200]:  # warm-up
        store.lookup(d.exact_keys, d.near_keys)

    latency: dict[bool, list[float]] = {True: [], False: []}
    answers: list[list[Any]] = []
    for existing, d in queries:
        t0 = time.perf_counter()
        found = store.lookup(d.exact_keys, d.near_keys)
        latency[existing].append(time.perf_counter() - t0)
        answers.append(found)
    started = time.perf_counter()
    for lo in range(0, len(queries), LOOKUP_CHUNK):
        chunk = queries[lo : lo + LOOKUP_CHUNK]
        store.lookup({k for q in chunk for k in q[1].exact_keys}, {k for q in chunk for k in q[1].near_keys})
    chunked_s = time.perf_counter() - started
    peak_rss = proc_status_bytes("VmHWM")
    ru_maxrss = maxrss_bytes()
    store.close()
    every = latency[True] + latency[False]

    # Untimed: what came back.
    found_counts: Counter[str] = Counter()
    tally: Counter[str] = Counter()
    for (existing, d), found in zip(queries, answers, strict=True):
        found_counts[f"{'existing' if existing else 'new'}:{len(found)}"] += 1
        others = [s for s in found if s.article_id != d.article_id]
        if existing:
            own = [s for s in found if s.article_id == d.article_id]
            tally["existing_own_found"] += bool(own)
            tally["existing_own_all_exact_keys"] += bool(own) and own[0].exact_keys == set(d.exact_keys)
            tally["existing_own_all_near_keys"] += bool(own) and own[0].near_keys == set(d.near_keys)
            tally["existing_with_other_docs"] += bool(others)
        else:
            tally["new_with_false_candidate"] += bool(others)
            tally["new_false_candidates"] += len(others)
            tally["new_false_exact_matches"] += sum(1 for s in others if s.exact_keys)
    # Bucket collisions of the new documents' keys, before verification: an exact key's bucket
    # holding a stranger's posting is dropped by lookup (it checks the article's own fields); a band
    # key's cannot be checked there and becomes a candidate that decide compares by text.
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    for existing, d in queries:
        if existing:
            continue
        hit: dict[str, int] = {"exact": 0, "near": 0}
        for kind, keys in (("exact", [k for k in d.exact_keys if not is_id_key(k)]), ("near", d.near_keys)):
            for key in keys:
                tally[f"new_{kind}_keys"] += 1
                (n,) = db.execute(
                    "SELECT count(*) FROM dedup_index WHERE posting BETWEEN ? AND ?",
                    (posting(key, 0), posting(key, MAX_ROWID)),
                ).fetchone()
                hit[kind] += n
                tally[f"new_{kind}_keys_in_used_bucket"] += bool(n)
        for kind, n in hit.items():
            tally[f"new_with_{kind}_bucket_hit"] += bool(n)
    db.close()
    new = lookups // 2

    def ms(values: list[float]) -> dict[str, float]:
        return {
            "mean_ms": round(1000 * statistics.fmean(values), 3),
            "p50_ms": round(1000 * percentile(values, 0.5), 3),
            "p99_ms": round(1000 * percentile(values, 0.99), 3),
        }

    return {
        "lookups": len(queries),
        "docs_found": dict(sorted(found_counts.items())),
        "answers": dict(sorted(tally.items())),
        "false_candidate_rate": round(tally["new_with_false_candidate"] / new, 5) if new else None,
        "false_candidates_per_new_lookup": round(tally["new_false_candidates"] / new, 5) if new else None,
        "existing": ms(latency[True]),
        "new": ms(latency[False]),
        "all": ms(every),
        "single_docs_per_s": round(len(every) / sum(every)),
        "chunked_docs_per_s": round(len(queries) / chunked_s),
        "rss_before_lookups_bytes": rss_before,
        "peak_rss_bytes": peak_rss,
        "ru_maxrss_bytes": ru_maxrss,
    }


def bench_state(folder: str, docs: int, lookups: int) -> dict[str, Any]:
    path = os.path.join(folder, "state.db")
    log(f"state: filling the dedup tables for {docs:,} canonical articles")
    result = fill_state(path, docs)
    log(
        f"state: {result['dedup_state_bytes']:,} bytes ({result['bytes_per_doc']} per doc); "
        f"{lookups:,} lookups in a fresh process"
    )
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--lookup-worker",
            path,
            "--state-docs",
            str(docs),
            "--lookups",
            str(lookups),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    result["lookups"] = json.loads(proc.stdout)
    return result


# -- report ---------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import numpy

    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "pinned_to_cpu": None,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def write_markdown(res: dict[str, Any], path: Path) -> None:
    m = res["machine"]
    cfg = res["config"]
    sig = res["signatures"]
    lk = res["lookup"]
    bf = res["baseline_brute_force"]
    lsh = res["lsh_candidates"]
    st = res["state"]
    sl = st["lookups"]
    ans = sl["answers"]
    c = lk["copies"]
    corp = res["corpus"]
    near = cfg["near"]
    fp = sig["fingerprint"]
    mh = sig["minhash_array"]
    kp = sig["baseline_kperm_minhash"]
    sh = sig["shingle_hashes"]
    jerr = sig["jaccard_error_near_copies"]
    fp_rate = fp["docs_per_s"]
    brute_at_state = bf["docs_per_s_extrapolated_1m"] * 1_000_000 / st["docs"]
    new_lookups = sl["lookups"] // 2
    # A key's 31-bit bucket holds some posting with probability 1 - exp(-postings / 2**31).
    p_bucket = 1 - math.exp(-st["postings"] / 2**_HASH_BITS)
    bands = near["bands"]
    n_exact = st["exact_keys_per_doc"]

    def ok(flag: bool) -> str:
        return "**pass**" if flag else "**FAIL**"

    lines = [
        f"# Deduplication benchmark ({res['date']})",
        "",
        f"Reproduce: `{res['command']}` (about {res['total_seconds'] / 60:.0f} min here).",
        "",
        f"{m['machine']}, {m['cores']} cores (the benchmark is pinned to one), Python {m['python']}, "
        f"numpy {m['numpy']}, SQLite {m['sqlite']}; load average {m['load_average_at_start']} at start, "
        f"{m['load_average_at_end']} at the end (other processes share the machine: docs/s is wall "
        "time, docs/CPU-s counts only the time this process ran). "
        f"Defaults: {near['num_perm']}-value one-permutation MinHash signatures, {near['shingle_k']}-word "
        f"shingles, LSH {bands} bands x {near['rows']} rows, threshold {near['threshold']}, "
        f"min_words {cfg['min_words']}.",
        "",
        "## Targets",
        "",
        "| target | measured | result |",
        "|---|---|---|",
        f"| signatures >= {TARGET_SIGNATURES_PER_S:,} docs/s/core | {mh['docs_per_s']:,} docs/s "
        f"(`minhash_array`, {corp['docs']:,} docs of ~{corp['mean_body_bytes'] / 1000:.1f} KB; with "
        f"the exact and band keys, the whole `fingerprint`: {fp_rate:,}) | {ok(sig['pass'])} |",
        f"| dedup state for {st['docs']:,} documents <= 300 MB | {st['dedup_state_mb']:,} MB "
        f"({st['dedup_state_mib']:,} MiB, {st['bytes_per_doc']} bytes/doc) | {ok(st['pass'])} |",
        "",
        f"## Corpus ({corp['docs']:,} synthetic articles, RNG seed {corp['rng_seed']})",
        "",
        f"Bodies of {corp['mean_body_bytes']:,.0f} bytes / {corp['mean_words']:,.0f} words on average, "
        f"words drawn with their frequencies in {corp['vocabulary_source']} "
        f"({corp['vocabulary_words']:,} distinct); "
        f"{OUTLETS} outlets, half of them with a boilerplate footer. Planted copies: "
        f"{corp['near_copies']:,} near ({', '.join(_RECIPES)}; new headline each) and "
        f"{corp['exact_copies']:,} exact (same text, other outlet). Built by `normalize_record` in "
        f"{corp['generate_seconds']:.0f} s.",
        "",
        "## Throughput on one core",
        "",
        "| step | docs/s | docs/CPU-s | baseline | docs/s | docs/CPU-s | ratio (docs/s) |",
        "|---|---:|---:|---|---:|---:|---:|",
        f"| signatures: `minhash_array` alone (one-permutation hashing, {near['num_perm']} values), "
        f"{sig['docs']:,} docs | {mh['docs_per_s']:,} | {mh['docs_per_cpu_s']:,} | "
        f"classic MinHash, {kp['num_perm']} multiply-shift permutations over the same shingle hashes | "
        f"{kp['docs_per_s']:,} | {kp['docs_per_cpu_s']:,} | {sig['minhash_to_kperm_ratio']} |",
        f"| signatures: `fingerprint` whole (exact keys + signature + {bands} band keys), {sig['docs']:,} "
        f"docs | {fp['docs_per_s']:,} | {fp['docs_per_cpu_s']:,} | the same classic MinHash | "
        f"{kp['docs_per_s']:,} | {kp['docs_per_cpu_s']:,} | {sig['fingerprint_to_kperm_ratio']} |",
        f"| lookup (chunks of {LOOKUP_CHUNK}) + `decide`, {lk['docs']:,} docs against {lk['stored_docs']:,} "
        f"stored | {lk['docs_per_s']:,} | {lk['docs_per_cpu_s']:,} | brute force vs all "
        f"{bf['stored_signatures']:,} stored signatures in memory ({bf['sample']:,} sampled) | "
        f"{bf['docs_per_s']:,} | {bf['docs_per_cpu_s']:,} | {lk['docs_per_s'] / bf['docs_per_s']:.0f} |",
        f"| `lookup` alone, single documents, {st['docs']:,} stored | {sl['single_docs_per_s']:,} | | "
        f"brute force extrapolated to {st['docs']:,} | {brute_at_state:,.2f} | | "
        f"{sl['single_docs_per_s'] / brute_at_state:,.0f} |",
        "",
        f"Signatures: of `minhash_array`'s {mh['seconds']} s, {sh['seconds']} s "
        f"({sig['shingle_share_of_minhash']:.0%}) go to hashing the shingles (`_shingle_hashes`, "
        f"{sh['docs_per_s']:,} docs/s alone), which the baseline shares; `fingerprint` spends "
        f"{sig['keys_overhead_share']:.0%} of its time outside `minhash_array` (exact keys, band keys, "
        "the sighting). Both schemes estimate the same Jaccard similarity: on "
        f"{jerr['pairs']:,} planted near-copy pairs the mean absolute error against the exact Jaccard of "
        f"the shingle sets is {jerr['minhash_array_mean_abs']} for `minhash_array` and "
        f"{jerr['kperm_mean_abs']} for the {kp['num_perm']}-permutation baseline.",
        "",
        f"Lookup + decide at {lk['stored_docs']:,} stored: {lk['lookup_seconds']} s in `lookup_chunk` "
        f"(the store's answer, each stored article's signature, matched to the chunk's fingerprints), "
        f"{lk['decide_seconds']} s in `decide`. Per document: "
        f"{lk['stored_docs_returned_per_doc']} stored articles returned, "
        f"{lk['candidates_verified_per_doc']} candidates verified "
        f"({lk['candidates_from_store_per_doc']} stored, {lk['candidates_from_run_per_doc']} of this run).",
        "",
        f"Copies found: exact {c['exact_found']:,} / {c['exact_planted']:,} "
        f"({c['exact_found_to_own_original']:,} to their own original), near {c['near_found']:,} / "
        f"{c['near_planted']:,} ({c['near_found_to_own_original']:,} to their own original); "
        f"{c['found_original_in_store']:,} of them copies of a stored article, "
        f"{c['found_original_in_this_run']:,} of one of this run. Originals folded wrongly: "
        f"{c['originals_folded_wrongly']:,} / {c['originals']:,}. "
        f"Brute force found a stored match >= threshold for {bf['sample_with_stored_match']} of its "
        f"{bf['sample']} sampled articles; the LSH path folded {bf['lsh_folded_same_article']} of them into "
        f"the same article ({bf['lsh_folded_any']} folded at all).",
        "",
        f"Band-key candidates of the two signature schemes ({lsh['bands']} bands x {lsh['rows']} rows "
        f"each, in memory: the second half against the "
        f"{lsh['minhash_array']['stored_originals']:,} originals of the first):",
        "",
        "| signatures | unrelated candidates per doc | docs with one | of them same outlet | "
        "near copies sharing a band with their original |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {label} | {lsh[key]['unrelated_candidates_per_doc']} | "
            f"{lsh[key]['docs_with_unrelated_candidate']:.2%} | "
            f"{lsh[key]['unrelated_same_outlet_share'] or 0:.0%} | "
            f"{lsh[key]['near_copy_recall'] or 0:.2%} of {lsh[key]['near_copies']:,} |"
            for key, label in (
                ("minhash_array", "`minhash_array` (one-permutation hashing)"),
                ("baseline_kperm_minhash", f"classic MinHash ({kp['num_perm']} permutations)"),
            )
        ],
        "",
        "Unrelated candidates grow with the number of stored articles (of the same outlets); each "
        "costs `decide` a body read and a signature.",
        "",
        "Writing the first half (`write_articles`, FTS included): "
        f"{res['prefill']['write_docs_per_s']:,} docs/s.",
        "",
        f"## Dedup state at {st['docs']:,} documents",
        "",
        f"Every document canonical (the worst case: copies keep no band keys), {n_exact} exact keys "
        "(URL, GUID for 98 %, text; made by `document_keys`; the id key is not stored) and "
        f"{st['near_keys_per_doc']:.0f} band and lead keys each ({STATE_NEAR_KEYS} band keys and the first "
        "rung's lead key: the deeper rungs and the title's are compared through each article's lead "
        "ladder, 48 bytes kept base64 in its `dedup_docs` row next to its signature, neither counted "
        "here), one `dedup_index` posting per key "
        f"(`posting()`: {_HASH_BITS}-bit key hash, {MAX_ROWID.bit_length()}-bit rowid), inserted in "
        f"article order, {WRITE_BATCH:,} articles per transaction (filled in {st['fill_seconds']:.0f} s).",
        "",
        "| `dedup_index` | postings | bytes | bytes/posting | bytes/doc | leaf page fill | packed bytes |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| **total** (`dedup_state_bytes`) | {st['postings']:,} | **{st['dedup_state_bytes']:,}** | "
        f"{st['bytes_per_posting']} | **{st['bytes_per_doc']}** | {st['table']['leaf_fill']:.0%} | "
        f"{st['packed_bytes']:,} ({st['packed_bytes_per_posting']}/posting, "
        f"{st['packed_bytes_per_doc']}/doc) |",
    ]
    for kind, label in (("exact", "exact keys"), ("near", "band keys")):
        b = st["breakdown"][kind]
        lines.append(
            f"| {label} | {b['postings']:,} ({b['per_doc']}/doc) | ~{b['bytes']:,} | | "
            f"~{b['bytes_per_doc']} | "
            f"| ~{round(b['postings'] * st['packed_bytes_per_posting']):,} |"
        )
    lines += [
        "",
        "One table, so the split by key kind is the posting counts times the table's bytes per posting.",
        "",
    ]
    if not st["pass"]:
        lines += [
            f"Over the target by {st['over_target_bytes'] / 1e6:,.1f} MB "
            f"({st['dedup_state_bytes'] / TARGET_STATE_BYTES - 1:.0%}); band-key postings are "
            f"{st['breakdown']['near']['share']:.0%} of the index.",
            "",
        ]
    lines += [
        "Packed: the same rows copied in key order (what VACUUM would give). "
        f"With the corpus's mix instead ({res['prefill']['canonical_share']:.0%} canonical; copies keep "
        f"their exact keys but no band keys): about {st['mix_estimate_bytes'] / 1e6:,.0f} MB.",
        "",
        f"File: {st['file_bytes']:,} bytes ({st['file_note']}).",
        "",
        f"Lookups against it, in a fresh process ({sl['lookups']:,}: half the full key set, id key "
        "included, of a random stored document, half new keys; documents returned per lookup: "
        f"{sl['docs_found']}):",
        "",
        "| lookups | mean ms | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        *[
            f"| {kind} | {sl[kind]['mean_ms']} | {sl[kind]['p50_ms']} | {sl[kind]['p99_ms']} |"
            for kind in ("existing", "new", "all")
        ],
        "",
        f"Single lookups {sl['single_docs_per_s']:,} docs/s; in chunks of {LOOKUP_CHUNK}: "
        f"{sl['chunked_docs_per_s']:,} docs/s. Peak RSS of that process: "
        f"{sl['peak_rss_bytes'] / 2**20:,.0f} MiB (VmHWM; getrusage ru_maxrss "
        f"{sl['ru_maxrss_bytes'] / 2**20:,.0f} MiB), of which "
        f"{sl['rss_before_lookups_bytes'] / 2**20:,.0f} MiB before the store was opened (interpreter, "
        "imports, the query keys). The store's own connection keeps SQLite's default page cache "
        "(2 MiB); the file is read through the OS page cache, which RSS does not count. (ru_maxrss is "
        "not this process's own figure: Linux carries the parent's peak over fork + exec.)",
        "",
        f"Every stored document's lookup found it: {ans.get('existing_own_found', 0):,} / "
        f"{sl['lookups'] - new_lookups:,}, with all its exact keys verified against its row "
        f"({ans.get('existing_own_all_exact_keys', 0):,}) and all its band keys "
        f"({ans.get('existing_own_all_near_keys', 0):,}); {ans.get('existing_with_other_docs', 0):,} "
        "of those lookups also returned another document.",
        "",
        "False candidates: a new document's lookup returned a stored one "
        f"{ans.get('new_with_false_candidate', 0):,} "
        f"times in {new_lookups:,} ({sl['false_candidate_rate']:.2%}; "
        f"{ans.get('new_false_candidates', 0):,} documents, {ans.get('new_false_exact_matches', 0)} of them "
        f"on an exact key). A posting keeps {_HASH_BITS} bits of its key's hash, so at "
        f"{st['postings']:,} postings a key's bucket holds a stranger's posting with probability "
        f"{p_bucket:.2e} (measured: {ans.get('new_near_keys_in_used_bucket', 0):,} of "
        f"{ans.get('new_near_keys', 0):,} band keys, {ans.get('new_exact_keys_in_used_bucket', 0):,} of "
        f"{ans.get('new_exact_keys', 0):,} exact keys). An exact key's hit is checked against the "
        f"article's own fields and dropped ({ans.get('new_with_exact_bucket_hit', 0):,} lookups had one); "
        f"a band key's cannot be, so with {bands} band keys about "
        f"{1 - (1 - p_bucket) ** bands:.2%} of lookups return a stranger "
        f"(measured {ans.get('new_with_near_bucket_hit', 0):,} / {new_lookups:,}), which `decide` "
        "then rejects by comparing signatures, at the cost of reading its body and computing its "
        "signature.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="articles for the throughput runs")
    parser.add_argument("--state-docs", type=int, default=1_000_000, help="documents in the state store")
    parser.add_argument("--lookups", type=int, default=10_000, help="lookups against the state store")
    parser.add_argument("--brute-sample", type=int, default=BRUTE_SAMPLE, help="articles brute-forced")
    parser.add_argument("--feeds", type=Path, default=DEFAULT_FEEDS, help="RSS captures for the vocabulary")
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="seed articles for the vocabulary")
    parser.add_argument("--tmp", default=None, help="folder for the SQLite files (default: system temp)")
    parser.add_argument("--lookup-worker", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()

    cpu = pin_to_one_core()
    if args.lookup_worker:
        print(json.dumps(lookup_worker(args.lookup_worker, args.state_docs, args.lookups)))
        return
    if args.docs < 2 * LOOKUP_CHUNK or args.state_docs < WRITE_BATCH:
        raise SystemExit(f"--docs must be >= {2 * LOOKUP_CHUNK} and --state-docs >= {WRITE_BATCH}")

    began = time.perf_counter()
    info = machine()
    info["pinned_to_cpu"] = cpu
    config = DedupConfig()
    command = ".venv/bin/python benchmarks/bench_dedup.py" + "".join(
        f" --{flag} {value}"
        for flag, value, default in (
            ("docs", args.docs, 100_000),
            ("state-docs", args.state_docs, 1_000_000),
            ("lookups", args.lookups, 10_000),
            ("brute-sample", args.brute_sample, BRUTE_SAMPLE),
        )
        if value != default
    )
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench-dedup-") as folder:
        # The state first, while this process is small (the lookup worker is a fresh process).
        state = bench_state(folder, args.state_docs, args.lookups)

        log("corpus: vocabulary from the real texts")
        texts = real_texts(args.feeds, args.seeds)
        vocab = Vocabulary.of(texts)
        log(f"corpus: {args.docs:,} articles")
        corpus = make_corpus(args.docs, vocab, RNG_SEED)
        fps, signatures = bench_signatures(corpus, config)
        log(f"signatures: {signatures['fingerprint']['docs_per_s']:,} docs/s (fingerprint)")

        half = args.docs // 2
        store = LocalStore(os.path.join(folder, "lookup.db"))
        log(f"prefill: deciding and writing {half:,} articles")
        filled, canonical = prefill(store, corpus, fps, half, config)
        lookup, decided = bench_lookup(store, corpus, fps, half, config)
        store.close()
        log(f"lookup: {lookup['docs_per_s']:,} docs/s")
        brute = bench_brute_force(fps, half, canonical, decided, config, args.brute_sample, RNG_SEED)
        lsh = bench_lsh_candidates(corpus, fps, half, config)

    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": info,
        "config": config.model_dump(),
        "corpus": {
            "docs": args.docs,
            "rng_seed": RNG_SEED,
            "vocabulary_source": f"{len(texts)} real texts ({args.feeds.name}/*.xml, seeds/*.txt)",
            "vocabulary_words": len(vocab.words),
            "mean_body_bytes": round(corpus.mean_body_bytes),
            "mean_words": round(corpus.mean_words),
            "near_copies": sum(1 for k in corpus.kind if k not in ("original", "exact")),
            "exact_copies": corpus.kind.count("exact"),
            "copies_by_recipe": dict(Counter(corpus.kind)),
            "generate_seconds": round(corpus.generate_seconds, 1),
        },
        "signatures": signatures,
        "prefill": filled,
        "lookup": lookup,
        "baseline_brute_force": brute,
        "lsh_candidates": lsh,
        "lookup_to_brute_force_ratio": round(lookup["docs_per_s"] / brute["docs_per_s"], 1),
        "state": {
            **state,
            # Copies keep their exact keys but no band keys.
            "mix_estimate_bytes": round(
                state["bytes_per_posting"]
                * (
                    state["breakdown"]["exact"]["postings"]
                    + state["breakdown"]["near"]["postings"] * filled["canonical_share"]
                )
            ),
        },
        "total_seconds": round(time.perf_counter() - began),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dedup_bench.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_markdown(result, RESULTS / "dedup_bench.md")
    print(
        json.dumps({k: result[k] for k in ("signatures", "lookup", "lookup_to_brute_force_ratio")}, indent=2)
    )
    print(json.dumps({k: v for k, v in state.items() if k not in ("table", "breakdown")}, indent=2))


if __name__ == "__main__":
    main()
