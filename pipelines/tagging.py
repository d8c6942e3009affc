"""Tag: the actors (people, countries, organisations) and topics each article is about.

The matching itself is `pipelines.tag_match.Tagger` (pure, built once per worker in `setup()` from
the actor registry in `seeds/actors/` and the taxonomy in `seeds/topics.yaml`); this module turns
its result into the article's fields and wraps it in a Beam transform.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection

import connectors.coders  # noqa: F401  (registers the record coders)
from connectors import counters
from pipelines.tag_match import Span, Tagger, TagResult
from schemas.actors import DEFAULT_FOLDER
from schemas.records import ActorTag, Article, Evidence, TopicTag
from schemas.topics import DEFAULT_FILE


def _evidence(spans: tuple[Span, ...]) -> tuple[Evidence, ...]:
    return tuple(Evidence(start=s.start, end=s.end, text=s.text, via=s.via, weight=s.weight) for s in spans)


def apply_tags(article: Article, result: TagResult) -> Article:
    """The article carrying `result`: tags with evidence, flat keyword lists, registry versions."""
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
    pipeline = article.pipeline.model_copy(
        update={"registry_version": result.registry_version, "taxonomy_version": result.taxonomy_version}
    )
    return article.model_copy(
        update={
            "actors": actors,
            "topics": topics,
            "actor_ids": result.actor_ids,
            "actor_names": result.actor_names,
            "countries": result.countries,
            "topic_ids": result.topic_ids,
            "pipeline": pipeline,
        }
    )


class _TagFn(beam.DoFn):
    def __init__(self, actors_dir: str, topics_file: str) -> None:
        self._actors_dir = actors_dir
        self._topics_file = topics_file
        self._tagger: Tagger | None = None
        self._tagged = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_TAGGED)

    def setup(self) -> None:
        self._tagger = Tagger.from_files(self._actors_dir, self._topics_file)

    def process(self, article: Article) -> Iterator[Article]:
        assert self._tagger is not None, "setup() builds the tagger before any element arrives"
        # Total over any text (the matcher has no failure mode on a valid Article): no dead letters.
        self._tagged.inc()
        yield apply_tags(article, self._tagger.tag(article.title, article.body))


class TagArticles(beam.PTransform[PCollection[Article], PCollection[Article]]):
    """Sets `actors`, `topics`, `actor_ids`, `actor_names`, `countries`, `topic_ids` and the
    registry/taxonomy versions on every article (element-wise; bounded or unbounded).

    The registry and taxonomy are read and the matcher built once per worker. Metric:
    ``articles_tagged``.
    """

    def __init__(
        self, *, actors_dir: str | Path = DEFAULT_FOLDER, topics_file: str | Path = DEFAULT_FILE
    ) -> None:
        super().__init__()
        self._actors_dir = str(actors_dir)
        self._topics_file = str(topics_file)

    def expand(self, articles: PCollection[Article]) -> PCollection[Article]:
        tagged: PCollection[Article] = articles | "ActorsAndTopics" >> beam.ParDo(
            _TagFn(self._actors_dir, self._topics_file)
        ).with_output_types(Article)
        return tagged
