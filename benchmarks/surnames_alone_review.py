"""List the person tags that came from a surname standing alone, for review by hand.

    .venv/bin/python benchmarks/surnames_alone_review.py [--feeds DIR ...]

Tags every item of the real feed captures (`../shared/data/feeds/news` and `misc`: title and
summary, markup stripped) and prints, per person tagged only by a distinctive surname
(`Registry.distinctive_surnames`), how many items and the first one's context. Whether each is the
right person is a reader's judgement; this gives the list to judge.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from collections import Counter
from pathlib import Path

import feedparser

from pipelines.tag_match import Tagger

FEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "feeds"
_MARKUP = re.compile(r"<[^>]+>")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=Path, nargs="+", default=[FEEDS / "news", FEEDS / "misc"])
    args = parser.parse_args(argv)
    files = sorted(path for folder in args.feeds for path in folder.glob("*.xml"))
    if not files:
        print(f"no *.xml under {', '.join(map(str, args.feeds))}", file=sys.stderr)
        return 2
    tagger = Tagger.from_files()
    alone = tagger.registry.distinctive_surnames
    items, counts, first = 0, Counter[str](), {}
    for path in files:
        for entry in feedparser.parse(path).entries:
            title = entry.get("title", "")
            body = _MARKUP.sub(" ", html.unescape(entry.get("summary", "") or ""))
            items += 1
            text = f"{title}\n\n{body}"
            for actor in tagger.tag(title, body).actors:
                surnames = alone.get(actor.id, ())
                if actor.spans and all(
                    span.text.casefold() in map(str.casefold, surnames) for span in actor.spans
                ):
                    counts[actor.name] += 1
                    span = actor.spans[0]
                    first.setdefault(
                        actor.name, text[max(0, span.start - 60) : span.end + 60].replace("\n", " ")
                    )
    print(f"{items} items, {sum(counts.values())} person tags from a surname alone")
    for name, count in counts.most_common():
        print(f"{count:5}  {name:30}  …{first[name]}…")
    return 0


if __name__ == "__main__":
    sys.exit(main())
