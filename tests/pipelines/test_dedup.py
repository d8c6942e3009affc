"""Deduplicate in the batch graph with the embedded store: folding, lineage, re-runs, parallelism."""

from __future__ import annotations

import datetime as dt
import pathlib
import random
import shutil
from typing import Any

import pytest

from connectors.feed_parse import parse_feed
from pipelines.ingest import run
from schemas.feeds import FeedSpec
from schemas.text import html_to_text
from tests.conftest import SEEDS, embedded_docs
from tests.connectors.test_feed_corpus import NEWS, _require

KIM_PUTIN_NOV_9 = "000_c188ed1eebfaaab7.txt"


@pytest.fixture(autouse=True)
def _embedded_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the embedded store, even where `make test` exports an Elasticsearch URL."""
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)


def syndicate(body: str, rng: random.Random | None = None) -> str:
    """A wire copy of `body`: byline and dateline added, one paragraph cut, a footer added, and
    (with `rng`) a few words changed."""
    paragraphs = body.split("\n\n")
    if len(paragraphs) > 3:
        del paragraphs[2]
    text = "\n\n".join(paragraphs)
    if rng is not None:
        words = text.split(" ")
        for i in rng.sample(range(len(words)), max(1, len(words) // 50)):
            words[i] = rng.choice(["officials", "reportedly", "on Monday", "said"])
        text = " ".join(words)
    return (
        "By Maria Keller, Reuters\nMOSCOW (Reuters) - "
        + text
        + "\n\nCopyright 2023 Reuters. All rights reserved. This material may not be redistributed."
    )


def seed_file(folder: pathlib.Path, name: str, date: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f" date {date} {body}", encoding="utf-8")


def seed_body(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8").split(" ", 3)[3]


def _run(seeds: pathlib.Path, store: pathlib.Path, *extra: str) -> Any:
    return run(["--seeds", str(seeds), "--store", str(store), *extra])


def _canonical(docs: dict[str, dict[str, Any]]) -> set[str]:
    return {i for i, d in docs.items() if d["duplicate_of"] is None}


@pytest.fixture
def seeds_with_copy(tmp_path: pathlib.Path) -> pathlib.Path:
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder, ignore=shutil.ignore_patterns("*.yaml"))
    seed_file(folder, "900_wire_copy.txt", "2023-11-10", syndicate(seed_body(KIM_PUTIN_NOV_9)))
    return folder


def test_the_seeds_stay_two_and_a_syndicated_copy_folds_in_with_lineage(
    tmp_path: pathlib.Path, seeds_with_copy: pathlib.Path
):
    store = tmp_path / "w.db"
    summary = _run(seeds_with_copy, store)
    assert (summary.read, summary.canonical, summary.duplicates, summary.near_duplicates) == (3, 2, 1, 1)
    docs = embedded_docs(store)
    assert len(docs) == 3
    assert len(_canonical(docs)) == 2
    (copy,) = [d for d in docs.values() if d["duplicate_of"]]
    original = docs[copy["duplicate_of"]]
    assert original["source"]["file"].endswith(KIM_PUTIN_NOV_9)
    assert copy["duplicate_reason"] == "near"
    assert 0.3 <= copy["similarity"] < 1
    assert [s["article_id"] for s in original["sources_seen"]] == [original["id"], copy["id"]]
    assert (original["source_count"], original["independent_source_count"]) == (2, 1)
    other = next(d for i, d in docs.items() if i not in (original["id"], copy["id"]))
    assert other["duplicate_of"] is None
    assert other["source_count"] == 1


def test_rerunning_creates_no_canonical_article_and_a_later_copy_joins_the_stored_one(
    tmp_path: pathlib.Path, seeds_with_copy: pathlib.Path
):
    store = tmp_path / "w.db"
    _run(seeds_with_copy, store)
    before = embedded_docs(store)

    again = _run(seeds_with_copy, store)
    assert (again.canonical, again.duplicates, again.already_stored, again.written) == (0, 0, 3, 0)
    assert embedded_docs(store) == before

    seed_file(
        seeds_with_copy,
        "901_another_copy.txt",
        "2023-11-11",
        syndicate(seed_body(KIM_PUTIN_NOV_9), random.Random(3)),
    )
    later = _run(seeds_with_copy, store)
    assert (later.canonical, later.duplicates, later.written) == (0, 1, 1)
    after = embedded_docs(store)
    assert _canonical(after) == _canonical(before)
    original = next(d for d in after.values() if d["source"]["file"].endswith(KIM_PUTIN_NOV_9))
    assert original["source_count"] == 3
    assert len({s["article_id"] for s in original["sources_seen"]}) == 3


def _news_corpus(folder: pathlib.Path, originals: int = 30) -> None:
    """Real articles from the news captures as seed files, each followed by 1-2 wire copies."""
    _require(NEWS)
    rng = random.Random(11)
    bodies: list[str] = []
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for path in sorted(NEWS.glob("*.xml")):
        spec = FeedSpec(url=f"https://feeds.example.com/{path.stem}.xml", name=path.stem)
        for record in parse_feed(path.read_bytes(), {}, spec, fetched_at=now).records:
            text = html_to_text(record.body or record.summary or "")
            if len(text.split()) >= 150 and text not in bodies:
                bodies.append(text)
    assert len(bodies) >= originals, "the news captures hold enough long articles"
    for i, body in enumerate(rng.sample(bodies, originals)):
        day = 1 + i % 20
        seed_file(folder, f"{i:03d}_original.txt", f"2025-03-{day:02d}", body)
        for j in range(rng.randint(1, 2)):
            seed_file(folder, f"{i:03d}_copy{j}.txt", f"2025-03-{day + 1 + j:02d}", syndicate(body, rng))


def test_one_and_two_workers_fold_the_same_corpus_identically(tmp_path: pathlib.Path):
    corpus = tmp_path / "corpus"
    _news_corpus(corpus)
    one = _run(corpus, tmp_path / "one.db", "--direct_num_workers=1")
    two = _run(
        corpus, tmp_path / "two.db", "--direct_num_workers=2", "--direct_running_mode=multi_processing"
    )
    assert one.canonical == two.canonical == 30
    docs_one, docs_two = embedded_docs(tmp_path / "one.db"), embedded_docs(tmp_path / "two.db")
    folding = {i: (d["duplicate_of"], d["source_count"]) for i, d in docs_one.items()}
    assert folding == {i: (d["duplicate_of"], d["source_count"]) for i, d in docs_two.items()}
    # Every copy points at its own original (the originals are dated first).
    for d in docs_one.values():
        if d["duplicate_of"]:
            original = docs_one[d["duplicate_of"]]["source"]["file"]
            assert pathlib.Path(original).name[:3] == pathlib.Path(d["source"]["file"]).name[:3]
