"""`wirewatch show ID`: one stored article with what the pipeline found in it, as text."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pipelines.console import printable_line, with_highlights
from pipelines.tag_match import document_text
from schemas.store import HIGHLIGHT_END, HIGHLIGHT_START

MIN_PREFIX = 6  # the embedded store's and Elasticsearch's shortest id prefix (store.get)
CONTEXT_CHARS = 45  # shown on each side of an evidence span
SPANS_SHOWN = 3  # per tag; the rest are counted
WIDTH = 96


def not_found(article_id: str) -> str:
    if len(article_id) < MIN_PREFIX:
        return (
            f"no article with id {article_id!r}: give the whole id, or a prefix of at least "
            f"{MIN_PREFIX} characters (ids come from `wirewatch search`)"
        )
    return f"no article with id {article_id!r}, nor one alone starting so (ids come from `wirewatch search`)"


def render(doc: Mapping[str, Any]) -> Iterator[str]:
    """The article as the text `show` prints: header, story lineage, tags with evidence, body."""
    source = doc["source"]
    yield printable_line(doc["title"])
    yield f"  id          {doc['id']}"
    yield f"  published   {doc.get('published_at') or '-'}{_date_note(doc)}"
    origin = source.get("file") or source.get("feed_url") or ""
    yield f"  source      {source['kind']}: {source.get('name') or ''} {origin}".rstrip()
    yield f"  url         {doc.get('url') or '-'}"
    yield f"  language    {doc.get('language') or '-'}    words {doc['word_count']}"
    yield from _body_origin(doc)
    if doc.get("duplicate_of"):
        similarity = f", similarity {doc['similarity']:.2f}" if doc.get("similarity") is not None else ""
        yield f"  copy of     {doc['duplicate_of']} ({doc.get('duplicate_reason') or 'copy'}{similarity})"
    if doc.get("alerts"):
        yield f"  alerts      {', '.join(doc['alerts'])}"
    yield from _outlets(doc.get("sources_seen") or ())
    text = document_text(doc["title"], doc.get("body") or "")
    actors, topics = doc.get("actors") or (), doc.get("topics") or ()
    yield ""
    yield f"Actors ({len(actors)})" if actors else "Actors: none found"
    for actor in actors:
        where = ", ".join(filter(None, (actor.get("kind"), actor.get("country"))))
        yield (
            f"  {actor['name']} ({actor['id']}, {where})  salience {actor.get('salience', 0):.2f}, "
            f"{actor.get('mentions', 0)} mention{'s' if actor.get('mentions', 0) != 1 else ''}"
        )
        yield from _evidence(text, actor.get("evidence") or ())
    yield f"Topics ({len(topics)})" if topics else "Topics: none found"
    for topic in topics:
        yield f"  {topic['id']} ({topic.get('label') or topic['id']})  score {topic.get('score', 0):.2f}"
        yield from _evidence(text, topic.get("evidence") or ())
    yield ""
    for paragraph in (doc.get("body") or "").split("\n\n"):
        yield textwrap.fill(paragraph, width=WIDTH)
        yield ""


def _body_origin(doc: Mapping[str, Any]) -> Iterator[str]:
    """Where the body came from; for a feed item whose page was fetched, how that went."""
    page = doc.get("page") or {}
    if page.get("status") == "extracted":
        yield f"  body        extracted from {page.get('final_url') or page['url']} ({page.get('extractor')})"
    elif page:
        yield f"  body        the feed's text; the linked page: {page['status']}: {page.get('reason') or '-'}"
    elif doc.get("body_source"):
        yield f"  body        the {doc['body_source']}'s text"


def _date_note(doc: Mapping[str, Any]) -> str:
    """Say when the shown date is the fetch time, and which date of the source was not believed."""
    if doc.get("date_source") != "fetched":
        return ""
    rejected = doc.get("date_rejected")
    return f"  (fetch time; {rejected})" if rejected else "  (fetch time: the source gave no date)"


def _outlets(sightings: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """Every outlet seen carrying the story (a canonical article's lineage), first seen first."""
    if len(sightings) < 2:
        return
    yield f"  outlets     {len(sightings)} carried this story:"
    for seen in sightings:
        when = seen.get("published_at") or seen.get("seen_at") or "-"
        where = seen.get("url") or seen.get("article_id")
        yield f"              {when}  {seen.get('outlet') or '-'}  {where}"


def _evidence(text: str, spans: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """Each evidence span in its sentence's words, marked; the first few, then how many more."""
    for span in spans[:SPANS_SHOWN]:
        start, end = int(span["start"]), int(span["end"])
        before = text[max(0, start - CONTEXT_CHARS) : start]
        after = text[end : end + CONTEXT_CHARS]
        lead = "…" if start > CONTEXT_CHARS else ""
        tail = "…" if end + CONTEXT_CHARS < len(text) else ""
        marked = f"{lead}{before}{HIGHLIGHT_START}{text[start:end]}{HIGHLIGHT_END}{after}{tail}"
        via = f"  ({span['via']})" if span.get("via") else ""
        yield f"    {with_highlights(printable_line(marked))}{via}"
    if len(spans) > SPANS_SHOWN:
        yield f"    (+{len(spans) - SPANS_SHOWN} more)"
