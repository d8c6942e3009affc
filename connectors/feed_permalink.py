"""Makes feedparser keep what an RSS <guid>'s isPermaLink attribute said, as `guidispermalink`.

feedparser only reports `guidislink`, which is true when the guid is a permalink AND the item had
no <link> before it: an item with both a <link> and a permalink <guid> reads as if the guid were
opaque. An id taken from such a guid then depended on the feed's URL (one changed query parameter
re-stored every item) and on the order of two elements. feedparser has no hook for this, so its
<guid> start handler is wrapped once, on import: entries gain one key, nothing else changes.
"""

from __future__ import annotations

from typing import Any

from feedparser.namespaces._base import Namespace

_SAVED_AS = "guidispermalink"
KEY = _SAVED_AS  # the entry key to read
_MARK = "_wirewatch_permalink"


def _install() -> None:
    original = Namespace._start_guid
    if getattr(original, _MARK, False):  # imported twice (a reload): wrap once
        return

    def _start_guid(self: Any, attrs_d: dict[str, str]) -> None:
        original(self, attrs_d)
        # RSS 2.0: isPermaLink absent means true. Case and spacing are forgiven ("True ").
        permalink = str(attrs_d.get("ispermalink", "true")).strip().lower() == "true"
        self._save(_SAVED_AS, permalink, overwrite=True)

    setattr(_start_guid, _MARK, True)
    # Only RSS's <guid>: Atom's <id> (`_start_id`, the same function under another name) is a name.
    Namespace._start_guid = _start_guid


_install()
