"""Turn the bytes of a fetched RSS/Atom document into RawRecords: pure, no network, no Beam.

feedparser does the parsing; its dictionaries never leave `parse_feed`. Bad input never raises:
a document that is not a feed gets `feed_error`, an entry that cannot be read gets a line in
`entry_errors` and is skipped, and the other entries are kept.
"""

from __future__ import annotations

import calendar
import datetime as dt
import html
import io
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import feedparser.api
from feedparser.encodings import convert_to_utf8
from pydantic import BaseModel, ValidationError

from connectors import feedparser_patches
from schemas.dates import utc_offset_problem
from schemas.feeds import FeedSpec
from schemas.identity import mark_shared_guids
from schemas.records import DateSource, RawRecord, Source, one_line
from schemas.types import FROZEN, to_utc

MAX_ENTRIES = 10_000
REFUSED_ENTITIES = "refused: the document declares XML entities"

# Entity declarations are how "billion laughs" and external-entity (XXE) documents work. feedparser strips
# them with a line-based regex that a second DOCTYPE on the same line gets past, and expat's own
# amplification limit still lets a bomb burn seconds of CPU, so any document declaring one is refused.
# Checked after decoding, on exactly the bytes the XML parser would see (a UTF-16 or UTF-7 document
# cannot hide the declaration). No feed in the shared corpora declares an entity.
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)

_HTML_TYPES = frozenset(["text/html", "application/xhtml+xml", "html", "xhtml"])
_UTC_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# RSS 1.0 Syndication module: the period an updateFrequency divides.
_UPDATE_PERIOD_S = {
    "hourly": 3600,
    "daily": 86_400,
    "weekly": 7 * 86_400,
    "monthly": 30 * 86_400,
    "yearly": 365 * 86_400,
}
_DC_PREFIX = re.compile(rb"""xmlns:([\w.-]+)\s*=\s*["']http://purl\.org/dc/elements/1\.1/["']""")


class FeedParseResult(BaseModel):
    """What one feed document yielded: the records, what was skipped and why, and the feed's hints."""

    model_config = FROZEN

    records: tuple[RawRecord, ...]
    entries_seen: int  # entries feedparser found, before the MAX_ENTRIES cap
    entry_errors: tuple[str, ...] = ()  # "entry N: why" per skipped entry, plus one line if capped
    feed_error: str | None = None  # set when the document is not a usable feed at all
    bozo: str | None = None  # why feedparser found the document malformed, when it was still usable
    title: str | None = None
    ttl_minutes: int | None = None  # RSS <ttl>
    update_period_s: int | None = None  # sy:updatePeriod / sy:updateFrequency


class _EntryError(ValueError):
    """An entry that cannot become a record; the message is the reason shown in entry_errors."""


def parse_feed(
    data: bytes,
    headers: Mapping[str, str],
    feed: FeedSpec,
    *,
    fetched_at: dt.datetime,
    fetched_from: str | None = None,
) -> FeedParseResult:
    """Parse a fetched feed document into RawRecords.

    `headers` are the HTTP response headers (any case): Content-Type's charset decides the
    encoding, Content-Location (else `fetched_from`, the URL after redirects, else the feed URL) is
    the base for relative links.
    `fetched_at` must be timezone-aware; it is every record's `fetched_at`, and the `published_at`
    of entries without a readable date (with `date_source="fetched"`).
    """
    fetched_at = to_utc(fetched_at)
    if not data.strip():
        return FeedParseResult(records=(), entries_seen=0, feed_error="empty document")

    lowered = {key.lower(): value for key, value in headers.items()}
    base = _base_url(lowered.get("content-location"), fetched_from or feed.url)
    decode_report: dict[str, Any] = {}
    utf8 = convert_to_utf8(lowered, data, decode_report)
    doctype = _DOCTYPE.search(utf8)
    if doctype and _ENTITY_DECLARATION.search(utf8, doctype.start()):
        return FeedParseResult(records=(), entries_seen=0, feed_error=REFUSED_ENTITIES)

    # The document is UTF-8 now (and says so in its XML declaration): tell feedparser, so it does
    # not decode it again with the original charset.
    parse_headers = {"content-type": "application/xml; charset=utf-8"}
    if "content-language" in lowered:
        parse_headers["content-language"] = lowered["content-language"]
    # Given a base, feedparser joins URLs at every element (~20% of its time). Without xml:base in
    # the document every element's base is the document's own, so links are joined here instead,
    # with the same result; with xml:base, feedparser must do it (it loses relative bases otherwise).
    if base and b"base=" in utf8:
        parse_headers["content-location"] = base
    # Sanitizing is wasted work: Normalize turns HTML into text and drops script/style on the way.
    # Links inside HTML content are never read, so they need no resolving either.
    parsed = feedparser.parse(
        io.BytesIO(utf8),  # never a str or bytes: feedparser would try those as a URL or file name
        response_headers=parse_headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )

    # Two kinds of bozo: the decoding step's (a wrong charset or media type: advice only) and the
    # parser's (the XML is not well-formed: feedparser fell back to its loose parser).
    malformed = _bozo_reason(parsed)
    bozo = malformed or _bozo_reason(decode_report)
    version: str = parsed.get("version") or ""
    entries: list[Any] = parsed.get("entries") or []
    if not entries and not version:
        what = _sniff(data) or "not an RSS/Atom feed"
        reason = malformed or "no feed or entry elements found"
        return FeedParseResult(records=(), entries_seen=0, feed_error=one_line(f"{what}: {reason}"))
    if not entries and malformed:
        # A broken document that still looked like a feed but gave nothing: not a quiet, empty feed.
        return FeedParseResult(
            records=(),
            entries_seen=0,
            feed_error=one_line(f"broken {version} feed, no entries read: {malformed}"),
        )

    channel: dict[str, Any] = parsed.get("feed") or {}
    context = _FeedContext(
        feed=feed,
        base=base,
        fetched_at=fetched_at,
        version=version,
        dc_date=_uses_dc_date(version, utf8),
        metadata=_feed_metadata(channel, version),
    )
    records: list[RawRecord] = []
    errors: list[str] = []
    for index, entry in enumerate(entries[:MAX_ENTRIES], start=1):
        try:
            records.append(_record(entry, index, context))
        # Bad data only (_EntryError and pydantic's ValidationError are ValueErrors); a bug still raises.
        except (ValueError, TypeError, KeyError) as exc:
            errors.append(f"entry {index}: {_reason(exc)}")
    if len(entries) > MAX_ENTRIES:
        errors.append(f"{len(entries) - MAX_ENTRIES} entries beyond the first {MAX_ENTRIES} were not read")

    return FeedParseResult(
        records=mark_shared_guids(records),
        entries_seen=len(entries),
        entry_errors=tuple(errors),
        bozo=bozo,
        title=_clean(_text(channel, "title")),
        ttl_minutes=_ttl_minutes(channel.get("ttl")),
        update_period_s=_update_period_s(channel.get("sy_updateperiod"), channel.get("sy_updatefrequency")),
    )


class _FeedContext:
    """What every entry of one document shares."""

    __slots__ = ("base", "dc_date", "feed", "fetched_at", "metadata", "rss", "source", "version")

    def __init__(
        self,
        *,
        feed: FeedSpec,
        base: str | None,
        fetched_at: dt.datetime,
        version: str,
        dc_date: bool,
        metadata: dict[str, str],
    ) -> None:
        self.feed = feed
        self.base = base
        self.fetched_at = fetched_at
        self.version = version
        # Only RSS has permalink guids (<guid isPermaLink>); an Atom <id> is a name, even when it is a URL.
        self.rss = version.startswith("rss")
        self.dc_date = dc_date
        self.metadata = metadata
        self.source = Source(kind="feed", name=feed.name, feed_url=feed.url)


def _record(entry: dict[str, Any], index: int, ctx: _FeedContext) -> RawRecord:
    # dict.get, not FeedParserDict's: its key aliases ("updated" falling back to "published") warn.
    get = dict.get
    guid = _clean(get(entry, "id"))
    # What isPermaLink said (feedparser_patches), not feedparser's guidislink: that one is false
    # whenever a <link> came first, and ids would then hang on the feed's URL.
    guid_permalink = ctx.rss and bool(get(entry, feedparser_patches.PERMALINK_KEY))
    if guid and guid_permalink and not get(entry, "guidislink") and not _is_web_url(guid):
        # A relative GUID beside the item's own <link> is a name, not an address: resolved against
        # the feed's URL it would name another page (and the feed's host, not the site's).
        guid_permalink = False
    if guid and guid_permalink:  # a permalink guid standing for the link may be a relative one
        guid = _web_url(guid, ctx.base) or guid
    link = _web_url(get(entry, "link"), ctx.base)
    title_value, title_html = _detail(entry, "title")
    title = _clean(title_value)
    if not guid and not link and not title:
        raise _EntryError("no guid, link or title")

    summary_value, summary_html = _detail(entry, "summary")
    body_value, body_html = summary_value, summary_html
    for content in get(entry, "content") or ():
        value = content.get("value")
        # The full text is content's job: it wins over a summary of the same length.
        if isinstance(value, str) and len(value.strip()) >= len((body_value or "").strip()):
            body_value, body_html = value, _is_html(content.get("type"))
    if not (body_value or "").strip():
        # A video's entry (YouTube's feeds) has no text but its media's description: the item's own.
        summary_value = body_value = _media_item_text(entry)
        summary_html = body_html = False
    body = (body_value or "").strip()
    summary = (summary_value or "").strip() or None
    if not body and not title:
        raise _EntryError("no title, summary or content")

    # Normalize reads title, summary and body in one format: when any is HTML, escape the plain ones.
    as_html = bool(body and body_html) or bool(summary and summary_html) or bool(title and title_html)
    if as_html:
        title = title if title is None or title_html else html.escape(title, quote=False)
        summary = summary if summary is None or summary_html else html.escape(summary, quote=False)
        body = body if not body or body_html else html.escape(body, quote=False)

    published_at, date_source, date_rejected = _entry_date(entry, ctx)
    return RawRecord(
        source=ctx.source,
        uri=link or guid or f"{ctx.feed.url}#{index}",
        body=body,
        body_format="html" if as_html else "text",
        title=title,
        summary=summary,
        url=link,
        guid=guid,
        guid_is_permalink=bool(guid and guid_permalink and _is_web_url(guid)),
        published_at=published_at,
        date_source=date_source,
        date_rejected=date_rejected,
        authors=_authors(entry),
        categories=_unique(_clean(tag.get("term")) for tag in get(entry, "tags") or ()),
        media_urls=_media_urls(entry, ctx.base),
        metadata=_entry_metadata(entry, ctx.metadata),
        fetched_at=ctx.fetched_at,
    )


def _entry_date(entry: dict[str, Any], ctx: _FeedContext) -> tuple[dt.datetime, DateSource, str | None]:
    """The first usable of published, updated (or dc:date); else the fetch time, said so. Also
    the first date given but not used, and why: unreadable, or with an offset no clock has."""
    rejected = None
    keys: tuple[tuple[str, DateSource], ...] = (
        ("published", "published"),
        ("updated", "dc:date" if ctx.dc_date else "updated"),
    )
    for key, source in keys:
        text = dict.get(entry, key)
        if not isinstance(text, str) or not text.strip():
            continue
        value = _utc(dict.get(entry, f"{key}_parsed"))
        problem = "not a readable date" if value is None else utc_offset_problem(text)
        if value is not None and problem is None:
            return value, source, rejected
        rejected = rejected or f"{source} date {one_line(text, 100)!r}: {problem}"
    return ctx.fetched_at, "fetched", rejected


def _utc(value: object) -> dt.datetime | None:
    """feedparser's UTC struct_time as an aware datetime; None when absent or out of range."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        # timegm, not datetime(*value[:6]): it accepts a leap second (tm_sec=60).
        return _UTC_EPOCH + dt.timedelta(seconds=calendar.timegm(value))
    except (ValueError, OverflowError):
        return None


def _uses_dc_date(version: str, document: bytes) -> bool:
    """Whether entries' `updated` came from <dc:date>: feedparser files dc:date under `updated`.

    Decided per document, not per entry: a non-Atom feed with a <prefix:date> element whose prefix
    is bound to Dublin Core. (In Atom, `updated` is Atom's own required element.)
    """
    if version.startswith("atom"):
        return False
    prefixes = set(_DC_PREFIX.findall(document))
    return any(b"<" + prefix + b":date" in document for prefix in prefixes)


def _detail(entry: dict[str, Any], key: str) -> tuple[str | None, bool]:
    """A text field and whether it is HTML, from feedparser's *_detail.

    A value without its detail was copied there by feedparser (a summary made from the content),
    so it is not the feed's own and is left out.
    """
    detail = dict.get(entry, f"{key}_detail")
    if not isinstance(detail, dict) or not isinstance(detail.get("value"), str):
        return None, False
    return detail["value"], _is_html(detail.get("type"))


def _media_item_text(entry: dict[str, Any]) -> str | None:
    """<media:description> when it describes the item itself: never when the entry's media are
    images, whose description is a photo caption, not the article."""
    text = dict.get(entry, "media_description")
    if not isinstance(text, str) or not text.strip():
        return None
    for media in dict.get(entry, "media_content") or ():
        kind = media.get("type")
        if media.get("medium") == "image" or (isinstance(kind, str) and kind.lower().startswith("image/")):
            return None
    return text


def _is_html(content_type: object) -> bool:
    return isinstance(content_type, str) and content_type.lower() in _HTML_TYPES


def _authors(entry: dict[str, Any]) -> tuple[str, ...]:
    names = [_clean(author.get("name")) for author in dict.get(entry, "authors") or ()]
    if not any(names):
        # dc:creator or an <author> feedparser could not split; an e-mail address alone is not a name.
        author = _clean(dict.get(entry, "author"))
        names = [author] if author and "@" not in author else []
    return _unique(names)


def _media_urls(entry: dict[str, Any], base: str | None) -> tuple[str, ...]:
    hrefs: list[object] = [
        link.get("href") for link in dict.get(entry, "links") or () if link.get("rel") == "enclosure"
    ]
    hrefs += [item.get("url") for item in dict.get(entry, "media_content") or ()]
    hrefs += [item.get("url") for item in dict.get(entry, "media_thumbnail") or ()]
    return _unique(_web_url(href, base) for href in hrefs)


def _feed_metadata(channel: dict[str, Any], version: str) -> dict[str, str]:
    metadata = {"feed_version": version} if version else {}
    title = _clean(_text(channel, "title"))
    if title:
        metadata["feed_title"] = title
    language = _clean(channel.get("language"))
    if language:
        metadata["language"] = language
    return metadata


def _entry_metadata(entry: dict[str, Any], feed_metadata: dict[str, str]) -> dict[str, str]:
    # An entry's own xml:lang beats the channel's <language>.
    language = None
    for key in ("content", "summary_detail", "title_detail"):
        value = dict.get(entry, key)
        detail = value[0] if isinstance(value, list) and value else value
        if isinstance(detail, Mapping):
            language = _clean(detail.get("language"))
        if language:
            break
    if not language or language == feed_metadata.get("language"):
        return dict(feed_metadata)
    return {**feed_metadata, "language": language}


def _ttl_minutes(value: object) -> int | None:
    if not isinstance(value, str) or not value.strip().isdigit():
        return None
    minutes = int(value.strip())
    return minutes if minutes > 0 else None


def _update_period_s(period: object, frequency: object) -> int | None:
    """sy:updatePeriod (default daily) / sy:updateFrequency (default 1); None when both are absent."""
    if period is None and frequency is None:
        return None
    period_s = _UPDATE_PERIOD_S.get((period.strip().lower() if isinstance(period, str) else "") or "daily")
    text = frequency.strip() if isinstance(frequency, str) else ""
    try:
        times = float(text) if text else 1.0
    except ValueError:
        return None
    if period_s is None or not 0 < times < float("inf"):  # NaN fails this too
        return None
    return max(1, round(period_s / times))


def _base_url(content_location: str | None, feed_url: str) -> str | None:
    """The base for relative links: Content-Location (itself relative to the feed URL), else the feed URL."""
    feed_base = feed_url if _is_web_url(feed_url) else None
    if content_location and content_location.strip():
        resolved = urljoin(feed_base or "", content_location.strip())
        if _is_web_url(resolved):
            return resolved
    return feed_base


def _web_url(value: object, base: str | None) -> str | None:
    """`value` as an absolute http(s) URL (resolved against `base`), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    url = value.strip()
    if not _is_web_url(url) and base:
        url = urljoin(base, url)
    return url if _is_web_url(url) else None


def _is_web_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. a malformed IPv6 literal
        return False


def _text(mapping: dict[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) else None


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    """Non-empty values, first occurrence kept, order kept."""
    return tuple(dict.fromkeys(v for v in values if v))


def _sniff(data: bytes) -> str | None:
    """A clearer name for two common non-feeds: a JSON Feed and an HTML page."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"{", b"[")):
        return "not an RSS/Atom feed (JSON, perhaps a JSON Feed, which is not supported)"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "not an RSS/Atom feed (an HTML page)"
    return None


def _bozo_reason(report: dict[str, Any]) -> str | None:
    exc = report.get("bozo_exception")
    if not report.get("bozo") or exc is None:
        return None
    return one_line(f"{type(exc).__name__}: {exc}")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        return one_line(f"invalid {where}: {first['msg']}")
    return one_line(str(exc) or type(exc).__name__)
