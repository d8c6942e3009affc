"""What feedparser gets wrong for us, changed once on import (it has no hooks for either):

- isPermaLink: feedparser only reports `guidislink`, which is true when the guid is a permalink
  AND the item had no <link> before it: an item with both a <link> and a permalink <guid> reads
  as if the guid were opaque. An id taken from such a guid then depended on the feed's URL (one
  changed query parameter re-stored every item) and on the order of two elements. The <guid>
  start handler is wrapped to keep what the attribute said, as entry key `guidispermalink`.
- <media:description> (a photo's caption) is read as the item's own description (see below).
"""

from __future__ import annotations

from typing import Any

import feedparser.api
from feedparser.namespaces._base import Namespace

_SAVED_AS = "guidispermalink"
PERMALINK_KEY = _SAVED_AS  # the entry key feed_parse reads
_MARK = "_wirewatch_permalink"


def _keep_is_permalink() -> None:
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


_keep_is_permalink()


# feedparser reads <media:description> (a photo's caption) as if it were the item's <description>:
# after a <description> it becomes the entry's `content`, before one it becomes the `summary` and
# the real description becomes `content` (feedparser issue #53, open since 2016). Either way a
# caption would be stored as the article. Here it is read as an element of its own
# (`media_description`, see feed_parse._media_item_text), on the two parser classes feedparser.parse
# instantiates: the only way in, as parse() takes no parser. dc:description is still a description.
def _start_media_description(self: Any, attrs_d: dict[str, str]) -> None:
    self.push("media_description", 1)


def _end_media_description(self: Any) -> None:
    self.pop("media_description")


for _parser in (feedparser.api.StrictFeedParser, feedparser.api.LooseFeedParser):
    _parser._start_media_description = _start_media_description
    _parser._end_media_description = _end_media_description
