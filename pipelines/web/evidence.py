"""An article's text cut into runs for the article page: plain runs, and runs that some tag's
evidence covers, with the tags that cover them (an actor and a topic may share words)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any


@dataclass(frozen=True)
class Mark:
    """One tag that a span of text is evidence for."""

    kind: str  # "actor" or "topic"
    tag_id: str
    label: str
    via: str


@dataclass(frozen=True)
class Run:
    text: str
    marks: tuple[Mark, ...] = ()

    @property
    def note(self) -> str:
        """What hovering the run shows: each tag, and the rule or name that matched."""
        return "; ".join(
            f"{m.kind} {m.label} ({m.tag_id})" + (f", matched by {m.via}" if m.via else "")
            for m in self.marks
        )

    @property
    def kinds(self) -> str:
        return " ".join(sorted({m.kind for m in self.marks}))


def marks_of(doc: Mapping[str, Any]) -> list[tuple[int, int, Mark]]:
    """Every evidence span of the document's actors and topics, as (start, end, mark) over
    `title + "\\n\\n" + body` (schemas.records.Evidence)."""
    found = []
    for kind, tags, label_key in (
        ("actor", doc.get("actors") or (), "name"),
        ("topic", doc.get("topics") or (), "label"),
    ):
        for tag in tags:
            mark = Mark(kind, str(tag.get("id")), str(tag.get(label_key) or tag.get("id")), "")
            for span in tag.get("evidence") or ():
                via = str(span.get("via") or "")
                found.append((int(span["start"]), int(span["end"]), Mark(kind, mark.tag_id, mark.label, via)))
    return found


def runs(text: str, spans: Iterable[tuple[int, int, Mark]], offset: int = 0) -> list[Run]:
    """`text` (which starts at `offset` of the text the spans index) cut at every span's ends."""
    inside = [(max(start - offset, 0), min(end - offset, len(text)), mark) for start, end, mark in spans]
    inside = [(s, e, m) for s, e, m in inside if s < e]
    cuts = sorted({0, len(text), *(s for s, _, _ in inside), *(e for _, e, _ in inside)})
    out: list[Run] = []
    for a, b in pairwise(cuts):
        covering = tuple(dict.fromkeys(m for s, e, m in inside if s <= a and b <= e))
        if out and out[-1].marks == covering:
            out[-1] = Run(out[-1].text + text[a:b], covering)
        else:
            out.append(Run(text[a:b], covering))
    return out


def paragraphs(body: str, spans: Sequence[tuple[int, int, Mark]], offset: int) -> list[list[Run]]:
    """The body's paragraphs (blank-line separated), each cut into runs."""
    out = []
    position = 0
    for paragraph in body.split("\n\n"):
        out.append(runs(paragraph, spans, offset + position))
        position += len(paragraph) + 2
    return out
