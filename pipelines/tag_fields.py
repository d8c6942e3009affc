"""The article fields a tagger's result sets: one definition for the pipeline's Tag step
(`apply_tags`) and for `wirewatch retag`, which writes the same fields into stored documents
(`tag_document`). Free of Beam, so the CLI does not pay for importing it."""

from __future__ import annotations

import functools
from typing import Any

from pipelines.tag_match import TagResult
from schemas.records import ActorTag, Article, TopicTag

# Building and validating a model per evidence span and tag was most of the Tag step's CPU. The
# spans are the article's Evidence as they come, and the tags are built unvalidated (`trusted`):
# the tagger guarantees their numbers, and the registry's names are validated once per actor or
# topic (`_actor_head`, `_topic_head`).


@functools.lru_cache(maxsize=1 << 16)
def _actor_head(actor_id: str, name: str, kind: str, country: str | None) -> ActorTag:
    return ActorTag.head(actor_id, name, kind, country)


@functools.lru_cache(maxsize=1 << 16)
def _topic_head(topic_id: str, label: str) -> TopicTag:
    return TopicTag.head(topic_id, label)


def _tags(result: TagResult) -> dict[str, tuple[Any, ...]]:
    """The Article fields `result` sets, besides the two versions under `pipeline`."""
    actors = tuple(
        ActorTag.trusted(
            _actor_head(a.id, a.name, a.kind, a.country),
            mentions=a.mentions,
            salience=float(round(a.salience, 4)),
            confidence=float(round(a.confidence, 4)),
            evidence=a.spans,
        )
        for a in result.actors
    )
    topics = tuple(
        TopicTag.trusted(_topic_head(t.id, t.label), float(round(t.score, 4)), t.spans) for t in result.topics
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
