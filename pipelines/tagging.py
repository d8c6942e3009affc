"""Tag: the actors (people, countries, organisations) and topics each article is about.

The matching itself is `pipelines.tag_match.Tagger` (pure, built once per worker in `setup()` from
the actor registry in `seeds/actors/` and the taxonomy in `seeds/topics.yaml`);
`pipelines.tag_fields.apply_tags` turns its result into the article's fields;
this module wraps both in a Beam transform.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection

import connectors.coders  # noqa: F401  (registers the record coders)
from connectors import counters
from pipelines.tag_fields import apply_tags
from pipelines.tag_match import Tagger
from pipelines.worker_gc import tune_for_throughput
from schemas.actors import DEFAULT_FOLDER
from schemas.records import Article
from schemas.topics import DEFAULT_FILE


class _TagFn(beam.DoFn):
    def __init__(self, actors_dir: str, topics_file: str) -> None:
        self._actors_dir = actors_dir
        self._topics_file = topics_file
        self._tagger: Tagger | None = None
        self._tagged = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_TAGGED)

    def setup(self) -> None:
        self._tagger = Tagger.from_files(self._actors_dir, self._topics_file)
        tune_for_throughput()  # a worker may run this stage without ever running Normalize

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
