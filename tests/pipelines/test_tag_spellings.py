"""Issue 16, item 3: an alias matches in every spelling the news writes it, typographic or ASCII
apostrophes, with or without diacritics, in capitals; the compiled and Python paths alike."""

from __future__ import annotations

import unicodedata

import pytest

from pipelines.tag_match import LATIN_FOLDS, matching_text
from tests.pipelines.both_taggers import both_taggers

# (alias as the registry writes it, the actor): five aliases with diacritics or apostrophes.
ALIASES = [
    ("Côte d'Ivoire", "Q1008"),
    ("São Tomé and Príncipe", "Q1039"),
    ("Recep Tayyip Erdoğan", "Q39259"),
    ("Nicolás Maduro", "Q58132"),
    ("Da'esh", "Q2429253"),
]
_NO_DECOMPOSITION = {"Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "Ł": "L", "ł": "l"}
_NO_DECOMPOSITION |= {"Ŧ": "T", "ŧ": "t", "Ð": "D", "ð": "d"}


def _without_diacritics(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def variants(alias: str) -> set[str]:
    """The alias with ’ for ' (and back), without its diacritics, and in capitals, in every mix."""
    found = {alias}
    found |= {v.replace("'", "’") for v in found} | {v.replace("’", "'") for v in found}
    found |= {_without_diacritics(v) for v in found}
    found |= {v.upper() for v in found}
    return found


@pytest.mark.parametrize(("alias", "actor_id"), ALIASES)
def test_every_spelling_of_an_alias_tags_its_actor(alias: str, actor_id: str):
    spellings = variants(alias)
    assert len(spellings) >= 4
    for tagger in both_taggers():
        for spelling in spellings:
            result = tagger.tag("Talks resume", f"Officials said {spelling} would send a delegation.")
            assert actor_id in result.actor_ids, (spelling, tagger.native)
            (actor,) = [a for a in result.actors if a.id == actor_id]
            assert [span.text for span in actor.spans] == [spelling]  # evidence as written


def test_the_fold_table_is_the_base_letter_of_each_latin_letter():
    """LATIN_FOLDS (and its copy in native/tagcore/src/mapping.rs) is derived, not typed by hand."""
    derived = ""
    for code in range(0xC0, 0x180):
        char = chr(code)
        decomposed = unicodedata.normalize("NFD", char)
        base = decomposed[0]
        if len(decomposed) > 1 and base.isascii() and base.isalpha():
            derived += base
        else:
            derived += _NO_DECOMPOSITION.get(char, "-")
    assert derived == LATIN_FOLDS


def test_folding_keeps_every_character_in_its_place():
    text = "Erdoğan, Łódź and Zürich; Æsir, ß and × stay"
    mapped = matching_text(text)
    assert len(mapped) == len(text) + 2
    assert mapped == " erdogan  lodz and zurich  Æsir  ß and × stay "


def test_the_issues_spellings_of_islamic_state():
    for tagger in both_taggers():
        for text in (
            "Fighters of Da’esh withdrew.",
            "Dae’sh cells regrouped.",
            "A Da'esh statement followed.",
        ):
            assert "Q2429253" in tagger.tag("Report", text).actor_ids, (text, tagger.native)


def test_a_folded_one_word_name_never_matches_an_english_word():
    """Iceland's own name `Ísland` folds to `Island`; it is no alias then (Rhode Island is no Iceland)."""
    for tagger in both_taggers():
        result = tagger.tag("Storm", "Flooding hit Rhode Island and Hong Kong Island on Monday.")
        assert "Q189" not in result.actor_ids, tagger.native
        assert "Q189" in tagger.tag("Storm", "Flooding hit Iceland on Monday.").actor_ids
