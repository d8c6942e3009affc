"""`wirewatch` as it identified feed items before isPermaLink was read (commit 6d82520), to write a
store the way that code did: `python -m tests.integration.old_feed_ids run --feeds ...`.

That code took a GUID for a permalink only when feedparser's `guidislink` said so (false once a
<link> came before the <guid>) and had no rule for a GUID the feed reused; every other step of
identification is unchanged, so putting back those two is putting back its ids.
"""

from __future__ import annotations

import sys

from connectors import feed_parse, feedparser_patches


def use_old_ids() -> None:
    feedparser_patches.PERMALINK_KEY = "guidislink"  # what feed_parse read before
    feed_parse.mark_shared_guids = tuple  # type: ignore[attr-defined,assignment]  # records as they came


if __name__ == "__main__":
    use_old_ids()
    from pipelines.cli import main

    sys.exit(main(sys.argv[1:]))
