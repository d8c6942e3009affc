"""Evaluate near-duplicate detection (schemas.near_dup) on real news text with known ground truth.

Articles: the items of the RSS captures in ../shared/data/feeds/news/ (parsed with
connectors.feed_parse.parse_feed, bodies turned into text with schemas.text.html_to_text, kept
with >= 40 words, exact duplicates dropped) plus the two seed files. Positives: syndication variants
of every article made with a seeded RNG (new headline, byline/dateline, boilerplate paragraph,
truncation to 60-90 %, 1-5 % of words replaced, and combinations), each paired with its original.
Negatives: every pair of distinct articles (same-story articles from different outlets, and the
two Kim-Putin seeds, included) and every "all edits" variant against every other article.

Reports precision / recall / F1 over thresholds for shingle k in {2, 3, 4, 5}, LSH candidate
recall for each bands x rows split of the signature, and signature throughput on one core.
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
from dataclasses import dataclass
from typing import Any

import numpy as np

from connectors.feed_parse import parse_feed
from connectors.seedio import parse_seed
from schemas.feeds import FeedSpec
from schemas.ids import canonical_text
from schemas.near_dup import (
    DEFAULT_CONFIG,
    NearDupConfig,
    band_keys,
    minhash_signature,
    shingles,
)
from schemas.text import clean_text, html_to_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
MIN_WORDS = 40
NATURAL_CONTAINMENT = 0.5
THRESHOLDS = [round(0.05 * i, 2) for i in range(2, 19)]
KS = (2, 3, 4, 5)
SPLITS = ((128, 1), (64, 2), (32, 4), (16, 8))

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


def throughput(texts: list[str], seconds: float, config: NearDupConfig, repeats: int = 3) -> dict[str, Any]:
    """Signatures per second on this one core (numpy's element-wise kernels are single-threaded).

    `repeats` runs of >= `seconds` each; the median is the figure reported (shared machines are noisy).
    """
    minhash_signature("warm up: builds the word-character table and permutations once")
    runs = []
    for _ in range(repeats):
        n = 0
        start = time.perf_counter()
        while True:
            for text in texts:
                minhash_signature(text, num_perm=config.num_perm, k=config.shingle_k, seed=config.seed)
            n += len(texts)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        runs.append({"docs": n, "seconds": elapsed, "docs_per_s": n / elapsed})
    median = sorted(runs, key=lambda r: r["docs_per_s"])[len(runs) // 2]
    mean_words = sum(len(canonical_text(t).split()) for t in texts) / len(texts)
    return {**median, "runs_docs_per_s": [r["docs_per_s"] for r in runs], "mean_words": mean_words}


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
            [minhash_signature(d.text, num_perm=128, k=k, seed=DEFAULT_CONFIG.seed) for d in all_docs],
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
                keys = [set(band_keys(tuple(s.tolist()), bands, rows)) for s in sigs]
                pos_cand = np.array([bool(keys[a] & keys[b]) for a, b in pos])
                thr = pos_est >= DEFAULT_CONFIG.threshold
                neg_orig = [bool(keys[a] & keys[b]) for a, b in neg_pairs[:n_orig_pairs]]
                lsh[f"{bands}x{rows}"] = {
                    "candidate_recall": float(pos_cand.mean()),
                    "end_to_end_recall": float((pos_cand & thr).mean()),
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
        "default": default,
        "per_k": per_k,
        "throughput_eval_set": throughput(texts, args.seconds, DEFAULT_CONFIG),
        "throughput_seed_articles": throughput(seed_texts, args.seconds, DEFAULT_CONFIG),
    }


def write_markdown(res: dict[str, Any], path: str) -> None:
    cfg = res["config"]
    ds = res["dataset"]
    d = res["default"]
    k = str(cfg["shingle_k"])
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
        f"## At the defaults (k={k}, threshold={cfg['threshold']})",
        "",
        f"precision **{d['precision']:.4f}**, recall **{d['recall']:.4f}**, F1 **{d['f1']:.4f}** "
        f"(TP {d['tp']}, FP {d['fp']}, FN {d['fn']}).",
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
    lines += ["", "## Precision / recall over thresholds", ""]
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
        f"## LSH (k={k}, 128 permutations)",
        "",
        "| bands x rows | S-curve midpoint | candidate recall | recall with threshold | "
        "negative pairs that are candidates |",
        "|---|---|---|---|---|",
    ]
    for split, r in res["per_k"][k]["lsh"].items():
        lines.append(
            f"| {split} | {r['s_curve_midpoint']:.3f} | {r['candidate_recall']:.4f} | "
            f"{r['end_to_end_recall']:.4f} | {r['negative_candidate_rate']:.5f} |"
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
        "## Signature throughput (one core, numpy only, 128 permutations)",
        "",
        "Cost grows with length (about 40 % NFKC/casefold and word hashing, about half the "
        "128 x shingles min-hash matrix).",
        "",
    ]
    for name in ("throughput_eval_set", "throughput_seed_articles"):
        r = res[name]
        lines.append(
            f"- {name.removeprefix('throughput_').replace('_', ' ')}: **{r['docs_per_s']:,.0f} docs/s** "
            f"median of {len(r['runs_docs_per_s'])} runs of >= {r['seconds']:.0f} s "
            f"({', '.join(f'{x:,.0f}' for x in r['runs_docs_per_s'])}), mean {r['mean_words']:.0f} words/doc"
        )
    lines.append("")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feeds", default=os.path.join(ROOT, "..", "shared", "data", "feeds", "news"))
    parser.add_argument("--seeds", default=os.path.join(ROOT, "seeds", "*.txt"))
    parser.add_argument("--seed", type=int, default=7, help="RNG seed of the variants")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput run")
    args = parser.parse_args()
    res = evaluate(args)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "dedup_eval.json"), "w", encoding="utf-8") as fh:
        json.dump(res, fh, indent=2)
        fh.write("\n")
    write_markdown(res, os.path.join(RESULTS, "dedup_eval.md"))
    d = res["default"]
    print(
        f"P={d['precision']:.4f} R={d['recall']:.4f} F1={d['f1']:.4f} "
        f"{res['throughput_eval_set']['docs_per_s']:,.0f} docs/s"
    )


if __name__ == "__main__":
    main()
