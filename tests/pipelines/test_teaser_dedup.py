"""Teasers fold into their full versions through the batch graph (issue 18, part 3), cut from real
article bodies (../shared/data/articles/ground-truth.json): the two measured cases, the seeds kept
apart, and a shared boilerplate opening that must not fold two stories."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
from typing import Any

import pytest

from pipelines.ingest import run
from tests.conftest import SEEDS, embedded_docs

GROUND_TRUTH = (
    pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "articles" / "ground-truth.json"
)
SHORT_ARTICLE = "34a7328535ad"  # 93 words
LONG_ARTICLE = "e4c6a3b48240"  # 450 words, a 27-word first sentence
OTHER_STORIES = ("624fcd903d56", "dc7ccccc1f34")  # 403 words each, different stories
BOILERPLATE = (
    "(Reuters) - The following statement was released on Tuesday by the company and has not been "
    "edited by Reuters staff."
)


@pytest.fixture(autouse=True)
def _embedded_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)


@pytest.fixture(scope="module")
def bodies() -> dict[str, str]:
    if not GROUND_TRUTH.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{GROUND_TRUTH} is missing")
        pytest.skip(f"{GROUND_TRUTH} is missing")
    data = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
    return {key[:12]: str(value["articleBody"]) for key, value in data.items()}


def _seed(folder: pathlib.Path, name: str, date: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f" date {date} {body}", encoding="utf-8")


def _first_words(body: str, n: int) -> str:
    return " ".join(body.split()[:n])


def _first_sentence(body: str) -> str:
    match = re.match(r"(.+?[.!?])\s", body, re.S)
    assert match is not None
    return match.group(1)


def _folder_with_seeds(tmp_path: pathlib.Path) -> pathlib.Path:
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder, ignore=shutil.ignore_patterns("*.yaml"))
    return folder


def _by_start(docs: dict[str, dict[str, Any]], body: str) -> tuple[str, dict[str, Any]]:
    """The stored document whose body is `body` (seed parsing keeps the text, not its spacing)."""
    want = " ".join(body.split())
    (found,) = [(i, d) for i, d in docs.items() if " ".join(d["body"].split()) == want]
    return found


def _run(folder: pathlib.Path, store: pathlib.Path, *extra: str) -> dict[str, dict[str, Any]]:
    run(["--seeds", str(folder), "--store", str(store), *extra])
    return embedded_docs(store)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_measured_teasers_fold_into_their_full_versions_with_lineage(
    tmp_path: pathlib.Path, bodies: dict[str, str], workers: int
) -> None:
    folder = _folder_with_seeds(tmp_path)
    short, long = bodies[SHORT_ARTICLE], bodies[LONG_ARTICLE]
    prefix_teaser = _first_words(short, 28)  # a word-for-word 28-word prefix of a 93-word article
    sentence_teaser = _first_sentence(long)  # the first sentence of a 450-word article
    assert len(prefix_teaser.split()) == 28
    assert 25 <= len(sentence_teaser.split()) <= 30
    _seed(folder, "900_full.txt", "2026-02-17", short)
    _seed(folder, "901_teaser.txt", "2026-02-18", prefix_teaser)
    # The other order: the teaser is seen first, so it stays canonical and the full text folds in.
    _seed(folder, "902_teaser.txt", "2026-02-17", sentence_teaser)
    _seed(folder, "903_full.txt", "2026-02-18", long)
    docs = _run(folder, tmp_path / "w.db", "--direct_num_workers", str(workers))

    full_id, full = _by_start(docs, short)
    teaser_id, teaser = _by_start(docs, prefix_teaser)
    assert (full["duplicate_of"], teaser["duplicate_of"], teaser["duplicate_reason"]) == (
        None,
        full_id,
        "contained",
    )
    assert [s["article_id"] for s in full["sources_seen"]] == [full_id, teaser_id]

    lead_id, lead = _by_start(docs, sentence_teaser)
    long_id, long_doc = _by_start(docs, long)
    assert (lead["duplicate_of"], long_doc["duplicate_of"], long_doc["duplicate_reason"]) == (
        None,
        lead_id,
        "contained",
    )
    assert [s["article_id"] for s in lead["sources_seen"]] == [lead_id, long_id]
    # The two seed articles (one Kim-Putin story, two articles) stay apart, each canonical.
    seed_docs = [d for i, d in docs.items() if i not in {full_id, teaser_id, lead_id, long_id}]
    assert len(seed_docs) == 2
    assert [d["duplicate_of"] for d in seed_docs] == [None, None]


def test_a_shared_boilerplate_opening_does_not_fold_two_stories(
    tmp_path: pathlib.Path, bodies: dict[str, str]
) -> None:
    folder = tmp_path / "seeds"
    one, two = (f"{BOILERPLATE} {bodies[key]}" for key in OTHER_STORIES)
    teaser_of_two = _first_words(two, 40)  # the boilerplate, then the second story's opening
    _seed(folder, "900_one.txt", "2026-02-17", one)
    _seed(folder, "901_teaser_two.txt", "2026-02-18", teaser_of_two)
    docs = _run(folder, tmp_path / "w.db")
    assert all(d["duplicate_of"] is None for d in docs.values())

    # With its own full version in the run, the teaser folds into that one, not the other story.
    _seed(folder, "902_two.txt", "2026-02-16", two)
    docs = _run(folder, tmp_path / "w2.db")
    two_id, two_doc = _by_start(docs, two)
    _, teaser = _by_start(docs, teaser_of_two)
    _, one_doc = _by_start(docs, one)
    assert (one_doc["duplicate_of"], two_doc["duplicate_of"], teaser["duplicate_of"]) == (None, None, two_id)
