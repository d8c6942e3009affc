"""Which article a record is: the deterministic id and canonical URL, computed the same way everywhere.

Feed items: a permalink GUID, else a GUID (scoped to its feed), else the link, else title + date,
else the text.
Seed files: their normalized content. The fetch stage uses this to skip items already stored;
Normalize uses it to stamp the id, so the two can never disagree.
"""

from __future__ import annotations

from schemas.errors import BadRecordError
from schemas.ids import article_id_from_content, article_id_from_url, canonical_text, content_hash, stable_id
from schemas.records import RawRecord
from schemas.urls import canonical_url


def _canonical(url: str | None, what: str) -> str | None:
    if not url or not url.strip():
        return None
    try:
        return canonical_url(url)
    except ValueError as exc:
        raise BadRecordError(f"bad {what}: {exc}") from exc


def record_canonical_url(raw: RawRecord) -> str | None:
    """The article's canonical link: a permalink GUID (the publisher's own choice), else the link."""
    if raw.guid and raw.guid_is_permalink:
        return _canonical(raw.guid, "permalink GUID")
    return _canonical(raw.url, "article URL")


def record_id(raw: RawRecord, body_text: str | None = None) -> str:
    """The deterministic article id of `raw`.

    `body_text` is the cleaned body; seeds (which have no link) need it for their content hash.
    Raises BadRecordError when a link or permalink is malformed or nothing identifies the item.
    """
    by_content = article_id_from_content(content_hash(body_text if body_text is not None else raw.body))
    if raw.source.kind == "seed":
        return by_content
    if raw.guid and raw.guid_is_permalink:
        permalink = _canonical(raw.guid, "permalink GUID")
        if permalink:
            return article_id_from_url(permalink)
    feed = raw.source.feed_url or raw.source.name
    if raw.guid and raw.guid.strip():
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
