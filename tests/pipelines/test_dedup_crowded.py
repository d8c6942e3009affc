"""A boilerplate opening shared by many stored stories (a feed that opens every item with the
same pitch) finds none of them: new items are compared with what shares their story, not with the
whole feed (schemas.dedup.MAX_KEY_HOLDERS)."""

from __future__ import annotations

import pathlib
import random

from connectors.localstore import LocalStore
from pipelines.dedup import decide_together, lookup_chunk
from schemas.dedup import (
    MAX_KEY_HOLDERS,
    Candidate,
    Decision,
    DedupConfig,
    apply_decision,
    fingerprint,
    with_keys,
)
from schemas.ids import content_hash, stable_id
from schemas.records import Article
from tests.conftest import seed_articles

CONFIG = DedupConfig()
PITCH = "Sign up for our morning newsletter and get the day's most important stories from the region."
WORDS = [f"{stem}{n}" for stem in ("army", "port", "vote", "bank", "talk", "crop") for n in range(400)]


def _item(n: int, body: str) -> Article:
    return seed_articles()[0].model_copy(
        update={
            "id": stable_id("pitch", str(n)),
            "title": f"Story {n}",
            "body": body,
            "content_hash": content_hash(body),
            "word_count": len(body.split()),
        }
    )


def _story(rng: random.Random) -> str:
    return f"{PITCH}\n\n" + " ".join(rng.choice(WORDS) for _ in range(250)) + "."


def _stored(article: Article) -> Article:
    return with_keys(apply_decision(article, Decision(article.id)), fingerprint(article, CONFIG))


def test_a_pitch_opening_every_stored_item_finds_none_of_them_but_a_copy_still_folds(tmp_path: pathlib.Path):
    rng = random.Random(5)
    stored = [_item(n, _story(rng)) for n in range(MAX_KEY_HOLDERS + 4)]
    store = LocalStore(str(tmp_path / "w.db"))
    store.write_articles([_stored(a) for a in stored])

    fresh = _item(100, _story(rng))  # another story behind the same pitch
    words = stored[3].body.split(" ")
    words[40], words[120] = "changed", "edited"
    copy_ = _item(101, " ".join(words))  # a rewrite of a stored story, the pitch included
    fingerprints = [fingerprint(fresh, CONFIG), fingerprint(copy_, CONFIG)]
    # Every one of them shares the pitch's lead key with the new items …
    assert all(set(fp.near_keys) & set(fingerprint(stored[0], CONFIG).near_keys) for fp in fingerprints)

    found_fresh, found_copy = lookup_chunk(store, fingerprints, CONFIG.near)
    # … which finds none of them; the rewrite's own bands still find its story.
    assert found_fresh == ()
    assert [d.article_id for d in found_copy] == [stored[3].id]
    decided, _ = decide_together(
        [Candidate(fingerprints[0], found_fresh), Candidate(fingerprints[1], found_copy)],
        CONFIG,
        lambda _: None,
    )
    outcome = {c.fingerprint.article_id: c.decision.duplicate_of for c in decided if c.decision}
    assert outcome == {fresh.id: None, copy_.id: stored[3].id}
    store.close()
