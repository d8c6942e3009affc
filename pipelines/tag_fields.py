"""The article fields a tagger's result sets: one definition for the pipeline's Tag step
(`apply_tags`) and for `wirewatch retag`, which writes the same fields into stored documents
(`tag_document`). Free of Beam, so the CLI does not pay for importing it."""

from __future__ import annotations

from typing import Any

from pipelines.tag_match import Span, TagResult
from schemas.records import ActorTag, Article, Evidence, TopicTag


def _evidence(spans: tuple[Span, ...]) -> tuple[Evidence, ...]:
    return tuple(Evidence(start=s.start, end=s.end, text=s.text, via=s.via, weight=s.weight) for s in spans)


def _tags(result: TagResult) -> dict[str, tuple[Any, ...]]:
    """The Article fields `result` sets, besides the two versions under `pipeline`."""
    actors = tuple(
        ActorTag(
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
    )
    topics = tuple(
        TopicTag(id=t.id, label=t.label, score=round(t.score, 4), evidence=_evidence(t.spans))
        for t in result.topics
    )
    return {
        "actors": actors,
        "topics": topics,
        "actor_ids": result.actor_ids,
        "actor_names": result.actor_names,
        "countries": result.countries,
        "topic_ids": result.topic_ids,
    }


def _versions(result: TagResult) -> dict[str, str]:
    return {"registry_version": result.registry_version, "taxonomy_version": result.taxonomy_version}


def apply_tags(article: Article, result: TagResult) -> Article:
    """The article carrying `result`: tags with evidence, flat keyword lists, registry versions."""
    pipeline = article.pipeline.model_copy(update=_versions(result))
    return article.model_copy(update={**_tags(result), "pipeline": pipeline})


def tag_document(result: TagResult) -> dict[str, Any]:
    """The same fields as JSON, shaped like a stored article document (`pipeline` holding only the
    two versions): what `wirewatch retag` merges into each document."""
    doc: dict[str, Any] = {
        name: [
            value.model_dump(mode="json") if isinstance(value, ActorTag | TopicTag) else value
            for value in values
        ]
        for name, values in _tags(result).items()
    }
    doc["pipeline"] = _versions(result)
    return doc
