"""The article page's marking of evidence (pipelines/web/evidence.py): the text cut at every span's
ends, each piece with the tags whose evidence covers it."""

from __future__ import annotations

from pipelines.web.evidence import Mark, marks_of, paragraphs, runs

PUTIN = Mark("actor", "Q7747", "Vladimir Putin", "alias Putin")
SUMMIT = Mark("topic", "diplomacy.summit", "Summits and visits", "rule summit")


def test_runs_cover_the_text_exactly_and_overlaps_carry_both_tags():
    text = "Putin met Kim at a summit."
    spans = [(0, 5, PUTIN), (0, 13, SUMMIT)]
    cut = runs(text, spans)
    assert "".join(run.text for run in cut) == text
    assert [(run.text, run.marks) for run in cut] == [
        ("Putin", (PUTIN, SUMMIT)),
        (" met Kim", (SUMMIT,)),
        (" at a summit.", ()),
    ]
    assert cut[0].kinds == "actor topic"
    assert cut[0].note == (
        "actor Vladimir Putin (Q7747), matched by alias Putin; "
        "topic Summits and visits (diplomacy.summit), matched by rule summit"
    )


def test_paragraphs_shift_the_spans_past_the_title_and_earlier_paragraphs():
    title, body = "Kim in Russia", "First part.\n\nPutin spoke."
    start = len(title) + 2 + body.index("Putin")
    cut = paragraphs(body, [(start, start + 5, PUTIN)], len(title) + 2)
    assert [[(run.text, run.marks) for run in p] for p in cut] == [
        [("First part.", ())],
        [("Putin", (PUTIN,)), (" spoke.", ())],
    ]


def test_marks_of_reads_every_tags_evidence_from_a_stored_document():
    doc = {
        "actors": [
            {"id": "Q7747", "name": "Vladimir Putin", "evidence": [{"start": 1, "end": 6, "via": "x"}]}
        ],
        "topics": [{"id": "sanctions", "label": "Sanctions", "evidence": [{"start": 8, "end": 17}]}],
    }
    assert marks_of(doc) == [
        (1, 6, Mark("actor", "Q7747", "Vladimir Putin", "x")),
        (8, 17, Mark("topic", "sanctions", "Sanctions", "")),
    ]
