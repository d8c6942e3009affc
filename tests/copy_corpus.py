"""A corpus of seed files made of real news sentences, with copy chains, for the batch dedup tests.

Every article is paragraphs of real sentences from the news captures in ../shared/data/feeds/news/
(distinct stories: a sentence pool of thousands, a few sentences per paragraph). Some stories get:
- a chain A -> B -> C: B keeps four of A's six paragraphs and adds two, C keeps four of B's and
  adds two, so B is a near copy of A and C of B, while C and A share too little (a copy of a copy
  is decided by first-seen order, not by transitivity);
- a wire copy (byline, dateline, footer), or the same text in a second file (a seed article's id
  is its content: the same article read twice, stored once);
- in half of the chains the last link is dated first, so a copy comes before its canonical article.
File names sort copies before their originals, so the reader meets them first, and the stories of
one chain lie far apart in the listing (they land in different bundles and workers).
"""

from __future__ import annotations

import datetime as dt
import pathlib
import random
import re
from dataclasses import dataclass, field
from typing import Any

from connectors.feed_parse import parse_feed
from schemas.feeds import FeedSpec
from schemas.text import html_to_text
from tests.connectors.test_feed_corpus import NEWS, _require

# Alert rules broad enough that several of them meet articles of the corpus (and each rule's
# machine sees many): per-rule steps must see several keys too.
BROAD_RULES = """\
version: "test"
rules:
- id: about-the-us
  name: the United States
  when: {actors_any: [Q30]}
  channels: []
- id: about-russia
  name: Russia
  when: {actors_any: [Q159]}
  channels: []
- id: officials-said
  name: officials said, three stories in a day
  when: {keywords_any: [officials]}
  threshold: {count: 3, window: 1d}
  channels: []
"""


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
_START = dt.date(2025, 3, 1)


@dataclass
class CopyCorpus:
    folder: pathlib.Path
    files: int = 0
    chains: list[tuple[str, str, str]] = field(default_factory=list)  # file names A, B, C
    read_twice: set[str] = field(default_factory=set)  # both file names of each story read twice

    def comparable(self, doc: dict[str, Any]) -> dict[str, Any]:
        """`doc` without its `source` if its story was read twice: which reading the sink kept
        (the first written) is up to the runner; every decision about it is not."""
        if pathlib.Path(doc["source"]["file"]).name in self.read_twice:
            return {k: v for k, v in doc.items() if k != "source"}
        return doc

    wire_copies: int = 0


def news_sentences() -> list[str]:
    """Distinct sentences of 8-60 words from the news captures, in a stable order."""
    _require(NEWS)
    fetched = dt.datetime(2026, 2, 17, tzinfo=dt.UTC)
    seen: dict[str, None] = {}
    for path in sorted(NEWS.glob("*.xml")):
        spec = FeedSpec(url=f"https://feeds.example.com/{path.stem}.xml", name=path.stem)
        for record in parse_feed(path.read_bytes(), {}, spec, fetched_at=fetched).records:
            text = html_to_text(record.body or record.summary or "")
            for sentence in _SENTENCE_END.split(" ".join(text.split())):
                if 8 <= len(sentence.split()) <= 60:
                    seen.setdefault(sentence, None)
    return list(seen)


def _write(folder: pathlib.Path, name: str, day: int, paragraphs: list[str]) -> None:
    date = _START + dt.timedelta(days=day)
    body = "\n\n".join(paragraphs)
    (folder / name).write_text(f" date {date.isoformat()} {body}", encoding="utf-8")


def build(folder: pathlib.Path, *, stories: int = 1000, chains: int = 40, seed: int = 7) -> CopyCorpus:
    """`stories` originals plus copies (see the module docstring) as seed files in `folder`."""
    rng = random.Random(seed)
    pool = news_sentences()
    assert len(pool) >= 2000, f"the news captures give {len(pool)} sentences; the corpus needs 2,000"
    folder.mkdir(parents=True, exist_ok=True)
    corpus = CopyCorpus(folder)

    def paragraph() -> str:
        return " ".join(rng.sample(pool, 3))

    for i in range(stories):
        day = rng.randrange(300)
        story = [paragraph() for _ in range(6)]
        original = f"s{i:04d}.txt"
        _write(folder, original, day, story)
        corpus.files += 1
        if i < chains:
            b = [*story[:4], paragraph(), paragraph()]
            c = [*b[2:], paragraph(), paragraph()]
            # Half the chains are dated backwards: C first, then B, then A.
            step = -1 if i % 2 else 1
            names = (original, f"b{i:04d}.txt", f"a{i:04d}.txt")  # "a" and "b" sort before "s"
            _write(folder, names[1], day + step, b)
            _write(folder, names[2], day + 2 * step, c)
            corpus.chains.append(names)
            corpus.files += 2
        elif i < chains + 40:
            _write(folder, f"e{i:04d}.txt", day, story)  # the same text and date, another file
            corpus.read_twice |= {original, f"e{i:04d}.txt"}
            corpus.files += 1
        elif i < chains + 80:
            wire = ["By Maria Keller, Reuters", f"MOSCOW (Reuters) - {story[0]}", *story[1:5]]
            wire.append(
                "Copyright 2025 Reuters. All rights reserved. This material may not be redistributed."
            )
            _write(folder, f"w{i:04d}.txt", day, wire)  # the same day: order falls to the ids
            corpus.wire_copies += 1
            corpus.files += 1
    return corpus
