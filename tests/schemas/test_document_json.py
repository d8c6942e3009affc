"""document_json writes what model_dump_json writes, byte for byte; Evidence, a named tuple, reads and
writes its JSON as the model it replaced did."""

from __future__ import annotations

import datetime as dt
import random
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from schemas.records import (
    ActorTag,
    Article,
    DeadLetter,
    Evidence,
    PipelineInfo,
    Sighting,
    Source,
    TopicTag,
    document_json,
)

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
SPAN = Evidence(0, 3, "Kim", "Kim", 0.6)


def _article(**changes: Any) -> Article:
    fields: dict[str, Any] = {
        "id": "b" * 32,
        "source": Source(kind="feed", name="example", feed_url="https://example.com/rss"),
        "title": "Title",
        "body": "Body.",
        "ingested_at": NOW,
        "word_count": 1,
        "content_hash": "a" * 64,
        "pipeline": PipelineInfo(version="0.1.0", run_id="run-1"),
        "actors": (
            ActorTag(
                id="Q56226",
                name="Kim Jong Un",
                kind="person",
                country="PRK",
                mentions=2,
                salience=0.5,
                confidence=1.0,
                evidence=(SPAN, Evidence(10, 13, "Kim", "Kim", 1.0)),
            ),
        ),
        "topics": (TopicTag(id="military", label="Military", score=0.25, evidence=(SPAN,)),),
        "dedup_keys": ("u:abc",),
    }
    return Article(**{**fields, **changes})


def _same(record: BaseModel, exclude: set[str] | None = None) -> None:
    assert document_json(record, exclude or ()) == record.model_dump_json(exclude=exclude).encode()


def _records(model: type) -> set[type]:
    """`model` and every record type its fields hold, nested ones included."""
    found = {model}
    hints = (
        {name: field.annotation for name, field in model.model_fields.items()}
        if issubclass(model, BaseModel)
        else typing.get_type_hints(model)
    )
    for annotation in hints.values():
        stack = [annotation]
        while stack:
            leaf = stack.pop()
            stack += typing.get_args(leaf)
            if (
                isinstance(leaf, type)
                and (issubclass(leaf, BaseModel) or leaf is Evidence)
                and leaf not in found
            ):
                found |= _records(leaf)
    return found


@pytest.mark.parametrize("model", [Article, DeadLetter])
def test_the_records_have_only_plain_fields(model: type[BaseModel]):
    """What document_json relies on: fields written under their names, as their types write them."""
    records = _records(model)
    assert {Evidence, ActorTag, TopicTag, Sighting, Source, PipelineInfo} <= records or model is DeadLetter
    for record in records - {Evidence}:
        assert issubclass(record, BaseModel)
        assert not record.model_computed_fields, record
        assert record.model_config.get("extra") == "forbid", record
        decorators = record.__pydantic_decorators__
        assert not decorators.field_serializers, record
        assert not decorators.model_serializers, record
        for field in record.model_fields.values():
            assert field.alias is None, record
            assert field.serialization_alias is None, record
            assert not field.exclude, record


def test_a_tagged_article_with_and_without_its_keys():
    article = _article()
    _same(article)
    _same(article, {"dedup_keys", "near_dup_keys"})
    assert b'"evidence":[{"start":0,"end":3,"text":"Kim","via":"Kim","weight":0.6},' in document_json(article)


def test_dates_floats_and_text_of_every_kind():
    rng = random.Random(7)
    specials = '\x00\x01\x1f\x7f"\\/\n\r\t\b\f\u2028\u2029\ufeff\u00e9\U0001f600 ä 中文 العربية'
    for n in range(300):
        moment = NOW + dt.timedelta(
            seconds=rng.randrange(10**8), microseconds=rng.choice((0, 1, 120000, 999999))
        )
        text = "".join(rng.choice(specials) for _ in range(rng.randrange(1, 40)))
        article = _article(
            title=f"T{text}",
            body=text,
            published_at=moment,
            ingested_at=moment.astimezone(dt.timezone(dt.timedelta(hours=-5))),  # stored in UTC
            similarity=rng.choice((0.0, 1.0, 1 / 3, rng.random(), 1e-7, 0.1 + 0.2)),
            sources_seen=(Sighting(article_id=f"{n:032x}", outlet=f"o{text}", seen_at=moment),),
            first_seen=moment,
        )
        _same(article)


def test_what_orjson_cannot_write_goes_to_pydantic():
    _same(_article(word_count=2**70))  # past 64 bits: pydantic writes it
    with pytest.raises(PydanticSerializationError):  # a lone surrogate fails as model_dump_json fails
        document_json(_article(body="a\ud800b"))


def test_a_dead_letter():
    letter = DeadLetter.build(
        stage="normalize",
        error="bad\nthing",
        error_type="x",
        payload=b"\xff\xfe",
        source=None,
        occurred_at=NOW,
    )
    _same(letter)


# --- Evidence: a named tuple in Python, an object in JSON -------------------------------------------


def test_evidence_is_read_from_json_as_an_object():
    tag = TopicTag.model_validate_json(
        '{"id":"m","label":"M","score":0.5,"evidence":[{"start":0,"end":3,"text":"Kim","via":"Kim","weight":1}]}'
    )
    assert tag.evidence == (Evidence(0, 3, "Kim", "Kim", 1.0),)
    assert type(tag.evidence[0]) is Evidence
    assert type(tag.evidence[0].weight) is float
    assert TopicTag.model_validate(tag.model_dump()) == tag
    assert tag.model_dump()["evidence"] == (
        {"start": 0, "end": 3, "text": "Kim", "via": "Kim", "weight": 1.0},
    )


@pytest.mark.parametrize(
    ("evidence", "problem"),
    [
        ({"start": -1, "end": 3, "text": "Kim", "via": "Kim", "weight": 1.0}, "greater_than_equal"),
        ({"start": 0, "end": 3, "text": "Kim", "via": "Kim"}, "missing"),
        ({"start": 0, "end": 3, "text": "Kim", "via": "Kim", "weight": 1.0, "x": 1}, "extra_forbidden"),
        ({"start": 0, "end": 3, "text": 5, "via": "Kim", "weight": 1.0}, "string_type"),
        ([0, 3, "Kim", "Kim", 1.0], "dict_type"),
        ((0, 3, "Kim", "Kim", 1.0), "dict_type"),  # a plain tuple is not Evidence
    ],
)
def test_evidence_from_outside_is_validated(evidence: Any, problem: str):
    with pytest.raises(ValidationError) as error:
        TopicTag.model_validate({"id": "m", "label": "M", "score": 0.5, "evidence": [evidence]})
    assert problem in {e["type"] for e in error.value.errors()}
    assert error.value.errors()[0]["loc"][:2] == ("evidence", 0)


def test_the_tag_models_built_unvalidated_equal_validated_ones():
    head = ActorTag.head(" Q1 ", "  Kim Jong Un ", "person", None)
    assert (head.id, head.name) == ("Q1", "Kim Jong Un")  # validated once: stripped like any tag
    tag = ActorTag.trusted(head, mentions=3, salience=0.25, confidence=1.0, evidence=(SPAN,))
    validated = ActorTag.model_validate(tag.model_dump())
    assert validated == tag
    assert validated.model_fields_set == tag.model_fields_set
    topic = TopicTag.trusted(TopicTag.head("m", "M"), 0.5, (SPAN,))
    assert TopicTag.model_validate(topic.model_dump()) == topic
    with pytest.raises(ValidationError):
        ActorTag.head("Q1", "   ", "person", None)
