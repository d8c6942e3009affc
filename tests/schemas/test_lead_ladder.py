"""Lead ladders (schemas.near_dup): one indexed lead key per text, and the ladder telling how deep two
texts sharing it share their opening, exactly as all the lead keys would."""

from __future__ import annotations

import random

from schemas.dedup import fingerprint, stored_ladder
from schemas.near_dup import (
    INDEXED_LEAD_DEPTH,
    LEAD_DEPTHS,
    TITLE_LEAD_PREFIX,
    indexed_lead_key,
    lead_depth,
    lead_keys,
    lead_ladder,
    same_title_lead,
    shared_lead_depth,
)
from tests.teasers import CONFIG, long_article


def _pair(rng: random.Random) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two (text, title) pairs sharing an opening of a random number of words, then differing."""
    shared = [f"w{rng.randrange(50)}" for _ in range(rng.randint(0, 70))]
    texts = [
        " ".join(shared + [f"x{side}{rng.randrange(50)}" for _ in range(rng.randint(0, 40))]) for side in "ab"
    ]
    titles = [rng.choice(["", "Same title", f"Title {side}"]) for side in "ab"]
    return (texts[0], titles[0]), (texts[1], titles[1])


def test_the_ladder_gives_the_deepest_lead_depth_two_texts_share():
    rng = random.Random(7)
    compared = 0
    for _ in range(3000):
        a, b = _pair(rng)
        keys_a, keys_b = lead_keys(*a), lead_keys(*b)
        (indexed_a, ladder_a), (indexed_b, ladder_b) = indexed_lead_key(*a), indexed_lead_key(*b)
        # One pass gives the first rung's key and the ladder the keys give (a store's old ones).
        assert indexed_a == [k for k in keys_a if lead_depth(k) == INDEXED_LEAD_DEPTH]
        assert ladder_a == lead_ladder(keys_a)
        shared = set(keys_a) & set(keys_b)
        if not shared:
            assert not set(indexed_a) & set(indexed_b)
            continue
        compared += 1
        # Whatever lead key two texts share, they share the indexed one...
        assert set(indexed_a) & set(indexed_b)
        # ...and their ladders say how deep, and whether the title-lead key too.
        deepest = max(d for k in shared if (d := lead_depth(k)) is not None)
        assert shared_lead_depth(ladder_a, ladder_b) == deepest, (a, b)
        assert same_title_lead(ladder_a, ladder_b) == any(k.startswith(TITLE_LEAD_PREFIX) for k in shared)
    assert compared > 1000


def test_a_full_article_keeps_one_lead_key_and_a_ladder_of_48_bytes():
    full = long_article()
    fp = fingerprint(full, CONFIG)
    leads = [k for k in fp.near_keys if k.startswith(("L", TITLE_LEAD_PREFIX))]
    assert [lead_depth(k) for k in leads] == [INDEXED_LEAD_DEPTH]
    assert len(fp.lead_ladder) == 4 * len(LEAD_DEPTHS)  # the title's value, then 11 deeper rungs
    assert fp.lead_ladder == lead_ladder(lead_keys(full.body, full.title))


def test_a_ladder_kept_wins_and_lead_keys_stored_before_ladders_give_the_same_one():
    full = long_article()
    keys = lead_keys(full.body, full.title)
    ladder = lead_ladder(keys)
    assert stored_ladder(None, ["03-00000000000000ff", *keys]) == ladder  # band keys are no rungs
    assert stored_ladder("AAAAAA==", keys) == bytes(4)
    assert stored_ladder(None, ["03-00000000000000ff"]) == b""
    # Unknown (b""): the first rung only, and no title sign.
    assert shared_lead_depth(ladder, b"") == INDEXED_LEAD_DEPTH
    assert not same_title_lead(ladder, b"")
    assert not same_title_lead(bytes(4), bytes(4))  # zero: no title on either side
