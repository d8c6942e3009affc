"""A long article and a prefix teaser of it, decided across runs through a store: what the tests of
both stores share (a teaser must still fold when its full version was stored by an earlier run)."""

from __future__ import annotations

import datetime as dt
import random

from connectors.store import DedupIndex
from pipelines.dedup import lookup_chunk
from schemas.dedup import Decision, DedupConfig, DuplicateResolver, apply_decision, fingerprint, with_keys
from schemas.ids import content_hash, stable_id
from schemas.near_dup import is_lead_key, lead_keys
from schemas.records import Article, Source
from tests.conftest import PIPELINE, RUN_AT

CONFIG = DedupConfig()
# A 30-word prefix of a 600-word article shares its opening to the 28-word rung: containment
# (28 - 2) / 28 shingles, folded. Known only to the first rung (12), it would be 10 / 28, and the
# MinHash estimate rests on ~6 values (under MIN_CONTAINMENT_EVIDENCE): not folded.
LONG_WORDS = 600
TEASER_WORDS = 30


def _words(count: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(f"w{rng.randrange(5000)}" for _ in range(count))


def article(body: str, n: int, title: str, hours: int = 0) -> Article:
    url = f"https://news{n}.example.org/story-{n}"
    return Article(
        id=stable_id("teaser-test", url),
        url=url,
        canonical_url=url,
        source=Source(kind="feed", name=f"Outlet {n}", feed_url=f"https://news{n}.example.org/rss"),
        title=title,
        body=body,
        published_at=RUN_AT + dt.timedelta(hours=hours),
        ingested_at=RUN_AT + dt.timedelta(hours=hours),
        word_count=len(body.split()),
        content_hash=content_hash(body),
        pipeline=PIPELINE,
    )


def long_article(seed: int = 1) -> Article:
    return article(_words(LONG_WORDS, seed), 1, "The whole story")


def teaser_of(full: Article) -> Article:
    """The first TEASER_WORDS words of `full` under another title, a day later."""
    return article(" ".join(full.body.split()[:TEASER_WORDS]), 2, "A teaser", hours=24)


def stored_as_first_run(full: Article) -> Article:
    """`full` as a run writes it: canonical, with its keys, signature and lead ladder."""
    return with_keys(apply_decision(full, Decision(full.id)), fingerprint(full, CONFIG))


def stored_as_before_ladders(full: Article) -> Article:
    """`full` as a writer before lead ladders wrote it: every lead key indexed, no ladder."""
    kept = stored_as_first_run(full)
    bands = [key for key in kept.near_dup_keys if not is_lead_key(key)]
    keys = (*bands, *lead_keys(full.body, full.title))
    return kept.model_copy(update={"near_dup_keys": keys, "near_dup_ladder": None})


def decide_in_a_later_run(index: DedupIndex, new: Article) -> Decision:
    """How a later run decides `new` against what `index` holds (as a batch run's lookup does)."""
    fp = fingerprint(new, CONFIG)
    (stored,) = lookup_chunk(index, [fp], CONFIG.near)
    return DuplicateResolver(CONFIG).decide(fp, stored)
