"""The compiled path of `Tagger.tag` (tagcore) gives exactly what the Python path gives, input by input.

Both run on the current registry and taxonomy, so nothing here goes stale when they change. The
comparison is on the JSON text of `TagResult.to_dict()` (order, int vs float and every digit count)
and on the `TagResult` itself. Without the extension the tests skip, except in CI (`CI=true`),
where a missing extension is a failure: the build is part of `make install`.
"""

from __future__ import annotations

import ast
import json
import os
import random
import struct
from pathlib import Path

import pytest

from pipelines import tag_match
from pipelines.tag_match import CONTEXT_RULES, Tagger, document_text, matching_text, synthetic_articles
from schemas.actors import iter_alias_rows
from tests.conftest import seed_articles

if tag_match.NATIVE_ERROR and os.environ.get("CI", "").lower() != "true":
    pytest.skip(f"the tagcore extension is not built: {tag_match.NATIVE_ERROR}", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
GUM = Path(os.environ.get("WIREWATCH_SHARED_DATA") or ROOT.parent / "shared" / "data") / "eval" / "gum-news"
EDGE_CASES = Path(__file__).with_name("test_tag_match.py")
# Non-ASCII text takes the general automata instead of the byte DFAs: these are spliced in.
NON_ASCII = (
    "Déby met Türkiye’s envoy in N’Djamena.",
    "Leader 김정은 and 金正恩 (Ким Чен Ын) met Владимир Путин.",
    "São Paulo — Zürich, «Genève» · Kraków",
    "Erdoğan visited the Élysée; Macron’s aides and Scholz’s ministers agreed.",
)


@pytest.fixture(scope="module")
def taggers() -> tuple[Tagger, Tagger]:
    """(compiled, Python); `native=True` raises when the extension is missing (CI)."""
    tagger = Tagger.from_files(native=True)
    return tagger, Tagger(tagger.registry, tagger.taxonomy, native=False)


def _edge_cases() -> list[str]:
    """Every sentence-like string literal of the rule tests (test_tag_match.py)."""
    tree = ast.parse(EDGE_CASES.read_text(encoding="utf-8"))
    found = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " " in node.value
    ]
    return list(dict.fromkeys(found))


# Separators of the phrase soups: all ASCII once mapped (General Punctuation and Latin-1
# punctuation become spaces), so a soup of ASCII phrases takes tagcore's own mapping and byte
# automata, in 1- and 2-byte `str` buffers alike.
SEPARATORS = (
    " ",
    " ",
    " ",
    "-",
    ", ",
    ". ",
    "\n",
    "\n\n",
    "\t",
    "’",
    "'",
    "\u2014",
    "\u00a0",
    "«",
    "»",
    "/",
    "",
)


def _phrase_soups(tagger: Tagger, count: int) -> list[tuple[str, str]]:
    """Texts made only of the patterns themselves (aliases, surnames, block phrases, topic phrases
    and context cues) in every case form, joined by random separators: dense adjacent and
    overlapping hits, prefixes cut mid-word, a pattern at the very start and end of the text. One
    in five may hold any phrase (`김정은`, `Déby`) and so takes the general automata instead."""
    rng = random.Random(13)
    phrases = [alias.text for _, alias, _ in iter_alias_rows(tagger.registry)]
    phrases += [surname for actor in tagger.registry.actors for surname in actor.surnames]
    phrases += [text.rstrip("*") + rng.choice(("", "s", "ing")) for topic in tagger.taxonomy.topics
                for kind, text, _ in topic.rules() if kind != "regex"]  # fmt: skip
    phrases += ["violated the resolution", "violating a UN Security Council resolution"]
    for rule in CONTEXT_RULES:
        phrases += [p.rstrip("*") for p in (*rule.support, *rule.against, *rule.block, *rule.aliases)]
    plain = [phrase for phrase in phrases if len(matching_text(phrase).encode()) == len(phrase) + 2]
    forms = (str, str, str.lower, str.upper, str.title)
    soups = []
    for number in range(count):
        pool = phrases if number % 5 == 0 else plain
        words = [rng.choice(forms)(rng.choice(pool)) for _ in range(rng.randrange(1, 60))]
        text = "".join(word + rng.choice(SEPARATORS) for word in words).strip()
        cut = rng.randrange(len(text) + 1)
        soups.append((text[:cut], text[cut:]))
    return soups


def _gum_articles() -> list[tuple[str, str]]:
    """The GUM Wikinews documents as (headline, body), paragraphs separated by a blank line."""
    articles = []
    for path in sorted(GUM.glob("*.conllu")):
        paragraphs: list[list[str]] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# newpar") or not paragraphs:
                paragraphs.append([])
            if line.startswith("# text = "):
                paragraphs[-1].append(line[len("# text = ") :])
        texts = [" ".join(sentences) for sentences in paragraphs if sentences]
        if texts:
            articles.append((texts[0], "\n\n".join(texts[1:])))
    return articles


def _inputs(tagger: Tagger) -> list[tuple[str, str]]:
    rng = random.Random(11)
    edge = _edge_cases()
    synthetic = synthetic_articles(tagger.registry, 2000)
    inputs = [(article.title, article.body) for article in seed_articles()]
    inputs += synthetic
    inputs += _gum_articles()
    inputs += [("", text) for text in edge] + [(text, "") for text in edge] + [(text, text) for text in edge]
    for title, body in synthetic[:600]:
        sentences = body.split(". ")
        for _ in range(3):  # rule cases and non-ASCII names among many other actors
            sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(edge + list(NON_ASCII)))
        cut = rng.randrange(len(body) + 1)
        inputs.append((title.upper() if rng.random() < 0.3 else title, ". ".join(sentences)))
        inputs.append((body[cut : cut + 80], body[:cut]))  # offsets that fall mid-word
    inputs += _phrase_soups(tagger, 600)
    inputs += [("", ""), ("Russia", ""), ("", " "), ("$", "US$ 5 and HK$ 7"), ("\n\n", "\n")]
    return inputs


def test_inputs_cover_every_path(taggers):
    tagger, python = taggers
    assert tagger.native
    assert not python.native
    inputs = _inputs(tagger)
    assert len(inputs) > 4000
    # some texts stay non-ASCII once mapped: the general automata are exercised too
    assert any(
        len(matching_text(document_text(*pair))) != len(matching_text(document_text(*pair)).encode())
        for pair in inputs
    )
    assert len(_gum_articles()) >= 20 or not GUM.is_dir()


def test_native_tag_equals_the_python_path(taggers):
    tagger, reference = taggers
    mismatches = []
    for title, body in _inputs(tagger):
        got, expected = tagger.tag(title, body), reference.tag(title, body)
        if got != expected or json.dumps(got.to_dict()) != json.dumps(expected.to_dict()):
            mismatches.append((title, body))
    assert not mismatches, f"{len(mismatches)} inputs differ, the first: {mismatches[0]!r}"


def test_native_mapping_is_pythons(taggers):
    """The compiled one-pass mapping gives `Tagger.tag` the text `_map_bytes` gives, or defers to it."""
    tagger, _ = taggers
    core = tagger._native
    assert core is not None
    singles = [f"a{chr(code)}B" for code in (*range(0x2100), 0x3000, 0xD800, 0xDFFF, 0xFEFF, 0x1F600)]
    for text in [document_text(*pair) for pair in _inputs(tagger)] + singles:
        data = tag_match._map_bytes(text)
        padded = b" " + data + b" "
        expected = (padded[::-1], padded.lower()) if len(data) == len(text) else None
        assert core.map_ascii(text) == expected, repr(text)
        surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        assert core.lowered(text) == (None if surrogate else matching_text(text)), repr(text)


def test_native_automata_find_pythons_hits(taggers):
    """tagcore's automata (the `aho-corasick` crate) report the hits ahocorasick_rs's report, in the
    same order and in characters, for both flavours: the rules then add floats in that order."""
    tagger, _ = taggers
    core = tagger._native
    assert core is not None
    searched = {True: 0, False: 0}
    for text in [document_text(*pair) for pair in _inputs(tagger)]:
        mapped = core.map_ascii(text)
        if mapped is not None:
            (actors, topics), (backwards, lowered) = tagger._ascii_tables, mapped
            expected = (actors.search(backwards), topics.search(lowered, overlapping=True))
        else:
            actors, topics = tagger._full_tables
            low = matching_text(text)
            backwards = matching_text(text, fold=False)[::-1]
            expected = (actors.search(backwards), topics.search(low, overlapping=True))
        assert core.hits(text) == expected, repr(text)
        searched[mapped is not None] += 1
    assert searched[True] > 3000
    assert searched[False] > 150


def test_tag_text_refuses_a_foreign_low(taggers):
    """`Core.tag_text` checks that `low` is the matching text of `text` rather than trusting it."""
    tagger, _ = taggers
    core = tagger._native
    assert core is not None
    cases = (
        ("Russia and China", "Russia and Chinæ"),  # ASCII once mapped, against a text that is not
        ("Déby in N’Djamena", "Dóby in N’Djamena"),  # folded letters that differ
        ("Путин in Kyiv", "Путан in Kyiv"),  # the general path
    )
    for text, other in cases:
        low = core.lowered(text)
        assert low is not None
        with pytest.raises(ValueError, match=r"not Core\.lowered"):
            core.tag_text(other, 6, low, [])
        with pytest.raises(ValueError, match=r"not Core\.lowered"):
            core.tag_text(text + "!", 6, low, [])


def test_the_comparison_can_fail(taggers):
    """An output that differs in one digit is caught (the check is not vacuous)."""
    tagger, reference = taggers
    title, body = synthetic_articles(tagger.registry, 1)[0]
    result = reference.tag(title, body)
    actor = result.actors[0]
    changed = result._replace(actors=(actor._replace(salience=actor.salience + 1e-4), *result.actors[1:]))
    assert json.dumps(changed.to_dict()) != json.dumps(tagger.tag(title, body).to_dict())


def _doubles(rng: random.Random, count: int) -> list[float]:
    """Doubles in [0, 1] where `round(x, 4)` is hard: exact ties, their neighbours, random bits."""
    values = [0.0, 1.0, 0.5, 0.00005, 0.99995, 0.12345, 0.00015, 0.00025, 5e-324, 1e-300]
    for _ in range(count):
        tie = (rng.randrange(20000) + 0.5) / 10000  # the nearest double to a decimal tie
        below = struct.unpack("<d", struct.pack("<q", struct.unpack("<q", struct.pack("<d", tie))[0] - 1))[0]
        above = struct.unpack("<d", struct.pack("<q", struct.unpack("<q", struct.pack("<d", tie))[0] + 1))[0]
        values += [tie, below, above, rng.random(), 1.0 - rng.random() ** 9]
    return values


def test_native_round_is_pythons_round():
    """Salience, confidence and scores go through `round(x, 4)`: the Rust version is Python's, bit for bit."""
    from tagcore import round4

    values = _doubles(random.Random(5), 40000)
    values += [-x for x in values]
    assert [struct.pack("<d", round4(x)) for x in values] == [struct.pack("<d", round(x, 4)) for x in values]
