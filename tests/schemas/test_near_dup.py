"""Near-duplicate detection: deterministic signatures, seeds kept apart, syndicated copies caught."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import random
import subprocess
import sys

import pytest
from pydantic import ValidationError

from connectors.seedio import parse_seed
from schemas.ids import canonical_text
from schemas.near_dup import (
    DEFAULT_CONFIG,
    NearDupConfig,
    band_keys,
    estimated_jaccard,
    is_near_duplicate,
    minhash_signature,
    shingles,
)

SEEDS = pathlib.Path(__file__).resolve().parents[2] / "seeds"
READ_AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
BOILERPLATE = (
    "Copyright 2026 The Associated Press. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed without permission."
)
UNRELATED = (
    "The city council approved a new budget for public libraries on Tuesday, adding funds for longer "
    "opening hours, children's reading programmes and the repair of three branches damaged by floods "
    "last spring. Librarians welcomed the decision but warned that staffing remains a problem."
)


def _seed_bodies() -> list[str]:
    paths = sorted(SEEDS.glob("*.txt"))
    assert len(paths) == 2
    return [parse_seed(str(p), p.read_bytes(), read_at=READ_AT).body for p in paths]


def _sig(text: str) -> tuple[int, ...]:
    return minhash_signature(
        text, num_perm=DEFAULT_CONFIG.num_perm, k=DEFAULT_CONFIG.shingle_k, seed=DEFAULT_CONFIG.seed
    )


def _syndicate(body: str, rng: random.Random) -> str:
    words = body.split(" ")
    for i in rng.sample(range(len(words)), round(len(words) * 0.02)):
        words[i] = rng.choice(["officials", "reportedly", "government", "said", "sources"])
    return (
        "Kim and Putin meet again: what we know\n\n"
        "By Maria Keller, Reuters\nMOSCOW (Reuters) - " + " ".join(words) + "\n\n" + BOILERPLATE
    )


def test_shingles_use_canonical_words() -> None:
    assert shingles("The  Quick, brown FOX!", 2) == frozenset({"the quick", "quick brown", "brown fox"})
    assert shingles("Hello, world", 3) == frozenset({"hello world"})
    assert shingles(" ...", 3) == frozenset()


def test_signature_shape_and_canonical_form() -> None:
    body = _seed_bodies()[0]
    sig = _sig(body)
    assert len(sig) == DEFAULT_CONFIG.num_perm
    assert all(isinstance(v, int) and 0 <= v < 2**32 for v in sig)
    # Case, punctuation and spacing do not matter: the signature is that of canonical_text.
    assert sig == _sig(canonical_text(body))
    assert sig == _sig(body.upper().replace(" ", "  "))
    assert _sig("") == _sig("  !! ")
    assert estimated_jaccard(sig, sig) == 1.0


def test_signature_is_deterministic_across_processes() -> None:
    body = _seed_bodies()[0]
    code = (
        "import json, sys\n"
        "from schemas.near_dup import minhash_signature\n"
        "print(json.dumps(minhash_signature(sys.stdin.read())))\n"
    )
    # A different PYTHONHASHSEED would change anything built on hash(); signatures must not change.
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=body,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        cwd=pathlib.Path(__file__).resolve().parents[2],
    )
    assert tuple(json.loads(out.stdout)) == minhash_signature(body)


def test_signature_values_are_pinned() -> None:
    # A change of hashing or permutations silently invalidates every stored signature and band key.
    sig = minhash_signature("Kim Jong Un met Vladimir Putin in Russia on Wednesday.")
    keys = band_keys(sig, DEFAULT_CONFIG.bands, DEFAULT_CONFIG.rows)
    assert sig[:4] == (1929805165, 1929805165, 1929805165, 3039624298)
    assert keys[0] == "00-eb1e5b449e012e9d"


def test_the_two_seeds_are_not_near_duplicates() -> None:
    a, b = _seed_bodies()
    assert not is_near_duplicate(_sig(a), _sig(b), DEFAULT_CONFIG.threshold)
    assert estimated_jaccard(_sig(a), _sig(b)) < DEFAULT_CONFIG.threshold / 2


@pytest.mark.parametrize("rng_seed", [1, 2, 3])
def test_a_syndicated_copy_of_a_seed_is_a_near_duplicate(rng_seed: int) -> None:
    for body in _seed_bodies():
        copy = _syndicate(body, random.Random(rng_seed))
        assert is_near_duplicate(_sig(body), _sig(copy), DEFAULT_CONFIG.threshold)
        keys = set(band_keys(_sig(body), DEFAULT_CONFIG.bands, DEFAULT_CONFIG.rows))
        assert keys & set(band_keys(_sig(copy), DEFAULT_CONFIG.bands, DEFAULT_CONFIG.rows))


def test_band_keys() -> None:
    a, b = _seed_bodies()
    bands, rows = DEFAULT_CONFIG.bands, DEFAULT_CONFIG.rows
    keys_a = band_keys(_sig(a), bands, rows)
    assert len(keys_a) == bands
    assert len(set(keys_a)) == bands  # the band number keeps equal values in different bands apart
    assert all(k.isascii() and " " not in k and len(k) < 32 for k in keys_a)
    assert band_keys(_sig(a.upper()), bands, rows) == keys_a
    shared_seeds = set(keys_a) & set(band_keys(_sig(b), bands, rows))
    assert len(shared_seeds) <= 2
    assert not set(keys_a) & set(band_keys(_sig(UNRELATED), bands, rows))
    with pytest.raises(ValueError, match="bands \\* rows"):
        band_keys(_sig(a), 20, 10)
    # The bands read a prefix: a longer signature with the same prefix gives the same keys.
    assert band_keys(_sig(a)[: bands * rows], bands, rows) == keys_a


def test_estimated_jaccard_checks_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        estimated_jaccard((1, 2), (1, 2, 3))


def test_config_defaults_and_validation() -> None:
    cfg = NearDupConfig()
    assert cfg.bands * cfg.rows <= cfg.num_perm
    assert (cfg.num_perm, cfg.shingle_k, cfg.bands, cfg.rows, cfg.threshold) == (128, 3, 16, 3, 0.3)
    assert NearDupConfig(num_perm=64, bands=16, rows=4).num_perm == 64
    with pytest.raises(ValidationError, match="bands \\* rows must not exceed num_perm"):
        NearDupConfig(bands=32, rows=5)
    with pytest.raises(ValidationError):
        NearDupConfig(threshold=0.0)
    with pytest.raises(ValidationError):
        NearDupConfig(shingle_k=0)
    with pytest.raises(ValidationError):
        cfg.threshold = 0.5  # type: ignore[misc]


def test_lead_keys_read_only_the_opening_yet_hash_the_texts_first_words():
    """`lead_keys` canonicalizes only the opening of a long text: its keys must be those of the
    whole text's first canonical words, whatever the words (punctuation-only runs, dotted
    abbreviations, ligatures and letters NFKC or casefolding change, long words)."""
    from hashlib import blake2b

    from schemas.near_dup import LEAD_DEPTHS, lead_keys

    def reference(text: str) -> list[str]:
        words = canonical_text(text).split()
        return [
            f"L{depth:02d}-{blake2b(' '.join(words[:depth]).encode(), digest_size=8).hexdigest()}"
            for depth in LEAD_DEPTHS
            if len(words) >= depth
        ]

    pieces = ["a", "—", "U.S.", "...", "Ω", "ﬁre", "\n\n", "İstanbul", "ǅ", "x" * 40, "‘quoted’"]
    rng = random.Random(11)
    for _ in range(500):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 600)))
        assert lead_keys(text) == reference(text), text[:200]
