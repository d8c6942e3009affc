"""Evaluate near-duplicate detection (schemas.near_dup) on real news text with known ground truth.

Articles: the items of the RSS captures in ../shared/data/feeds/news/ (parsed with
connectors.feed_parse.parse_feed, bodies turned into text with schemas.text.html_to_text, kept
with >= 40 words, exact duplicates dropped) plus the two seed files. Positives: syndication variants
of every article made with a seeded RNG (new headline, byline/dateline, boilerplate paragraph,
truncation to 60-90 %, 1-5 % of words replaced, and combinations), each paired with its original.
Negatives: every pair of distinct articles (same-story articles from different outlets, and the
two Kim-Putin seeds, included) and every "all edits" variant against every other article.

End to end, at the defaults: every original and variant, in a seeded shuffled order (a variant
may come before its original), is fingerprinted (`schemas.dedup.fingerprint`) and decided by one
`schemas.dedup.DuplicateResolver` with an empty store, as a batch run does. Each original and its
variants are one cluster; a fold into an article of the same cluster is a true positive, a fold
into another cluster a false positive; every member of a cluster but the first one seen should be
folded (recall). The same pass is repeated over thresholds (`NearDupConfig(threshold=t)`).

Pairwise: precision / recall / F1 over thresholds for shingle k in {2, 3, 4, 5}, LSH candidate
recall for each bands x rows split of the signature (the band keys over its first bands * rows
values), and signature throughput on one core.
Results go to benchmarks/results/dedup_eval.json and .md.

    .venv/bin/python benchmarks/eval_dedup.py
    .venv/bin/python benchmarks/eval_dedup.py --feeds ../shared/data/feeds/news --seconds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from connectors.feed_parse import parse_feed
from connectors.seedio import parse_seed
from schemas.dedup import DedupConfig, DuplicateResolver, Fingerprint, fingerprint
from schemas.feeds import FeedSpec
from schemas.ids import canonical_text, content_hash, stable_id
from schemas.near_dup import (
    DEFAULT_CONFIG,
    NearDupConfig,
    band_keys,
    minhash_signature,
    shingles,
)
from schemas.records import Article, PipelineInfo, Source
from schemas.text import clean_text, count_words, html_to_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
MIN_WORDS = 40
NATURAL_CONTAINMENT = 0.5
THRESHOLDS = [round(0.05 * i, 2) for i in range(2, 19)]
KS = (2, 3, 4, 5)
SPLITS = ((64, 2), (32, 2), (16, 2), (32, 3), (20, 3), (16, 3), (32, 4))

_HEADLINES = (
    "BREAKING: {w} in focus as officials respond",
    "What we know so far about {w}",
    "{w}: the latest",
    "Explainer - why {w} matters",
    "UPDATE 2-{w} developments continue",
)
_BYLINES = (
    "By Maria Keller, Reuters\nMOSCOW (Reuters) -",
    "By Staff Reporter\nNEW DELHI, Feb 18 (PTI)",
    "AFP\nPARIS —",
    "By James Ortega and Li Wei | Associated Press\nWASHINGTON (AP) —",
    "Compiled by our correspondent\nLONDON:",
)
_BOILERPLATE = (
    "Copyright 2026 The Associated Press. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed without permission.",
    "(Except for the headline, this story has not been edited by our staff and is published from a "
    "syndicated feed.)",
    "Follow us on social media and subscribe to our newsletter for the latest news, analysis and "
    "opinion from around the world, delivered to your inbox every morning.",
    "Reporting by Maria Keller; additional reporting by Li Wei; editing by James Ortega and Anna "
    "Schmidt. Our standards: the Trust Principles.",
    "Click here to read the full story on our website. Download our app for breaking news alerts.",
)
_FILLER = (
    "the a officials said on monday reportedly government sources country minister new report "
    "week statement people told local media international"
).split()


@dataclass(frozen=True)
class Doc:
    """One article (an original or a variant) of the evaluation set."""

    key: str
    source: str
    title: str
    text: str
    origin: int  # index of the original article this text derives from
    kind: str  # "original" or the variant recipe


def load_articles(feeds_dir: str, seeds_glob: str) -> tuple[list[Doc], dict[str, int]]:
    """Originals: feed items and seeds with >= MIN_WORDS words, exact (canonical) duplicates dropped."""
    now = dt.datetime.now(dt.UTC)
    seen: set[str] = set()
    docs: list[Doc] = []
    stats = {"feed_files": 0, "items": 0, "short": 0, "exact_duplicates": 0, "seeds": 0}

    def add(source: str, title: str, body: str) -> None:
        canon = canonical_text(body)
        if len(canon.split()) < MIN_WORDS:
            stats["short"] += 1
            return
        if canon in seen:
            stats["exact_duplicates"] += 1
            return
        seen.add(canon)
        docs.append(Doc(f"a{len(docs)}", source, title, body, len(docs), "original"))

    for path in sorted(glob.glob(os.path.join(feeds_dir, "*.xml"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = FeedSpec(url=f"https://feeds.example.com/{name}.xml", name=name)
        with open(path, "rb") as fh:
            result = parse_feed(fh.read(), {}, spec, fetched_at=now)
        stats["feed_files"] += 1
        for rec in result.records:
            stats["items"] += 1
            raw = rec.body or rec.summary or ""
            body = html_to_text(raw) if rec.body_format == "html" or "<" in raw else clean_text(raw)
            title = clean_text(html_to_text(rec.title)) if rec.title else ""
            add(f"feed:{name}", title, body)
    for path in sorted(glob.glob(seeds_glob)):
        with open(path, "rb") as fh:
            rec = parse_seed(path, fh.read(), read_at=now)
        stats["seeds"] += 1
        add(f"seed:{os.path.basename(path)}", rec.title or "", rec.body)
    return docs, stats


def _replace_words(text: str, fraction: float, rng: random.Random) -> str:
    words = text.split(" ")
    n = max(1, round(len(words) * fraction))
    for i in rng.sample(range(len(words)), min(n, len(words))):
        words[i] = rng.choice(_FILLER)
    return " ".join(words)


def _truncate(text: str, fraction: float) -> str:
    words = text.split(" ")
    return " ".join(words[: max(1, int(len(words) * fraction))])


def make_variants(doc: Doc, rng: random.Random) -> list[Doc]:
    """Syndicated copies of one article, each with the recipe that made it."""
    topic = " ".join(doc.title.split()[:4]) or "the story"

    def headline() -> str:
        return rng.choice(_HEADLINES).format(w=topic)

    body = doc.text
    recipes: dict[str, str] = {
        "headline": f"{headline()}\n\n{body}",
        "byline": f"{rng.choice(_BYLINES)} {body}",
        "boilerplate": f"{body}\n\n{rng.choice(_BOILERPLATE)}",
        "truncate": _truncate(body, rng.uniform(0.6, 0.9)),
        "words": _replace_words(body, rng.uniform(0.01, 0.05), rng),
        "headline+byline+words2%": (
            f"{headline()}\n\n{rng.choice(_BYLINES)} {_replace_words(body, 0.02, rng)}"
        ),
        "truncate+boilerplate": f"{_truncate(body, rng.uniform(0.6, 0.9))}\n\n{rng.choice(_BOILERPLATE)}",
        "all": (
            f"{headline()}\n\n{rng.choice(_BYLINES)} "
            f"{_replace_words(_truncate(body, rng.uniform(0.6, 0.9)), rng.uniform(0.01, 0.05), rng)}"
            f"\n\n{rng.choice(_BOILERPLATE)}"
        ),
    }
    return [
        Doc(f"{doc.key}/{name}", doc.source, doc.title, text, doc.origin, name)
        for name, text in recipes.items()
    ]


def exact_jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def throughput(
    texts: list[str],
    seconds: float,
    config: NearDupConfig,
    repeats: int = 3,
    articles: list[Article] | None = None,
) -> dict[str, Any]:
    """Signatures per second on this one core (numpy's element-wise kernels are single-threaded).

    `minhash_signature` over `texts`, or, given `articles` (of those texts), the whole
    `schemas.dedup.fingerprint` (exact keys, signature, band keys). `repeats` runs of >= `seconds`
    each; the median is the figure reported (shared machines are noisy).
    """
    minhash_signature("warm up: builds the word-character table and permutations once")
    dedup_config = DedupConfig(near=config)

    def one_pass() -> int:
        if articles is not None:
            for article in articles:
                fingerprint(article, dedup_config)
            return len(articles)
        for text in texts:
            minhash_signature(text, num_perm=config.num_perm, k=config.shingle_k, seed=config.seed)
        return len(texts)

    runs = []
    for _ in range(repeats):
        n = 0
        start = time.perf_counter()
        while True:
            n += one_pass()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        runs.append({"docs": n, "seconds": elapsed, "docs_per_s": n / elapsed})
    median = sorted(runs, key=lambda r: r["docs_per_s"])[len(runs) // 2]
    words = [len(canonical_text(t).split()) for t in texts]
    return {
        **median,
        "min_seconds": seconds,
        "runs_docs_per_s": [r["docs_per_s"] for r in runs],
        "mean_words": float(np.mean(words)),
        "median_words": float(np.median(words)),
    }


# -- teasers: a short version of an article (its first words or first sentence/paragraph) --------

GROUND_TRUTH = os.path.join(ROOT, "..", "shared", "data", "articles", "ground-truth.json")
TEASER_WORDS = (15, 60)


def _first_sentence(text: str) -> str:
    words = text.split()
    for i, word in enumerate(words):
        if word.endswith((".", "!", "?")) and i + 1 >= TEASER_WORDS[0]:
            return " ".join(words[: i + 1])
    return " ".join(words[: TEASER_WORDS[0]])


def teaser_pairs(bodies: Sequence[tuple[str, str]], seed: int) -> tuple[list[Any], list[Any]]:
    """(full, teaser) positives cut from real articles, and (article, teaser of another) negatives.

    Per article: a prefix teaser of a seeded 15-60 words, a lead-sentence teaser (the first sentence,
    at least 15 words) and a lead-paragraph teaser (the first paragraph, cut to 60 words) with
    another title. Negatives: each teaser against the next article, and against the next article
    opened with the same 14-word wire boilerplate as the teaser."""
    rng = random.Random(seed)
    boiler = "LONDON, Feb 17 (Reuters) - The following statement was released by the company on Tuesday:"
    pos: list[Any] = []
    neg: list[Any] = []
    for i, (title, body) in enumerate(bodies):
        words = body.split()
        if len(words) < 2 * TEASER_WORDS[1]:
            continue
        paragraph = " ".join(body.split("\n\n")[0].split()[: TEASER_WORDS[1]])
        teasers = [
            ("prefix", title, " ".join(words[: rng.randint(*TEASER_WORDS)])),
            ("sentence", title, " ".join(_first_sentence(body).split()[: TEASER_WORDS[1]])),
        ]
        if len(paragraph.split()) >= TEASER_WORDS[0]:
            teasers.append(("paragraph", "Read: " + title, paragraph))
        other_title, other = bodies[(i + 1) % len(bodies)]
        for kind, t_title, text in teasers:
            pos.append((kind, (title, body), (t_title, text)))
            neg.append((kind, (other_title, other), (t_title, text)))
            neg.append(
                (kind + "+boilerplate", (other_title, f"{boiler} {other}"), (t_title, f"{boiler} {text}"))
            )
    return pos, neg


def evaluate_teasers(bodies: Sequence[tuple[str, str]], seed: int, config: DedupConfig) -> dict[str, Any]:
    """Each pair decided by one resolver, in both orders (teaser first, full first): a fold of the
    later into the earlier is a positive call."""
    pos, neg = teaser_pairs(bodies, seed)
    counts: dict[str, Counter[str]] = {"pos": Counter(), "neg": Counter()}
    totals: dict[str, Counter[str]] = {"pos": Counter(), "neg": Counter()}
    for label, pairs in (("pos", pos), ("neg", neg)):
        for n, (kind, (t1, b1), (t2, b2)) in enumerate(pairs):
            for order in (0, 1):
                a = as_article(Doc(f"t{label}{n}a", "feed:teaser", t1, b1, n, kind), order)
                b = as_article(Doc(f"t{label}{n}b", "feed:teaser", t2, b2, n, kind), 1 - order)
                first, second = (a, b) if order == 0 else (b, a)
                resolver = DuplicateResolver(config)
                resolver.decide(fingerprint(first, config))
                folded = resolver.decide(fingerprint(second, config)).duplicate_of is not None
                counts[label][kind] += folded
                totals[label][kind] += 1
    tp, fn = sum(counts["pos"].values()), sum(totals["pos"].values()) - sum(counts["pos"].values())
    fp_ = sum(counts["neg"].values())
    return {
        **prf(tp, fp_, fn),
        "positive_pairs": len(pos),
        "negative_pairs": len(neg),
        "recall_by_kind": {k: counts["pos"][k] / n for k, n in sorted(totals["pos"].items())},
        "false_folds_by_kind": {k: f"{counts['neg'][k]}/{n}" for k, n in sorted(totals["neg"].items())},
    }


def load_ground_truth(path: str) -> list[tuple[str, str]]:
    """(title, body) of the human-checked articles; the title is the body's first sentence."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return [
        (_first_sentence(str(v["articleBody"]))[:120], str(v["articleBody"])) for _, v in sorted(data.items())
    ]


# -- end to end: fingerprint + DuplicateResolver ---------------------------------------------------

_EVAL_AT = dt.datetime(2026, 2, 17, tzinfo=dt.UTC)
_PIPELINE = PipelineInfo(version="eval", run_id="eval-dedup")


def as_article(doc: Doc, position: int) -> Article:
    """A minimal Article for `doc`, published in `position` order (what `fingerprint` needs)."""
    kind, _, name = doc.source.partition(":")
    return Article(
        id=stable_id("eval", doc.key),
        source=Source(kind="seed" if kind == "seed" else "feed", name=name or doc.source),
        title=doc.title or " ".join(doc.text.split()[:8]) or doc.key,
        body=doc.text,
        published_at=_EVAL_AT + dt.timedelta(seconds=position),
        ingested_at=_EVAL_AT + dt.timedelta(days=1),
        word_count=count_words(doc.text),
        content_hash=content_hash(doc.text),
        pipeline=_PIPELINE,
    )


def end_to_end(
    fps: Sequence[Fingerprint],
    docs: Sequence[Doc],
    excluded: set[int],
    config: DedupConfig,
) -> dict[str, Any]:
    """Decide `fps` in order with one resolver (empty store) and score the folds by cluster.

    `docs[i]` is the document of `fps[i]`; its cluster is `origin`. Clusters in `excluded` (captured
    articles that already are near-duplicates of another) are decided but not scored.
    """
    cluster_of = {fp.article_id: doc.origin for fp, doc in zip(fps, docs, strict=True)}
    resolver = DuplicateResolver(config)
    first_kind: dict[int, str] = {}  # cluster → kind of its first member seen (its canonical article)
    missed: Counter[str] = Counter()
    canonicals: Counter[int] = Counter()
    should: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    tp = fp_ = 0
    false_folds: list[dict[str, Any]] = []
    key_of = {fp.article_id: doc.key for fp, doc in zip(fps, docs, strict=True)}
    for fp, doc in zip(fps, docs, strict=True):
        decision = resolver.decide(fp)
        cluster = doc.origin
        if cluster in excluded:
            continue
        # The first member of a cluster seen is its canonical article; every later one is a copy.
        kind = doc.kind if doc.kind != "original" else "original after a variant"
        expected = cluster in first_kind
        first_kind.setdefault(cluster, doc.kind)
        if expected:
            should[kind] += 1
        if decision.duplicate_of is not None and cluster_of[decision.duplicate_of] == cluster:
            tp += 1
            correct[kind] += 1
            reasons[decision.reason or "?"] += 1
            continue
        if expected:
            missed["original first" if first_kind[cluster] == "original" else "variant first"] += 1
        if decision.duplicate_of is None:
            canonicals[cluster] += 1
        else:
            fp_ += 1
            if len(false_folds) < 10:
                false_folds.append(
                    {
                        "doc": doc.key,
                        "folded_into": key_of[decision.duplicate_of],
                        "reason": decision.reason,
                        "similarity": decision.similarity,
                    }
                )
    fn = sum(should.values()) - tp
    return {
        "threshold": config.near.threshold,
        **prf(tp, fp_, fn),
        "should_fold": sum(should.values()),
        "recall_by_kind": {
            kind: {"should": n, "folded": correct[kind], "recall": correct[kind] / n}
            for kind, n in sorted(should.items())
        },
        "fold_reasons": dict(reasons),
        "missed_by_first_seen": {k: missed[k] for k in ("original first", "variant first")},
        "clusters_first_seen_variant": sum(1 for k in first_kind.values() if k != "original"),
        "clusters": len(first_kind),
        "clusters_split": sum(1 for n in canonicals.values() if n > 1),
        "false_folds": false_folds,
    }


def evaluate_end_to_end(
    all_docs: Sequence[Doc], natural: Sequence[tuple[int, int, float]], seed: int
) -> dict[str, Any]:
    """The real resolver over every document in a seeded shuffled order, at the defaults and over
    thresholds (the fingerprints do not depend on the threshold, so they are made once)."""
    order = list(range(len(all_docs)))
    random.Random(seed).shuffle(order)
    docs = [all_docs[i] for i in order]
    config = DedupConfig()
    fps = [fingerprint(as_article(doc, pos), config) for pos, doc in enumerate(docs)]
    excluded = {c for a, b, _ in natural for c in (a, b)}
    default = end_to_end(fps, docs, excluded, config)
    curve = []
    for t in THRESHOLDS:
        row = end_to_end(fps, docs, excluded, DedupConfig(near=NearDupConfig(threshold=t)))
        curve.append({k: row[k] for k in ("threshold", "precision", "recall", "f1", "tp", "fp", "fn")})
    first: Counter[int] = Counter()
    originals_after_variant = 0
    for doc in docs:
        if doc.kind == "original" and first[doc.origin]:
            originals_after_variant += 1
        first[doc.origin] += 1
    return {
        "order_seed": seed,
        "docs": len(docs),
        "docs_scored": sum(1 for d in docs if d.origin not in excluded),
        "clusters_excluded": sorted(excluded),
        "originals_after_a_variant": originals_after_variant,
        "min_words": config.min_words,
        "default": default,
        "curve": curve,
    }


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    originals, load_stats = load_articles(args.feeds, args.seeds)
    rng = random.Random(args.seed)
    variants = [v for doc in originals for v in make_variants(doc, rng)]
    n = len(originals)
    all_docs = originals + variants
    seeds = [i for i, d in enumerate(originals) if d.source.startswith("seed:")]
    print(f"{n} articles, {len(variants)} variants", file=sys.stderr)

    # Articles that already are near-duplicates in the captures (one an updated or expanded version
    # of the other: >= NATURAL_CONTAINMENT of the smaller one's 5-word shingles occur in the larger)
    # have no clean label; their pairs are left out of both classes and listed in the report.
    sh5 = [shingles(d.text, 5) for d in originals]
    natural = []
    for a in range(n):
        for b in range(a + 1, n):
            shared = len(sh5[a] & sh5[b])
            if shared and shared / min(len(sh5[a]), len(sh5[b])) >= NATURAL_CONTAINMENT:
                natural.append((a, b, shared / min(len(sh5[a]), len(sh5[b]))))
    ambiguous = {(a, b) for a, b, _ in natural} | {(b, a) for a, b, _ in natural}

    # Pairs: positives (original, its variant); negatives (every other pair of originals, and each
    # "all" variant against every other original).
    pos = [(v.origin, n + j) for j, v in enumerate(variants)]
    iu, ju = np.triu_indices(n, k=1)
    neg_pairs = [p for p in zip(iu.tolist(), ju.tolist(), strict=True) if p not in ambiguous]
    n_orig_pairs = len(neg_pairs)
    all_variant = {v.origin: n + j for j, v in enumerate(variants) if v.kind == "all"}
    neg_pairs += [
        (all_variant[a], b) for a in range(n) for b in range(n) if a != b and (a, b) not in ambiguous
    ]
    pos_a = np.array([p[0] for p in pos])
    pos_b = np.array([p[1] for p in pos])
    neg_a = np.array([p[0] for p in neg_pairs])
    neg_b = np.array([p[1] for p in neg_pairs])
    kinds = [all_docs[b].kind for _, b in pos]

    # Same-story pairs: originals from different sources sharing many content words (unigram Jaccard).
    uni = [shingles(d.text, 1) for d in originals]
    related = [(a, b) for a, b in neg_pairs[:n_orig_pairs] if exact_jaccard(uni[a], uni[b]) >= 0.2]

    per_k: dict[str, Any] = {}
    for k in KS:
        t0 = time.perf_counter()
        sigs = np.array(
            [
                minhash_signature(d.text, num_perm=DEFAULT_CONFIG.num_perm, k=k, seed=DEFAULT_CONFIG.seed)
                for d in all_docs
            ],
            dtype=np.uint32,
        )
        sig_s = time.perf_counter() - t0
        pos_est = (sigs[pos_a] == sigs[pos_b]).mean(axis=1)
        neg_est = np.empty(len(neg_pairs))
        for lo in range(0, len(neg_pairs), 200_000):
            hi = lo + 200_000
            neg_est[lo:hi] = (sigs[neg_a[lo:hi]] == sigs[neg_b[lo:hi]]).mean(axis=1)
        sh = [shingles(d.text, k) for d in all_docs]
        pos_exact = np.array([exact_jaccard(sh[a], sh[b]) for a, b in pos])
        curve = []
        for t in THRESHOLDS:
            tp = int((pos_est >= t).sum())
            fp = int((neg_est >= t).sum())
            curve.append({"threshold": t, **prf(tp, fp, len(pos) - tp)})
        by_kind = {
            kind: {
                "pairs": int(sum(1 for x in kinds if x == kind)),
                "exact_jaccard_min": float(pos_exact[[x == kind for x in kinds]].min()),
                "exact_jaccard_median": float(np.median(pos_exact[[x == kind for x in kinds]])),
            }
            for kind in dict.fromkeys(kinds)
        }
        rel_idx = {p: i for i, p in enumerate(neg_pairs[:n_orig_pairs])}
        rel_est = np.array([neg_est[rel_idx[p]] for p in related]) if related else np.zeros(1)
        seed_pair = float(neg_est[rel_idx[(seeds[0], seeds[1])]]) if len(seeds) == 2 else None
        seed_exact = exact_jaccard(sh[seeds[0]], sh[seeds[1]]) if len(seeds) == 2 else None
        top_neg = np.argsort(-neg_est)[:5]
        per_k[str(k)] = {
            "signature_seconds": sig_s,
            "curve": curve,
            "positive_exact_jaccard_by_kind": by_kind,
            "estimate_abs_error_mean": float(np.abs(pos_est - pos_exact).mean()),
            "negatives_max_estimate": float(neg_est.max()),
            "negatives_p999_estimate": float(np.quantile(neg_est, 0.999)),
            "related_pairs": len(related),
            "related_max_estimate": float(rel_est.max()),
            "seed_pair_estimate": seed_pair,
            "seed_pair_exact": seed_exact,
            "hardest_negatives": [
                {
                    "estimate": float(neg_est[i]),
                    "a": all_docs[neg_pairs[i][0]].key + " " + all_docs[neg_pairs[i][0]].title[:70],
                    "b": all_docs[neg_pairs[i][1]].key + " " + all_docs[neg_pairs[i][1]].title[:70],
                }
                for i in top_neg.tolist()
            ],
            "hardest_positives": [
                {"estimate": float(pos_est[i]), "kind": kinds[i], "exact": float(pos_exact[i])}
                for i in np.argsort(pos_est)[:5].tolist()
            ],
        }
        if k == DEFAULT_CONFIG.shingle_k:
            lsh = {}
            for bands, rows in SPLITS:
                keys = [set(band_keys(tuple(s[: bands * rows].tolist()), bands, rows)) for s in sigs]
                pos_cand = np.array([bool(keys[a] & keys[b]) for a, b in pos])
                thr = pos_est >= DEFAULT_CONFIG.threshold
                neg_orig = [bool(keys[a] & keys[b]) for a, b in neg_pairs[:n_orig_pairs]]
                lsh[f"{bands}x{rows}"] = {
                    "candidate_recall": float(pos_cand.mean()),
                    "recall_with_threshold": float((pos_cand & thr).mean()),
                    "negative_candidate_rate": float(np.mean(neg_orig)),
                    "s_curve_midpoint": (1 / bands) ** (1 / rows),
                }
            per_k[str(k)]["lsh"] = lsh
        print(f"k={k} done", file=sys.stderr)

    default = next(
        row
        for row in per_k[str(DEFAULT_CONFIG.shingle_k)]["curve"]
        if abs(row["threshold"] - DEFAULT_CONFIG.threshold) < 1e-9
    )
    print("end to end: fingerprint + DuplicateResolver over thresholds", file=sys.stderr)
    e2e = evaluate_end_to_end(all_docs, natural, args.seed)
    print("teasers: cut from ground-truth articles", file=sys.stderr)
    gt = load_ground_truth(args.ground_truth)
    teasers = evaluate_teasers(gt, args.seed, DedupConfig()) if gt else {}
    e = e2e["default"]
    overall = prf(
        e["tp"] + teasers.get("tp", 0), e["fp"] + teasers.get("fp", 0), e["fn"] + teasers.get("fn", 0)
    )
    texts = [d.text for d in all_docs]
    seed_texts = [originals[i].text for i in seeds]
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpu": platform.processor(),
        },
        "config": DEFAULT_CONFIG.model_dump(),
        "dataset": {
            **load_stats,
            "articles": n,
            "variants": len(variants),
            "positive_pairs": len(pos),
            "negative_pairs": len(neg_pairs),
            "related_negative_pairs": len(related),
            "natural_duplicates_excluded": [
                {
                    "containment_5": round(c, 3),
                    "a": f"{originals[a].source} {originals[a].title[:80]}",
                    "b": f"{originals[b].source} {originals[b].title[:80]}",
                }
                for a, b, c in natural
            ],
            "mean_words": float(np.mean([len(d.text.split()) for d in originals])),
            "rng_seed": args.seed,
        },
        "end_to_end": e2e,
        "teasers": teasers,
        "overall_with_teasers": overall,
        "default": default,
        "per_k": per_k,
        "throughput_eval_set": throughput(texts, args.seconds, DEFAULT_CONFIG),
        "throughput_seed_articles": throughput(seed_texts, args.seconds, DEFAULT_CONFIG),
        "throughput_fingerprint_eval_set": throughput(
            texts, args.seconds, DEFAULT_CONFIG, articles=[as_article(d, i) for i, d in enumerate(all_docs)]
        ),
    }


def write_markdown(res: dict[str, Any], path: str) -> None:
    cfg = res["config"]
    ds = res["dataset"]
    d = res["default"]
    e2e = res["end_to_end"]
    e = e2e["default"]
    k = str(cfg["shingle_k"])
    default_split = f"{cfg['bands']}x{cfg['rows']}"
    lines = [
        "# Near-duplicate detection: evaluation",
        "",
        "Reproduce:",
        "",
        "```",
        ".venv/bin/python benchmarks/eval_dedup.py --seconds 3",
        ".venv/bin/pytest tests/schemas/test_near_dup.py -q",
        "```",
        "",
        f"Generated {res['generated_at']} "
        f"(Python {res['machine']['python']}, numpy {res['machine']['numpy']}).",
        "",
        f"Defaults: num_perm={cfg['num_perm']}, shingle_k={cfg['shingle_k']}, bands={cfg['bands']}, "
        f"rows={cfg['rows']}, threshold={cfg['threshold']}.",
        "",
        f"## At the defaults (end to end: {cfg['shingle_k']}-word shingles, LSH {cfg['bands']} bands x "
        f"{cfg['rows']} rows, threshold {cfg['threshold']})",
        "",
        f"Every article and variant ({e2e['docs']:,}; {e2e['docs_scored']:,} scored: the clusters of the "
        f"{len(e2e['clusters_excluded'])} captured articles listed under Data as already near-duplicates are "
        "decided but not scored) through "
        "`schemas.dedup.fingerprint` and one `DuplicateResolver` with an empty store, in a shuffled order "
        f"(seed {e2e['order_seed']}; {e2e['originals_after_a_variant']} originals come after one of their "
        "variants). A fold into an article of the same cluster (the original and its variants) is a true "
        "positive, a fold into another cluster a false positive; every member of a cluster but the first "
        f"seen should be folded. Texts under {e2e['min_words']} words are compared by exact keys only.",
        "",
        f"precision **{e['precision']:.4f}**, recall **{e['recall']:.4f}**, F1 **{e['f1']:.4f}** "
        f"(TP {e['tp']}, FP {e['fp']}, FN {e['fn']}; {e['should_fold']} should fold). "
        f"Folds by reason: {', '.join(f'{r} {n}' for r, n in sorted(e['fold_reasons'].items()))}. "
        f"Clusters left with more than one canonical article: {e['clusters_split']} of {e['clusters']}. "
        f"Misses: {e['missed_by_first_seen']['original first']} in clusters whose first article seen (their "
        f"canonical one) is the original, {e['missed_by_first_seen']['variant first']} in the "
        f"{e['clusters_first_seen_variant']} clusters where a variant came first: later members are compared "
        "with that variant (the resolver compares with canonical articles only), and two edited variants "
        "are further apart than either is from the original.",
        "",
        "| should fold | count | folded into its cluster | recall |",
        "|---|---:|---:|---:|",
        *[
            f"| {kind} | {r['should']} | {r['folded']} | {r['recall']:.4f} |"
            for kind, r in e["recall_by_kind"].items()
        ],
        "",
        *(
            [
                "False folds (first 10):",
                "",
                *[
                    f"- {f['doc']} -> {f['folded_into']} ({f['reason']}, {f['similarity']})"
                    for f in e["false_folds"]
                ],
                "",
            ]
            if e["false_folds"]
            else []
        ),
        "End to end over thresholds (same fingerprints and order; **bold**: the default):",
        "",
        "| threshold | precision | recall | F1 | TP | FP | FN |",
        "|---|---|---|---|---|---|---|",
        *[
            (
                f"| **{r['threshold']}** | **{r['precision']:.4f}** | **{r['recall']:.4f}** | "
                f"**{r['f1']:.4f}** | {r['tp']} | {r['fp']} | {r['fn']} |"
                if abs(r["threshold"] - cfg["threshold"]) < 1e-9
                else f"| {r['threshold']} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | "
                f"{r['tp']} | {r['fp']} | {r['fn']} |"
            )
            for r in e2e["curve"]
        ],
        "",
        *_teaser_lines(res),
        "## Data",
        "",
        f"{ds['articles']} articles ({ds['feed_files']} RSS captures: {ds['items']} items, "
        f"{ds['short']} under "
        f"{MIN_WORDS} words, {ds['exact_duplicates']} exact duplicates dropped; plus {ds['seeds']} seeds), "
        f"mean {ds['mean_words']:.0f} words. {ds['variants']} syndication variants "
        f"(RNG seed {ds['rng_seed']}). "
        f"{ds['positive_pairs']} positive pairs (original, variant); {ds['negative_pairs']} negative pairs "
        f"(all pairs of articles, and each 'all edits' variant against every other article), of which "
        f"{ds['related_negative_pairs']} are same-story pairs (unigram Jaccard >= 0.2).",
        "",
        f"Left out of both classes: {len(ds['natural_duplicates_excluded'])} pair(s) of captured articles "
        "that "
        f"already are near-duplicates (>= {NATURAL_CONTAINMENT:.0%} of the smaller one's 5-word shingles in "
        "the other, e.g. an updated version of an earlier story), with their variants:",
        "",
        *[
            f"- {r['containment_5']:.2f}: {r['a'].replace('|', '/')} <-> {r['b'].replace('|', '/')}"
            for r in ds["natural_duplicates_excluded"]
        ],
        "",
        f"## Pairwise, at k={k}, threshold={cfg['threshold']} (signatures compared directly, no LSH)",
        "",
        f"precision **{d['precision']:.4f}**, recall **{d['recall']:.4f}**, F1 **{d['f1']:.4f}** "
        f"(TP {d['tp']}, FP {d['fp']}, FN {d['fn']}).",
        "",
        "Pairwise tables below: every positive and negative pair's estimated Jaccard against the "
        "threshold, then LSH candidate recall per bands x rows split.",
        "",
        "| shingle k | seed pair est. (exact) | max negative est. | max same-story est. | "
        "est. abs error | best F1 (threshold) |",
        "|---|---|---|---|---|---|",
    ]
    for kk, r in res["per_k"].items():
        best = max(r["curve"], key=lambda row: (row["f1"], -row["threshold"]))
        lines.append(
            f"| {kk} | {r['seed_pair_estimate']:.3f} ({r['seed_pair_exact']:.3f}) | "
            f"{r['negatives_max_estimate']:.3f} | {r['related_max_estimate']:.3f} | "
            f"{r['estimate_abs_error_mean']:.3f} | {best['f1']:.4f} ({best['threshold']}) |"
        )
    lines += ["", "## Pairwise precision / recall over thresholds", ""]
    header = "| threshold | " + " | ".join(f"k={kk} P / R" for kk in res["per_k"]) + " |"
    lines += [header, "|---" * (1 + len(res["per_k"])) + "|"]
    for i, t in enumerate(THRESHOLDS):
        cells = [
            f"{r['curve'][i]['precision']:.4f} / {r['curve'][i]['recall']:.4f}" for r in res["per_k"].values()
        ]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"## Positive pairs: exact {k}-shingle Jaccard by variant recipe",
        "",
        "| recipe | pairs | min | median |",
        "|---|---|---|---|",
    ]
    for kind, r in res["per_k"][k]["positive_exact_jaccard_by_kind"].items():
        lines.append(
            f"| {kind} | {r['pairs']} | {r['exact_jaccard_min']:.3f} | {r['exact_jaccard_median']:.3f} |"
        )
    lines += [
        "",
        f"## LSH (k={k}, {cfg['num_perm']} permutations; band keys over the first bands x rows values)",
        "",
        "Pairwise: a positive pair is found when the two share a band key (candidate recall) and, with "
        "the threshold, when its estimate also reaches it.",
        "",
        "| bands x rows | S-curve midpoint | candidate recall | recall with threshold | "
        "negative pairs that are candidates |",
        "|---|---|---|---|---|",
    ]
    for split, r in res["per_k"][k]["lsh"].items():
        name = f"**{split}** (default)" if split == default_split else split
        lines.append(
            f"| {name} | {r['s_curve_midpoint']:.3f} | {r['candidate_recall']:.4f} | "
            f"{r['recall_with_threshold']:.4f} | {r['negative_candidate_rate']:.5f} |"
        )
    lines += ["", f"## Hardest pairs (k={k})", "", "| negative est. | a | b |", "|---|---|---|"]
    for r in res["per_k"][k]["hardest_negatives"]:
        a = r["a"].replace("|", "/")
        b = r["b"].replace("|", "/")
        lines.append(f"| {r['estimate']:.3f} | {a} | {b} |")
    lines += ["", "| positive est. | recipe | exact |", "|---|---|---|"]
    for r in res["per_k"][k]["hardest_positives"]:
        lines.append(f"| {r['estimate']:.3f} | {r['kind']} | {r['exact']:.3f} |")
    lines += [
        "",
        f"## Signature throughput (one core, numpy only, {cfg['num_perm']} permutations)",
        "",
        "Cost grows with length (about 40 % NFKC/casefold and word hashing, about half the "
        "128 x shingles min-hash matrix).",
        "",
    ]
    labels = {
        "throughput_eval_set": "`minhash_signature`, eval set",
        "throughput_seed_articles": "`minhash_signature`, seed articles",
        "throughput_fingerprint_eval_set": "`fingerprint` (keys + signature + band keys), eval set",
    }
    for name, label in labels.items():
        r = res[name]
        lines.append(
            f"- {label}: **{r['docs_per_s']:,.0f} docs/s** "
            f"median of {len(r['runs_docs_per_s'])} runs of >= {r['min_seconds']:g} s "
            f"({', '.join(f'{x:,.0f}' for x in r['runs_docs_per_s'])}), {r['mean_words']:.0f} words/doc "
            f"on average, median {r['median_words']:.0f}"
        )
    lines.append("")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


def _teaser_lines(res: dict[str, Any]) -> list[str]:
    t, o = res.get("teasers") or {}, res["overall_with_teasers"]
    if not t:
        return ["## Teasers", "", "No ground-truth articles found: teaser pairs not evaluated.", ""]
    return [
        "## Teasers (containment)",
        "",
        f"{t['positive_pairs']} (full article, teaser) pairs cut from the human-checked article bodies "
        "(prefix of 15-60 words; first sentence; first paragraph cut to 60 words, with another title) "
        f"and {t['negative_pairs']} negatives (a teaser against another article, plain and with both "
        "opening with the same 14-word wire boilerplate), each decided by one resolver in both orders: "
        f"precision **{t['precision']:.4f}**, recall **{t['recall']:.4f}** "
        f"(TP {t['tp']}, FP {t['fp']}, FN {t['fn']}).",
        "",
        "Recall by teaser kind: " + ", ".join(f"{k} {v:.3f}" for k, v in t["recall_by_kind"].items()) + ".",
        "False folds by negative kind: "
        + ", ".join(f"{k} {v}" for k, v in t["false_folds_by_kind"].items())
        + ".",
        "",
        f"Overall (end to end above plus teaser pairs): precision **{o['precision']:.4f}**, "
        f"recall **{o['recall']:.4f}** (TP {o['tp']}, FP {o['fp']}, FN {o['fn']}).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feeds", default=os.path.join(ROOT, "..", "shared", "data", "feeds", "news"))
    parser.add_argument("--seeds", default=os.path.join(ROOT, "seeds", "*.txt"))
    parser.add_argument("--seed", type=int, default=7, help="RNG seed of the variants")
    parser.add_argument("--ground-truth", default=GROUND_TRUTH, help="articles to cut teasers from")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput run")
    args = parser.parse_args()
    res = evaluate(args)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "dedup_eval.json"), "w", encoding="utf-8") as fh:
        json.dump(res, fh, indent=2)
        fh.write("\n")
    write_markdown(res, os.path.join(RESULTS, "dedup_eval.md"))
    d = res["default"]
    e = res["end_to_end"]["default"]
    t, o = res["teasers"], res["overall_with_teasers"]
    if t:
        print(
            f"teasers: P={t['precision']:.4f} R={t['recall']:.4f}; "
            f"overall: P={o['precision']:.4f} R={o['recall']:.4f}"
        )
    print(
        f"end to end: P={e['precision']:.4f} R={e['recall']:.4f} F1={e['f1']:.4f}; "
        f"pairwise: P={d['precision']:.4f} R={d['recall']:.4f} F1={d['f1']:.4f}; "
        f"{res['throughput_eval_set']['docs_per_s']:,.0f} signatures/s, "
        f"{res['throughput_fingerprint_eval_set']['docs_per_s']:,.0f} fingerprints/s"
    )


if __name__ == "__main__":
    main()
