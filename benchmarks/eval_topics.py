"""Evaluate topic tagging (pipelines.tag_match) against hand labels of real feed entries.

Gold: `benchmarks/data/topic_labels.jsonl`, one line per entry of the shared news captures
(`../shared/data/feeds/news/*.xml`, or `$WIREWATCH_SHARED_DATA/feeds/news`), named by feed file
and entry id (else link), labelled by a reader under `benchmarks/data/topic_labels_RULES.md`.
Nothing from the captures is copied into the repository: every entry is parsed again here.

Each entry goes the pipeline's way: `parse_feed` (the feed's bytes) -> `normalize_record` ->
`Tagger.tag(title, body)`, the Tag step's own call. Gold and predicted topic sets both get their
parents added (`military.conflict` adds `military`), then per topic: precision, recall and support
(gold items). Macro precision and recall average the topics with support >= 5; a topic that is
never predicted counts as precision 0 there. Also reported: the share of items of >= 40 words
(title + summary, as labelled) that got no topic at all.

The same figures are given for a split by feed: DEV, the items of the feeds whose file names sort
first (`DEV_FEEDS` of them), which rule and weight choices may look at, and HELD-OUT, the others,
which they must not (it stands for news the rules were not fitted to).

Results go to benchmarks/results/topic_eval.json and .md.

    .venv/bin/python benchmarks/eval_topics.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.feed_parse import parse_feed
from pipelines.normalize import normalize_record
from pipelines.tag_match import Tagger
from schemas.feeds import FeedSpec
from schemas.records import Article, PipelineInfo
from schemas.topics import DEFAULT_FILE, Taxonomy, load_taxonomy

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
LABELS = ROOT / "benchmarks" / "data" / "topic_labels.jsonl"
SHARED = Path(os.environ.get("WIREWATCH_SHARED_DATA") or ROOT.parent / "shared" / "data")
NEWS = SHARED / "feeds" / "news"
MACRO_MIN_SUPPORT = 5
LONG_WORDS = 40
DEV_FEEDS = 10  # the feeds (by sorted file name) whose items tuning may look at; the rest are held out
# A body this many times longer than the labelled title + summary is the whole article (some feeds
# carry it): the labels were judged on less text than the tagger reads.
FULL_TEXT_RATIO = 3
# The captures were taken on 17-18 February 2026; a fixed time keeps every run's articles identical.
CAPTURED_AT = dt.datetime(2026, 2, 18, tzinfo=dt.UTC)
PIPELINE = PipelineInfo(version="eval", run_id="topic-eval")


@dataclass(frozen=True)
class Label:
    feed: str
    entry: str
    title: str
    words: int
    topics: tuple[str, ...]


def load_labels(path: Path = LABELS) -> list[Label]:
    labels = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            try:
                labels.append(
                    Label(row["feed"], row["entry"], row["title"], int(row["words"]), tuple(row["topics"]))
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: not a label line ({exc!r})") from exc
    return labels


def read_articles(labels: Sequence[Label], news: Path = NEWS) -> list[Article]:
    """The article each label names, built from its feed file as the pipeline builds it.

    Raises LookupError naming every entry that is not in its feed (the captures changed)."""
    articles: list[Article] = []
    missing: list[str] = []
    by_feed: dict[str, dict[str, Article]] = {}
    for label in labels:
        if label.feed not in by_feed:
            by_feed[label.feed] = _feed_articles(news / label.feed)
        article = by_feed[label.feed].get(label.entry.strip())
        if article is None:
            missing.append(f"{label.feed}: {label.entry}")
        else:
            articles.append(article)
    if missing:
        raise LookupError(f"{len(missing)} labelled entries not found in the captures: {missing}")
    return articles


def _feed_articles(path: Path) -> dict[str, Article]:
    """The feed's articles by entry id and by link (an entry without a guid is named by its link)."""
    if not path.is_file():
        return {}
    spec = FeedSpec(url="https://corpus.example.com/feed.xml", name=path.stem)
    parsed = parse_feed(path.read_bytes(), {}, spec, fetched_at=CAPTURED_AT)
    found: dict[str, Article] = {}
    for raw in parsed.records:
        article = normalize_record(raw, ingested_at=CAPTURED_AT, pipeline=PIPELINE)
        for key in (raw.url, raw.guid):
            if key:
                found.setdefault(key, article)
    return found


def with_parents(topic_ids: Iterable[str], taxonomy: Taxonomy) -> set[str]:
    return {a for t in topic_ids for a in (t, *taxonomy.ancestors(t))}


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def evaluate(
    labels_path: Path = LABELS, news: Path = NEWS, topics_file: Path = DEFAULT_FILE
) -> dict[str, Any]:
    taxonomy = load_taxonomy(topics_file)
    labels = load_labels(labels_path)
    unknown = sorted({t for label in labels for t in label.topics} - set(taxonomy.by_id))
    if unknown:
        raise ValueError(f"labels use topic ids not in {topics_file}: {unknown}")
    articles = read_articles(labels, news)
    tagger = Tagger.from_files(topics_file=topics_file)

    items: list[dict[str, Any]] = []
    for label, article in zip(labels, articles, strict=True):
        result = tagger.tag(article.title, article.body)
        gold = with_parents(label.topics, taxonomy)
        predicted = with_parents(result.topic_ids, taxonomy)
        items.append(
            {
                "feed": label.feed,
                "entry": label.entry,
                "title": label.title,
                "words": label.words,
                "body_words": article.word_count,
                "gold": sorted(gold),
                "predicted": sorted(predicted),
                "missed": sorted(gold - predicted),
                "false": sorted(predicted - gold),
            }
        )

    dev_feeds = set(sorted({i["feed"] for i in items})[:DEV_FEEDS])
    return {
        "labels": str(labels_path.relative_to(ROOT) if labels_path.is_relative_to(ROOT) else labels_path),
        "data": str(news),
        "items": len(items),
        "feeds": len({i["feed"] for i in items}),
        "items_with_gold_topics": sum(1 for i in items if i["gold"]),
        "taxonomy_version": taxonomy.version,
        **_scores(items, taxonomy),
        "splits": {
            name: {
                "feeds": sorted({i["feed"] for i in part}),
                "items": len(part),
                **{key: value for key, value in _scores(part, taxonomy).items() if key != "per_topic"},
            }
            for name, part in (
                ("dev", [i for i in items if i["feed"] in dev_feeds]),
                ("held_out", [i for i in items if i["feed"] not in dev_feeds]),
            )
        },
        "by_text": {
            "summary_only": _micro([i for i in items if i["body_words"] <= FULL_TEXT_RATIO * i["words"]]),
            "full_text": _micro([i for i in items if i["body_words"] > FULL_TEXT_RATIO * i["words"]]),
        },
        "per_feed": _per_feed(items),
        "errors": [i for i in items if i["missed"] or i["false"]],
    }


def _scores(items: list[dict[str, Any]], taxonomy: Taxonomy) -> dict[str, Any]:
    """Per-topic and macro precision/recall and the long items left without a topic."""
    per_topic: list[dict[str, Any]] = []
    for topic in taxonomy.topics:
        tp = sum(1 for i in items if topic.id in i["gold"] and topic.id in i["predicted"])
        support = sum(1 for i in items if topic.id in i["gold"])
        tagged = sum(1 for i in items if topic.id in i["predicted"])
        per_topic.append(
            {
                "topic": topic.id,
                "support": support,
                "predicted": tagged,
                "tp": tp,
                "precision": _ratio(tp, tagged),
                "recall": _ratio(tp, support),
            }
        )
    scored = [row for row in per_topic if row["support"] >= MACRO_MIN_SUPPORT]
    long_items = [i for i in items if i["words"] >= LONG_WORDS]
    untagged = [i for i in long_items if not i["predicted"]]
    return {
        "macro": {
            "min_support": MACRO_MIN_SUPPORT,
            "topics": [row["topic"] for row in scored],
            "precision": round(sum(row["precision"] or 0.0 for row in scored) / len(scored), 4),
            "recall": round(sum(row["recall"] or 0.0 for row in scored) / len(scored), 4),
        },
        "no_topic_long": {
            "min_words": LONG_WORDS,
            "items": len(long_items),
            "untagged": len(untagged),
            "share": _ratio(len(untagged), len(long_items)),
            "untagged_with_gold_topics": sum(1 for i in untagged if i["gold"]),
            # the share a perfect tagger would leave untagged: long items whose gold is no topic
            "gold_share": _ratio(sum(1 for i in long_items if not i["gold"]), len(long_items)),
        },
        "per_topic": per_topic,
    }


def _micro(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Micro precision/recall over (item, topic) pairs, parents included."""
    gold = sum(len(i["gold"]) for i in items)
    predicted = sum(len(i["predicted"]) for i in items)
    tp = gold - sum(len(i["missed"]) for i in items)
    return {
        "items": len(items),
        "words": round(sum(i["words"] for i in items) / len(items)) if items else 0,
        "body_words": round(sum(i["body_words"] for i in items) / len(items)) if items else 0,
        "gold": gold,
        "predicted": predicted,
        "precision": _ratio(tp, predicted),
        "recall": _ratio(tp, gold),
    }


def _per_feed(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    feeds = sorted({i["feed"] for i in items})
    return [{"feed": feed, **_micro([i for i in items if i["feed"] == feed])} for feed in feeds]


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(res: dict[str, Any]) -> str:
    macro, long = res["macro"], res["no_topic_long"]
    lines = [
        "# Topic tagging on hand-labelled feed entries",
        "",
        f"Generated {res['generated']} (Python {res['python']}). Reproduce:",
        "",
        "```",
        res["command"],
        "```",
        "",
        f"Gold: `{res['labels']}` ({res['items']} entries of {res['feeds']} feeds in `{res['data']}`, "
        f"{res['items_with_gold_topics']} with a topic), labelled under `topic_labels_RULES.md`. "
        f"Taxonomy {res['taxonomy_version']}. Parents are added to gold and predictions alike.",
        "",
        "## Headline figures",
        "",
        f"- Macro precision {_fmt(macro['precision'])}, macro recall {_fmt(macro['recall'])} over the "
        f"{len(macro['topics'])} topics with support >= {macro['min_support']} (never predicted = "
        "precision 0).",
        f"- Items of >= {long['min_words']} words with no topic: {long['untagged']} of {long['items']} "
        f"({_fmt(long['share'])}); {long['untagged_with_gold_topics']} of them have gold topics "
        f"(the gold labels give no topic to {_fmt(long['gold_share'])} of these items).",
        *(
            f"- Micro P/R where the body is {label}: {_fmt(row['precision'])} / {_fmt(row['recall'])} "
            f"({row['items']} items, {row['predicted']} predicted and {row['gold']} gold topics)."
            for label, row in (
                ("the summary (or close to it)", res["by_text"]["summary_only"]),
                (f"the whole article (> {FULL_TEXT_RATIO}x the labelled words)", res["by_text"]["full_text"]),
            )
        ),
        "",
        f"## By split (DEV: the first {DEV_FEEDS} feeds by file name; HELD-OUT: the others)",
        "",
        "| split | feeds | items | macro precision | macro recall | >= 40 words, no topic |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {len(row['feeds'])} | {row['items']} | {_fmt(row['macro']['precision'])} | "
            f"{_fmt(row['macro']['recall'])} | {row['no_topic_long']['untagged']} of "
            f"{row['no_topic_long']['items']} ({_fmt(row['no_topic_long']['share'])}) |"
            for name, row in (("DEV", res["splits"]["dev"]), ("HELD-OUT", res["splits"]["held_out"]))
        ),
        "",
        "## Per topic",
        "",
        "| topic | support | predicted | correct | precision | recall |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in res["per_topic"]:
        lines.append(
            f"| {row['topic']} | {row['support']} | {row['predicted']} | {row['tp']} | "
            f"{_fmt(row['precision'])} | {_fmt(row['recall'])} |"
        )
    lines += [
        "",
        "## Per feed (micro, parents included)",
        "",
        "`words`: title + summary as labelled; `body words`: the article body the tagger reads (some "
        "feeds carry the whole article, which the labels were not judged on).",
        "",
        "| feed | items | words | body words | gold | predicted | precision | recall |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in res["per_feed"]:
        lines.append(
            f"| {row['feed']} | {row['items']} | {row['words']} | {row['body_words']} | {row['gold']} | "
            f"{row['predicted']} | {_fmt(row['precision'])} | {_fmt(row['recall'])} |"
        )
    lines += [
        "",
        f"## Items with a missed or a false topic ({len(res['errors'])})",
        "",
        "| feed | title | words | gold | missed | false |",
        "|---|---|---:|---|---|---|",
    ]
    for item in res["errors"]:
        lines.append(
            f"| {item['feed'][:8]} | {_cell(item['title'])} | {item['words']} | "
            f"{', '.join(item['gold']) or '-'} | {', '.join(item['missed']) or '-'} | "
            f"{', '.join(item['false']) or '-'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--labels", type=Path, default=LABELS, help="the gold JSONL")
    parser.add_argument("--data", type=Path, default=NEWS, help="folder of the news feed captures")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where topic_eval.{json,md} go")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"eval_topics: {args.data} is absent: the shared news captures are needed", file=sys.stderr)
        return 2
    res = evaluate(args.labels, args.data)
    res["generated"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    res["python"] = sys.version.split()[0]
    given = sys.argv[1:] if argv is None else list(argv)
    res["command"] = " ".join([".venv/bin/python benchmarks/eval_topics.py", *given])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "topic_eval.json").write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", "utf-8")
    (args.out / "topic_eval.md").write_text(render_markdown(res), "utf-8")
    macro, long = res["macro"], res["no_topic_long"]
    print(
        f"{res['items']} items: macro P {_fmt(macro['precision'])} R {_fmt(macro['recall'])} "
        f"({len(macro['topics'])} topics with support >= {macro['min_support']}); "
        f">= {long['min_words']} words with no topic {long['untagged']}/{long['items']} "
        f"({_fmt(long['share'])})"
    )
    for name, row in (("DEV", res["splits"]["dev"]), ("HELD-OUT", res["splits"]["held_out"])):
        split_macro, split_long = row["macro"], row["no_topic_long"]
        print(
            f"  {name} ({row['items']} items): macro P {_fmt(split_macro['precision'])} "
            f"R {_fmt(split_macro['recall'])}; >= {split_long['min_words']} words with no topic "
            f"{split_long['untagged']}/{split_long['items']} ({_fmt(split_long['share'])})"
        )
    print(f"wrote {args.out / 'topic_eval.md'} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
