"""Tagged articles as the stores write them: the same documents the validated pydantic path wrote.

The reference is the code before the Tag step stopped building models per evidence span: every
evidence span and tag a validated model, the embedded store's document from `model_dump_json`, the
Elasticsearch document from `model_dump(mode="json")` (keyword values cut), the retag fields from
`model_dump(mode="json")` per tag. Real articles: the repository's seeds and every entry of the
shared news captures (`../shared/data/feeds/news/`; outside CI a missing folder skips those).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import pathlib
import sqlite3
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, Field

from connectors.coders import ArticleCoder
from connectors.elasticsearchio import article_source
from connectors.es_indices import MAX_TERM_BYTES, article_document
from connectors.feed_parse import parse_feed
from connectors.localstore import FULL_DOC, IN_COLUMNS, NOT_IN_DOC, LocalStore
from pipelines.normalize import normalize_record
from pipelines.tag_fields import apply_tags, tag_document
from pipelines.tag_match import Tagger, TagResult
from schemas.dedup import (
    Decision,
    DedupConfig,
    Lineage,
    LineageUpdate,
    apply_decision,
    fingerprint,
    merge_sightings,
    with_keys,
)
from schemas.feeds import FeedSpec
from schemas.records import ActorTag, Article, Sighting, TopicTag
from schemas.types import FROZEN, NonEmptyStr
from tests.conftest import PIPELINE, RUN_AT, seed_articles

REPO = pathlib.Path(__file__).resolve().parents[2]
NEWS = (
    pathlib.Path(os.environ.get("WIREWATCH_SHARED_DATA") or REPO.parent / "shared" / "data")
    / "feeds"
    / "news"
)
SPEC = FeedSpec(url="https://corpus.example.com/feed.xml", name="corpus")


# --- the reference: tags as validated models --------------------------------------------------


class _Evidence(BaseModel):
    model_config = FROZEN

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    via: str
    weight: float


class _ActorTag(BaseModel):
    model_config = FROZEN

    id: NonEmptyStr
    name: NonEmptyStr
    kind: NonEmptyStr
    country: str | None = None
    mentions: int = Field(ge=0)
    salience: float = Field(ge=0.0, le=1.0)
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: tuple[_Evidence, ...] = ()


class _TopicTag(BaseModel):
    model_config = FROZEN

    id: NonEmptyStr
    label: NonEmptyStr
    score: float = Field(ge=0.0, le=1.0)
    evidence: tuple[_Evidence, ...] = ()


class _Article(Article):
    """Article with model tags; an overridden field keeps its place, so the JSON keys keep theirs."""

    actors: tuple[_ActorTag, ...] = ()  # type: ignore[assignment]
    topics: tuple[_TopicTag, ...] = ()  # type: ignore[assignment]


def _evidence(spans: Any) -> tuple[_Evidence, ...]:
    return tuple(_Evidence(start=s.start, end=s.end, text=s.text, via=s.via, weight=s.weight) for s in spans)


def _reference_tags(result: TagResult) -> dict[str, Any]:
    return {
        "actors": tuple(
            _ActorTag(
                id=a.id,
                name=a.name,
                kind=a.kind,
                country=a.country,
                mentions=a.mentions,
                salience=round(a.salience, 4),
                confidence=round(a.confidence, 4),
                evidence=_evidence(a.spans),
            )
            for a in result.actors
        ),
        "topics": tuple(
            _TopicTag(id=t.id, label=t.label, score=round(t.score, 4), evidence=_evidence(t.spans))
            for t in result.topics
        ),
        "actor_ids": result.actor_ids,
        "actor_names": result.actor_names,
        "countries": result.countries,
        "topic_ids": result.topic_ids,
    }


def _versions(result: TagResult) -> dict[str, str]:
    return {"registry_version": result.registry_version, "taxonomy_version": result.taxonomy_version}


def _reference_article(article: Article, result: TagResult) -> _Article:
    pipeline = article.pipeline.model_copy(update=_versions(result))
    return _Article(**{**dict(article), **_reference_tags(result), "pipeline": pipeline})


def _reference_tag_document(result: TagResult) -> dict[str, Any]:
    doc: dict[str, Any] = {
        name: [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in values]
        for name, values in _reference_tags(result).items()
    }
    doc["pipeline"] = _versions(result)
    return doc


# --- real articles ------------------------------------------------------------------------------


@functools.cache
def _tagger() -> Tagger:
    return Tagger.from_files()


def _canonical(article: Article) -> Article:
    return with_keys(apply_decision(article, Decision(article.id)), fingerprint(article, DedupConfig()))


@functools.cache
def _untagged() -> tuple[Article, ...]:
    """Canonical articles as the Tag step receives them: the seeds and every news capture entry."""
    articles = seed_articles()
    if NEWS.is_dir():
        for path in sorted(NEWS.glob("*.xml")):
            parsed = parse_feed(path.read_bytes(), {}, SPEC, fetched_at=RUN_AT)
            articles += [
                normalize_record(raw, ingested_at=RUN_AT, pipeline=PIPELINE) for raw in parsed.records
            ]
    elif os.environ.get("CI"):
        pytest.fail(f"{NEWS} is missing, and CI is set: the shared test data must be present")
    return tuple(_canonical(a) for a in articles)


Case = tuple[Article, _Article, TagResult]


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    """(tagged article, the same tagged the reference way, the tagger's result) per article."""
    found = []
    for article in _untagged():
        result = _tagger().tag(article.title, article.body)
        found.append((apply_tags(article, result), _reference_article(article, result), result))
    assert len(found) >= 600 or not NEWS.is_dir()  # the seeds and 607 capture entries, minus none
    assert sum(len(tag.evidence) for tagged, _, _ in found for tag in tagged.actors) > 1000
    return found


def test_the_reference_keeps_the_article_field_order():
    assert list(_Article.model_fields) == list(Article.model_fields)


def test_the_embedded_store_writes_the_same_documents(tmp_path: pathlib.Path, cases: list[Case]):
    path = tmp_path / "w.db"
    store = LocalStore(str(path))
    store.write_articles(tagged for tagged, _, _ in cases)
    store.close()
    with sqlite3.connect(path) as db:
        stored = dict(db.execute("SELECT id, doc FROM articles").fetchall())
    assert len(stored) == len({tagged.id for tagged, _, _ in cases})
    for tagged, reference, _ in cases:
        # Title and body are stored once, in their columns: the JSON holds them empty.
        expected = reference.model_copy(update=IN_COLUMNS).model_dump_json(exclude=NOT_IN_DOC)
        assert stored[tagged.id] == expected, tagged.id
        assert LocalStore(str(path)).get(tagged.id) == orjson.loads(
            reference.model_dump_json(exclude=NOT_IN_DOC)
        )


def test_elasticsearch_gets_the_same_documents(cases: list[Case]):
    for tagged, reference, _ in cases:
        # Compared as JSON values written one way: numbers keep their type, dates their format.
        sent = orjson.dumps(orjson.loads(article_source(tagged)))
        assert sent == orjson.dumps(article_document(reference)), tagged.id


def test_retag_sets_the_same_fields(cases: list[Case]):
    for tagged, _, result in cases:
        assert orjson.dumps(tag_document(result)) == orjson.dumps(_reference_tag_document(result)), tagged.id


def test_the_article_json_between_stages_is_the_same(cases: list[Case]):
    for tagged, reference, _ in cases:
        encoded = tagged.model_dump_json()
        assert encoded == reference.model_dump_json(), tagged.id
        assert Article.model_validate_json(encoded) == tagged


def test_unvalidated_tags_equal_validated_ones(cases: list[Case]):
    for tagged, _, _ in cases:
        for tag in (*tagged.actors, *tagged.topics):
            validated = type(tag).model_validate(tag.model_dump())
            assert isinstance(validated, ActorTag | TopicTag)
            assert validated == tag
            assert validated.model_fields_set == tag.model_fields_set
            assert [type(v) for v in dict(validated).values()] == [type(v) for v in dict(tag).values()]


def test_a_lineage_update_writes_what_the_validated_round_trip_wrote(
    tmp_path: pathlib.Path, cases: list[Case]
):
    path = tmp_path / "w.db"
    store = LocalStore(str(path))
    canonicals = [tagged for tagged, _, _ in cases[:200]]
    store.write_articles(canonicals)
    expected = {}
    for n, article in enumerate(canonicals):
        seen = RUN_AT + dt.timedelta(minutes=n, microseconds=n * 1001)
        copies = (
            Sighting(
                article_id=f"{n:032x}", outlet="copy.example", url="https://copy.example/a", seen_at=seen
            ),
            article.sources_seen[0],  # already there: adds nothing
        )
        before = store._db.execute(f"SELECT {FULL_DOC} FROM articles WHERE id = ?", (article.id,)).fetchone()[
            0
        ]
        old = Article.model_validate_json(before)
        merged = merge_sightings(old.sources_seen, copies)
        expected[article.id] = old.model_copy(
            update={**dict(Lineage.of(merged)), **IN_COLUMNS}
        ).model_dump_json(exclude=NOT_IN_DOC)
        assert store.add_sightings(LineageUpdate(canonical_id=article.id, sightings=copies)) is True
    store.close()
    with sqlite3.connect(path) as db:
        stored = dict(db.execute("SELECT id, doc FROM articles").fetchall())
    for article_id, doc in expected.items():
        assert stored[article_id] == doc, article_id
        assert orjson.loads(doc)["source_count"] == 2


# --- keyword values past Lucene's term limit -----------------------------------------------------


def _long(article: Article, **changes: Any) -> Article:
    return Article.model_validate({**article.model_dump(), **changes})


def test_a_long_body_is_sent_whole():
    article = _long(seed_articles()[0], body="Kim Jong Un met Vladimir Putin. " * 4000)
    source = article_source(article)
    assert len(source) > MAX_TERM_BYTES
    assert orjson.loads(source) == article_document(article) == article.model_dump(mode="json")


@pytest.mark.parametrize("author", ["x" * (MAX_TERM_BYTES + 10), "é" * (MAX_TERM_BYTES // 2 + 5)])
def test_a_keyword_value_past_the_term_limit_is_cut(author: str):
    article = _long(seed_articles()[0], authors=(author, "Short Name"))
    sent = orjson.loads(article_source(article))
    assert sent == article_document(article) != article.model_dump(mode="json")
    assert len(sent["authors"][0].encode()) <= MAX_TERM_BYTES
    assert sent["authors"][1] == "Short Name"


def test_the_article_coder_estimates_sizes_close_to_the_encoded_ones(cases: list[Case]):
    """Beam measures sampled elements with `estimate_size`, which must not encode (it doubled the
    encoding work) yet stay close to the encoded size, on real tagged articles of every length."""
    coder = ArticleCoder()
    errors = []
    for tagged, _, _ in cases:
        encoded = len(coder.encode(tagged))
        errors.append(abs(coder.estimate_size(tagged) - encoded) / encoded)
    assert sum(errors) / len(errors) <= 0.15
    assert max(errors) <= 0.5
