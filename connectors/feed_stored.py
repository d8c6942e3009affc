"""Feed items the store already holds under another id: what the fetch stage skips besides the
items stored under their own id.

An item's id rules changed once (a permalink GUID used to be scoped to the feed's URL whenever the
item also had a <link>), and an opaque GUID's id still changes with its feed's URL (a catalog
edit such as an added `?r=2`). Either way the item's GUID and canonical link did not change: the
same GUID with the same canonical link is the same article, so such an item is not stored again
(as a copy of itself, its story's `source_count` counting one outlet twice). The store is asked
through its dedup keys (`schemas.dedup`), which every stored article has.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urljoin

from connectors.store import DedupIndex
from schemas.dedup import guid_key, url_key
from schemas.errors import BadRecordError
from schemas.identity import record_canonical_url
from schemas.records import RawRecord
from schemas.urls import canonical_url


def _url_keys(raw: RawRecord) -> set[str]:
    """The URL keys the item may have been stored under: its canonical URL now, and its link and
    permalink GUID each on its own (the canonical URL of earlier rules)."""
    keys: set[str] = set()
    candidates = [raw.url, raw.guid if raw.guid_is_permalink else None]
    for url in candidates:
        try:
            if url and url.strip():
                keys.add(url_key(canonical_url(url)))
        except ValueError:
            continue
    try:
        now = record_canonical_url(raw)
    except BadRecordError:
        now = None
    if now:
        keys.add(url_key(now))
    return keys


def _guid_keys(raw: RawRecord, guid: str) -> set[str]:
    """The GUID keys the item may have been stored under: its GUID, and for a relative one, that
    GUID resolved against the feed URL (earlier code resolved an Atom <id> or RSS <guid> that came
    before the item's link, whatever isPermaLink said)."""
    keys = {guid_key(guid)}
    feed_url = raw.source.feed_url or ""
    if feed_url.startswith(("http://", "https://")) and not guid.startswith(("http://", "https://")):
        keys.add(guid_key(urljoin(feed_url, guid)))
    return {key for key in keys if key}


def stored_under_other_ids(items: Sequence[tuple[str, RawRecord]], index: DedupIndex) -> set[str]:
    """The ids of `items` (id, record) whose article the store holds under another id: a stored
    article has the item's GUID (one unique beyond its feed) and one of its canonical URLs."""
    wanted: dict[str, tuple[set[str], set[str]]] = {}  # item id → (GUID keys, URL keys)
    for item_id, raw in items:
        if raw.guid_shared is not None or not raw.guid or not raw.guid.strip():
            continue  # a GUID the feed reused identifies nothing; no GUID, nothing to go by
        guids = _guid_keys(raw, raw.guid.strip())
        urls = _url_keys(raw)
        if guids and urls:
            wanted[item_id] = (guids, urls)
    if not wanted:
        return set()
    asked = {key for guids, urls in wanted.values() for key in guids | urls}
    stored = [doc.exact_keys for doc in index.lookup(asked, ())]
    return {
        item_id
        for item_id, (guids, urls) in wanted.items()
        if any(keys & guids and keys & urls for keys in stored)
    }
