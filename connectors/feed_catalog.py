"""The feed catalog file (YAML) and OPML: load, validate, save, import and export."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any
from xml.etree.ElementTree import Element, SubElement, indent, tostring

import defusedxml.ElementTree as SafeET
import yaml
from defusedxml import DefusedXmlException
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from schemas.errors import ConfigError
from schemas.feeds import FeedCatalog, FeedSpec

_HEADER = (
    "# Wirewatch feed catalog: the RSS/Atom feeds to poll. Edit by hand or with `wirewatch feeds`.\n"
    "# Fields: url, name, outlet, country (ISO 3166 alpha-2), language (ISO 639), poll_interval_s,\n"
    "# tags, reliability (A-F), state_affiliated, enabled, allow_private.\n"
)


def validation_line(exc: ValidationError, path: str) -> str:
    """The first problem as `where: field: message`, the way every catalog error is shown."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{path}: {where}: {first['msg']}{more}"


def load_catalog(path: str) -> FeedCatalog:
    """Read and validate a catalog; every problem is a ConfigError naming the file and the field."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"--feeds: no such catalog file: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--feeds: cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'version' and 'feeds'")
    try:
        return FeedCatalog.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_line(exc, path)) from exc


def catalog_yaml(catalog: FeedCatalog) -> str:
    """The catalog as YAML, defaults left out so hand-edited files stay short."""
    feeds = [feed.model_dump(mode="json", exclude_defaults=True) for feed in catalog.feeds]
    body = yaml.safe_dump(
        {"version": catalog.version, "feeds": feeds}, sort_keys=False, allow_unicode=True, width=100
    )
    return _HEADER + body


def save_catalog(path: str, catalog: FeedCatalog) -> None:
    """Write a whole new catalog file (see edit_catalog to change one)."""
    _write_whole(path, catalog_yaml(catalog))


def edit_catalog(path: str, *, add: Sequence[FeedSpec] = (), remove: str | None = None) -> None:
    """Append `add` to the catalog at `path`, or drop the feed whose URL is `remove`, changing only
    those lines: comments, order, quoting and layout stay as the user left them (a round-trip YAML
    edit). A catalog that does not exist yet is written whole. Check the change against the
    validated catalog first (with_feeds, without_feed): this edits, it does not validate."""
    if not os.path.exists(path):
        save_catalog(path, FeedCatalog(feeds=tuple(add)))
        return
    editor = YAML()  # round-trip mode
    editor.indent(mapping=2, sequence=2, offset=0)  # `- url:` under `feeds:`, as the catalog writes
    editor.width = 4096  # never re-wrap a long name or URL
    editor.preserve_quotes = True
    with open(path, encoding="utf-8") as handle:
        doc = editor.load(handle) or CommentedMap(version=1)
    feeds = doc.get("feeds")
    if feeds is None:
        doc["feeds"] = feeds = CommentedSeq()
    for feed in add:
        entry = CommentedMap(feed.model_dump(mode="json", exclude_defaults=True))
        if "tags" in entry:
            tags = CommentedSeq(entry["tags"])
            tags.fa.set_flow_style()  # [a, b], as written by hand
            entry["tags"] = tags
        feeds.append(entry)
    if remove is not None:
        doomed = [i for i, entry in enumerate(feeds) if FeedSpec.model_validate(dict(entry)).url == remove]
        for index in reversed(doomed):
            del feeds[index]
    text = io.StringIO()
    editor.dump(doc, text)
    _write_whole(path, text.getvalue())


def _write_whole(path: str, text: str) -> None:
    """Write atomically: a crash mid-write never leaves half a catalog behind."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".feeds-", suffix=".yaml", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def with_feeds(catalog: FeedCatalog, feeds: Iterable[FeedSpec]) -> tuple[FeedCatalog, list[str]]:
    """The catalog plus `feeds` not already in it (by URL); returns the URLs added."""
    known = {feed.url for feed in catalog.feeds}
    added: list[FeedSpec] = []
    for feed in feeds:
        if feed.url not in known:
            known.add(feed.url)
            added.append(feed)
    return catalog.model_copy(update={"feeds": (*catalog.feeds, *added)}), [f.url for f in added]


def without_feed(catalog: FeedCatalog, url: str) -> FeedCatalog:
    remaining = tuple(feed for feed in catalog.feeds if feed.url != url)
    if len(remaining) == len(catalog.feeds):
        raise ConfigError(f"no feed with URL {url} in the catalog")
    return catalog.model_copy(update={"feeds": remaining})


# --- OPML ------------------------------------------------------------------------------------


def import_opml(data: bytes, *, allow_private: bool = False) -> tuple[list[FeedSpec], list[str]]:
    """Feeds from an OPML file (any nesting of outlines); returns (feeds, one line per skipped outline).
    `allow_private` (the user's `--allow-private`, never the file's say) lets them reach private or
    loopback addresses.

    Parsed with defusedxml: entity bombs and external entities are refused, not expanded.
    """
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise ConfigError(f"not a usable OPML file: {exc}") from exc
    if root.tag.lower() != "opml":
        raise ConfigError(f"not an OPML file: the root element is <{root.tag}>")
    feeds: list[FeedSpec] = []
    skipped: list[str] = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue  # a folder, not a feed
        name = (outline.get("title") or outline.get("text") or url).strip()
        if not url.lower().startswith(("http://", "https://")):
            # An OPML file may come from anyone: it must not make Wirewatch read local files.
            skipped.append(f"outline {name!r}: only http(s) feeds are imported, got {url[:100]!r}")
            continue
        try:
            fields = _wirewatch_attributes(outline) | ({"allow_private": True} if allow_private else {})
            feeds.append(FeedSpec.model_validate({"url": url, "name": name, **fields}))
        except ValidationError as exc:
            skipped.append(validation_line(exc, f"outline {name!r}"))
    return feeds, skipped


def _wirewatch_attributes(outline: Element) -> dict[str, Any]:
    """Our own fields, written by export_opml as ww:* attributes, so a round trip loses nothing."""
    fields: dict[str, Any] = {}
    for key, value in outline.attrib.items():
        if not key.startswith("{urn:wirewatch}"):
            continue
        name = key.removeprefix("{urn:wirewatch}")
        if name == "allow_private":
            continue  # reaching private addresses is the catalog owner's decision, never a file's
        if name == "tags":
            fields[name] = tuple(t for t in value.split(",") if t)
        elif name in ("state_affiliated", "enabled", "allow_private"):
            fields[name] = value == "true"
        elif name == "poll_interval_s":
            fields[name] = int(value) if value.isdigit() else value
        else:
            fields[name] = value
    category = outline.get("category")
    if category and "tags" not in fields:
        fields["tags"] = tuple(t.strip().strip("/") for t in category.split(",") if t.strip().strip("/"))
    return fields


def export_opml(catalog: FeedCatalog, title: str = "Wirewatch feeds") -> bytes:
    """OPML 2.0 that feed readers understand, with Wirewatch's extra fields as ww:* attributes."""
    root = Element("opml", {"version": "2.0", "xmlns:ww": "urn:wirewatch"})
    head = SubElement(root, "head")
    SubElement(head, "title").text = title
    body = SubElement(root, "body")
    for feed in catalog.feeds:
        attributes = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
        for name, value in feed.model_dump(mode="json", exclude_defaults=True).items():
            if name in ("url", "name"):
                continue
            if isinstance(value, list):
                value = ",".join(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            attributes[f"ww:{name}"] = str(value)
        if feed.tags:
            attributes["category"] = ",".join(feed.tags)
        SubElement(body, "outline", attributes)
    indent(root)
    text = tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8")
