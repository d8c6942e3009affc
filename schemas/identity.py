"""Which article a record is: the deterministic id and canonical URL, computed the same way everywhere.

Feed items:
- a permalink GUID (RSS `<guid>` with isPermaLink absent or true, an absolute http(s) URL): its
  canonical URL, whatever feed URL it was read from and whether the item also has a `<link>`;
- else an opaque GUID (isPermaLink="false", a URN, an Atom id), scoped to its feed's URL: short
  and numeric GUIDs only mean something within one feed;
- else the canonical link, else title + date (within the feed), else the text.
A GUID the feed document gives to several different items (`mark_shared_guids`) identifies none
of them: each is told apart by its own link when their links differ, else by the GUID with its
content hash. The same GUID with the same link and text (an item listed twice) stays one item,
and an item alone with its GUID keeps the GUID's id when its text is edited between polls.
Seed files: their normalized content. The fetch stage uses this to skip items already stored;
Normalize uses it to stamp the id, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.errors import BadRecordError
from schemas.ids import article_id_from_content, article_id_from_url, canonical_text, content_hash, stable_id
from schemas.records import GuidShared, RawRecord
from schemas.urls import canonical_url


def _canonical(url: str | None, what: str) -> str | None:
    if not url or not url.strip():
        return None
    try:
        return canonical_url(url)
    except ValueError as exc:
        raise BadRecordError(f"bad {what}: {exc}") from exc


def _permalink(raw: RawRecord) -> str | None:
    """The canonical URL of the item's permalink GUID, when it has one that is its own (a GUID the
    feed reused for other items is nobody's permalink)."""
    if not (raw.guid and raw.guid_is_permalink and raw.guid_shared is None):
        return None
    try:
        return _canonical(raw.guid, "permalink GUID")
    except BadRecordError:
        if _own_link(raw):  # the item still has a link to go by: the GUID is then only a name
            return None
        raise


def record_canonical_url(raw: RawRecord) -> str | None:
    """The article's canonical link: a permalink GUID (the publisher's own choice), else the link."""
    return _permalink(raw) or _canonical(raw.url, "article URL")


def record_id(raw: RawRecord, body_text: str | None = None) -> str:
    """The deterministic article id of `raw`.

    `body_text` is the cleaned body; seeds (which have no link) need it for their content hash.
    Raises BadRecordError when a link or permalink is malformed or nothing identifies the item.
    """
    by_content = article_id_from_content(content_hash(body_text if body_text is not None else raw.body))
    if raw.source.kind == "seed":
        return by_content
    permalink = _permalink(raw)
    if permalink:
        return article_id_from_url(permalink)
    feed = raw.source.feed_url or raw.source.name
    if raw.guid_shared == "link":
        return article_id_from_url(_canonical(raw.url, "article URL") or raw.uri)
    if raw.guid and raw.guid.strip():
        if raw.guid_shared == "content":
            return stable_id("guid", f"{feed}\x00{raw.guid.strip()}\x00{_item_hash(raw)}")
        return stable_id("guid", f"{feed}\x00{raw.guid.strip()}")
    link = _canonical(raw.url, "article URL")
    if link:
        return article_id_from_url(link)
    if raw.title and raw.title.strip():
        date = raw.published_at.isoformat() if raw.published_at and raw.date_source != "fetched" else ""
        return stable_id("title-date", f"{feed}\x00{canonical_text(raw.title)}\x00{date}")
    if (body_text if body_text is not None else raw.body).strip():
        return by_content
    raise BadRecordError("nothing identifies this item: no GUID, no link, no title and no text")


def _item_hash(raw: RawRecord) -> str:
    """What a feed item says (title and raw text), hashed: the same at the fetch stage and in
    Normalize, which both only have the raw record to go by."""
    return content_hash(f"{raw.title or ''}\n{raw.body}")


def _own_link(raw: RawRecord) -> str | None:
    """The item's link, unless it is only its GUID (feedparser copies a permalink GUID into the
    link of an item without one): a GUID the feed reused is no item's link."""
    if not raw.url or raw.url.strip() == (raw.guid or "").strip():
        return None
    try:
        return _canonical(raw.url, "article URL")
    except BadRecordError:
        return raw.url  # record_id dead-letters it; here it only has to tell items apart


def mark_shared_guids(records: Sequence[RawRecord]) -> tuple[RawRecord, ...]:
    """`records` (the items of one feed document) made to identify themselves apart:

    - `guid_shared` is set on the items whose GUID the document also gives to a different item
      (another link, title or text). A sloppy feed that reuses one GUID for every item would
      otherwise have all its items share one id, and all but one be dropped as "already stored".
      Within the group, items are told apart by their links when every distinct item has its own
      link (an edited text then keeps its id), else by GUID and content hash. Items identical in
      link and content stay one item.
    - permalink GUIDs that differ but are one canonical URL (`/page#a`, `/page#b`: one page's
      anchors) are only names: each item keeps the id of its own GUID, scoped to the feed.
    """
    shared = _shared_guids(records)
    alike = _alike_permalinks(records, shared)
    if not shared and not alike:
        return tuple(records)
    out = list(records)
    for i, how in shared.items():
        raw = records[i]
        out[i] = raw.model_copy(update={"guid_shared": how, "url": raw.url if _own_link(raw) else None})
    for i in alike:
        out[i] = records[i].model_copy(update={"guid_is_permalink": False})
    return tuple(out)


def _shared_guids(records: Sequence[RawRecord]) -> dict[int, GuidShared]:
    """By index, the items whose GUID another, different item of the document has too."""
    groups: dict[str, list[int]] = {}
    for index, raw in enumerate(records):
        if raw.guid and raw.guid.strip():
            groups.setdefault(raw.guid.strip(), []).append(index)
    shared: dict[int, GuidShared] = {}
    for indices in groups.values():
        if len(indices) < 2:
            continue
        items = {(_own_link(records[i]), _item_hash(records[i])) for i in indices}
        if len(items) < 2:
            continue  # one item listed twice: the same GUID, link and text
        links = [link for link, _ in items]
        how: GuidShared = "link" if None not in links and len(set(links)) == len(links) else "content"
        shared.update(dict.fromkeys(indices, how))
    return shared


def _alike_permalinks(records: Sequence[RawRecord], shared: dict[int, GuidShared]) -> list[int]:
    """The indices of items whose permalink GUID differs from another's but canonicalizes alike."""
    groups: dict[str, set[str]] = {}
    members: dict[str, list[int]] = {}
    for index, raw in enumerate(records):
        if index in shared or not raw.guid or not raw.guid_is_permalink:
            continue
        try:
            permalink = _canonical(raw.guid, "permalink GUID")
        except BadRecordError:
            continue  # record_id decides what a broken permalink means
        if permalink:
            groups.setdefault(permalink, set()).add(raw.guid.strip())
            members.setdefault(permalink, []).append(index)
    return [i for permalink, guids in groups.items() if len(guids) > 1 for i in members[permalink]]
