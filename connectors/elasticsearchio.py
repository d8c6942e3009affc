"""Beam transforms that write articles and dead letters to Elasticsearch through bounded bulk calls.

Everything here is pickled into the job graph, so it holds an `EsEndpoint` (URL, user name, TLS
options, which kind of credential) and never a secret: each worker reads the password or API key
from its own environment when it opens its client in `setup()` (see connectors.es_client).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, cast

import apache_beam as beam
import orjson
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.windowed_value import WindowedValue
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import Elasticsearch

import connectors.coders  # noqa: F401  (registers the record coders)
from connectors import counters
from connectors.es_client import (
    BulkOutcome,
    EsEndpoint,
    RetryPolicy,
    bulk_write,
    call_with_retries,
    make_client,
    raise_if_exhausted,
)
from connectors.es_dedup import ElasticsearchDedupIndex
from connectors.es_indices import (
    MAX_TERM_BYTES,
    IndexNames,
    article_document,
    dead_letter_document,
    ensure_indices,
    server_url,
)
from connectors.es_outage import MAX_WAIT_S
from connectors.es_store import ElasticsearchStore
from connectors.progress import ProgressLog
from connectors.write_behind import WriteBehind
from schemas.records import Article, DeadLetter, document_json

STAGE = "write_elasticsearch"
DEFAULT_BATCH_SIZE = 500
DEFAULT_MAX_BATCH_BYTES = 10 * 1024 * 1024
_log = logging.getLogger(__name__)
_TRANSIENT = (TransportConnectionError, ConnectionTimeout)


# A worker opens a client for each step that talks to Elasticsearch (the writers, the dedup index,
# the alert store, lineage), all within seconds: the templates and aliases one of them put in place
# are not checked again by the others (each check is a dozen requests). Later opens check again.
_ENSURED_FOR_S = 60.0
_ensured: dict[tuple[str, IndexNames], float] = {}
_ensured_lock = threading.Lock()


def _ensure_indices(client: Elasticsearch, names: IndexNames, retry: RetryPolicy) -> None:
    """Install templates and aliases, waiting out a restarting or overloaded cluster within the
    same retry bound as the writes; credentials or conflicting indices fail at once."""
    key = (server_url(client), names)
    with _ensured_lock:
        if time.monotonic() - _ensured.get(key, -_ENSURED_FOR_S) < _ENSURED_FOR_S:
            return
        call_with_retries(lambda: ensure_indices(client, names), retry, "Elasticsearch not ready")
        _ensured[key] = time.monotonic()


class _EsWriteFn(beam.DoFn):
    """Shared life cycle: a client per worker, opened in setup() with the credential the worker
    finds in its environment, closed in teardown(); the templates and aliases are installed once
    per worker (idempotent, safe under races). Elements are buffered into bulk requests of
    `batch_size` and written behind the pipeline (`connectors.write_behind`): Elasticsearch indexes
    one batch while the next is prepared. A bundle ends when its documents are written."""

    def __init__(
        self,
        endpoint: EsEndpoint,
        names: IndexNames,
        retry: RetryPolicy,
        batch_size: int,
        max_batch_bytes: int,
    ):
        self._endpoint = endpoint
        self._names = names
        self._retry = retry
        self._batch_size = batch_size
        self._max_batch_bytes = max_batch_bytes
        self._client: Elasticsearch | None = None

    def setup(self) -> None:
        self._client = make_client(self._endpoint.resolve(), wait_out_outages=self._retry.wait_out_outages)
        _ensure_indices(self._client, self._names, self._retry)
        self._writer: WriteBehind[Any] = WriteBehind()

    def start_bundle(self) -> None:
        self._buffer: list[Any] = []
        self._writer.forget()

    def process(self, element: Any) -> Iterator[DeadLetter]:
        self._buffer.append(element)
        if len(self._buffer) >= self._batch_size:
            yield from self._settle(self._writer.submit(self._write_buffer()))

    def finish_bundle(self) -> Iterator[WindowedValue]:
        settled = [*self._settle(self._writer.submit(self._write_buffer()))] if self._buffer else []
        settled += self._settle(self._writer.wait())
        # Every element of the graph is in the global window.
        return (GlobalWindows.windowed_value(letter) for letter in settled)

    def teardown(self) -> None:
        if self._client is not None:
            self._writer.close()
            self._client.close()
            self._client = None

    def _write_buffer(self) -> Callable[[], Any]:
        """The bulk request of the buffered batch, to run on the writer thread; its documents are
        encoded here, on the bundle's thread, so the writer only waits on the network."""
        batch, self._buffer = self._buffer, []
        docs = self._documents(batch)
        return lambda: self._write(batch, docs)

    def _documents(self, batch: list[Any]) -> list[tuple[str, bytes | dict[str, object]]]:
        """(id, document) of each element of `batch`."""
        raise NotImplementedError

    def _write(self, batch: list[Any], docs: list[tuple[str, bytes | dict[str, object]]]) -> Any:
        """On the writer thread: the bulk request for `batch`; what `_settle` needs of its outcome."""
        raise NotImplementedError

    def _settle(self, written: Any) -> Iterator[DeadLetter]:
        """On the bundle's thread: counters, progress and the dead letters of a written batch."""
        raise NotImplementedError

    def _bulk(
        self,
        index: str,
        docs: Sequence[tuple[str, dict[str, object] | bytes]],
        op_type: Literal["create", "index"],
    ) -> list[BulkOutcome]:
        assert self._client is not None, "setup() opens the client before any element arrives"
        outcomes = self._bulk_once(index, docs, op_type)
        if self._retry.wait_out_outages:
            # A stream does not give up: what is still refused for a transient reason (a write
            # block, shards recovering after a restart) is sent again until it is taken.
            outcomes = self._until_settled(index, docs, op_type, outcomes)
        # Past the retry bound the bundle fails loudly; the runner may retry it, and because every
        # write is a `create` with a deterministic id, the retry cannot duplicate anything.
        raise_if_exhausted(outcomes, self._endpoint.url)
        return outcomes

    def _bulk_once(
        self,
        index: str,
        docs: Sequence[tuple[str, dict[str, object] | bytes]],
        op_type: Literal["create", "index"],
    ) -> list[BulkOutcome]:
        assert self._client is not None
        return bulk_write(
            self._client,
            index,
            docs,
            op_type=op_type,
            retry=self._retry,
            chunk_size=max(1, len(docs)),
            max_chunk_bytes=self._max_batch_bytes,
        )

    def _until_settled(
        self,
        index: str,
        docs: Sequence[tuple[str, dict[str, object] | bytes]],
        op_type: Literal["create", "index"],
        outcomes: list[BulkOutcome],
    ) -> list[BulkOutcome]:
        settled = list(outcomes)
        while True:
            waiting = [i for i, outcome in enumerate(settled) if outcome.status == "retry_exhausted"]
            if not waiting:
                return settled
            _log.warning(
                "Elasticsearch at %s still refuses %d documents (%s); sending them again",
                self._endpoint.url,
                len(waiting),
                settled[waiting[-1]].reason,
            )
            time.sleep(MAX_WAIT_S)  # bulk_write paused within its bound; a bound of one attempt does not
            again = self._bulk_once(index, [docs[i] for i in waiting], op_type)
            for i, outcome in zip(waiting, again, strict=True):
                settled[i] = outcome


class _WriteArticlesFn(_EsWriteFn):
    def setup(self) -> None:
        super().setup()
        self._created = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_WRITTEN)
        self._duplicate = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_DUPLICATE)
        self._rejected = Metrics.counter(counters.NAMESPACE, "es_rejected")
        self._progress = ProgressLog(_log, "articles")

    def _documents(self, batch: list[Article]) -> list[tuple[str, bytes | dict[str, object]]]:
        return [(a.id, article_source(a)) for a in batch]

    def _write(
        self, batch: list[Article], docs: list[tuple[str, bytes | dict[str, object]]]
    ) -> tuple[list[Article], list[bytes], list[BulkOutcome]]:
        sources = [cast(bytes, source) for _, source in docs]  # article_source writes bytes
        return batch, sources, self._bulk(self._names.articles_alias, docs, "create")

    def _settle(
        self, written: tuple[list[Article], list[bytes], list[BulkOutcome]] | None
    ) -> Iterator[DeadLetter]:
        if written is None:
            return
        batch, sources, outcomes = written
        now = dt.datetime.now(dt.UTC)
        for article, source, outcome in zip(batch, sources, outcomes, strict=True):
            if outcome.status == "created":
                self._created.inc()
            elif outcome.status == "duplicate":
                self._duplicate.inc()
            else:
                self._rejected.inc()
                yield _rejection(article, source, outcome, now)
        self._progress.add(len(batch))


def article_source(article: Article) -> bytes:
    """The article's document (`article_document`) as the JSON the bulk request carries, encoded
    once: the document's writer goes straight to bytes, without a dict of it on the way."""
    source = document_json(article)
    # Keyword values need cutting only if one can pass the term limit: all of them together take
    # at most the document's bytes less those of the three text fields.
    if len(source) > MAX_TERM_BYTES:
        texts = sum(len(text.encode()) for text in _texts(article))
        if len(source) - texts > MAX_TERM_BYTES:
            return orjson.dumps(article_document(article))
    return source


def _texts(article: Article) -> tuple[str, ...]:
    return (article.title, article.summary or "", article.body)


def _rejection(article: Article, source: bytes, outcome: BulkOutcome, now: dt.datetime) -> DeadLetter:
    """A document Elasticsearch refused: keep it whole, with the server's reason."""
    return DeadLetter.build(
        stage=STAGE,
        error_type=f"rejected_{outcome.http_status or 'unknown'}",
        error=outcome.reason or "rejected by Elasticsearch",
        payload=source.decode(),
        source=article.url or article.source.file or article.id,
        occurred_at=now,
        run_id=article.pipeline.run_id,
        record_id=article.id,
    )


class _WriteDeadLettersFn(_EsWriteFn):
    def setup(self) -> None:
        super().setup()
        self._written = Metrics.counter(counters.NAMESPACE, counters.DEAD_LETTERS)

    def _documents(self, batch: list[DeadLetter]) -> list[tuple[str, bytes | dict[str, object]]]:
        return [(d.id, dead_letter_document(d)) for d in batch]

    def _write(self, batch: list[DeadLetter], docs: list[tuple[str, bytes | dict[str, object]]]) -> int:
        outcomes = self._bulk(self._names.deadletters_alias, docs, "index")
        refused = [o for o in outcomes if o.status == "rejected"]
        if refused:
            # A dead letter has nowhere further to go: failing loudly is the only way not to lose it.
            raise RuntimeError(
                f"Elasticsearch refused {len(refused)} dead letters, first: {refused[0].reason}"
            )
        return len(outcomes)

    def _settle(self, written: int | None) -> Iterator[DeadLetter]:
        self._written.inc(written or 0)
        return iter(())


def _check(batch_size: int, max_batch_bytes: int) -> None:
    if not 1 <= batch_size <= 10_000:
        raise ValueError(f"batch_size must be between 1 and 10000, got {batch_size}")
    if not 64 * 1024 <= max_batch_bytes <= 100 * 1024 * 1024:
        raise ValueError(f"max_batch_bytes must be between 64 KiB and 100 MiB, got {max_batch_bytes}")


def _check_endpoint(endpoint: object) -> None:
    # EsSettings holds the secret: it must never be pickled into a graph.
    if not isinstance(endpoint, EsEndpoint):
        raise TypeError(
            f"endpoint must be an EsEndpoint (no secrets; see EsSettings.endpoint), got {endpoint!r}"
        )


class _BulkSink:
    """The checked, keyword-only constructor both sinks share."""

    _fn_class: type[_EsWriteFn]

    def __init__(
        self,
        *,
        endpoint: EsEndpoint,
        names: IndexNames,
        retry: RetryPolicy | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    ) -> None:
        super().__init__()
        _check_endpoint(endpoint)
        _check(batch_size, max_batch_bytes)
        self._fn = self._fn_class(endpoint, names, retry or RetryPolicy(), batch_size, max_batch_bytes)


class WriteToElasticsearch(_BulkSink, beam.PTransform[PCollection[Article], PCollection[DeadLetter]]):
    """Writes articles to the articles alias with `create` and their deterministic ids.

    Bounded or unbounded. At-least-once attempts, exactly-once documents: a 409 on create means
    the document is already there and counts as a duplicate. Documents the server rejects (400,
    404, mapping errors) come out as DeadLetters carrying the document and the server's reason.
    429, 5xx, write blocks (cluster_block_exception), closed indices, timeouts and refused
    connections are retried with exponential backoff and jitter up
    to the retry policy's bound; then the bundle fails with one clear line. Metrics:
    ``articles_written``, ``articles_duplicate``, ``es_rejected``.
    """

    _fn_class = _WriteArticlesFn

    def expand(self, articles: PCollection[Article]) -> PCollection[DeadLetter]:
        rejected: PCollection[DeadLetter] = articles | "BulkCreate" >> beam.ParDo(self._fn).with_output_types(
            DeadLetter
        )
        return rejected


class WriteDeadLettersToElasticsearch(_BulkSink, beam.PTransform[PCollection[DeadLetter], PCollection[None]]):
    """Writes dead letters to the dead-letter alias (`index` by id: the same input rejected again
    replaces its dead letter). Same retry bound as the article sink; a refused dead letter fails
    the bundle. Metric: ``dead_letters``."""

    _fn_class = _WriteDeadLettersFn

    def expand(self, letters: PCollection[DeadLetter]) -> PCollection[None]:
        done: PCollection[None] = letters | "BulkIndex" >> beam.ParDo(self._fn)
        return done


class ElasticsearchSink:
    """Elasticsearch as the pipeline's sink (see connectors.store.ArticleSink). DoFns hold it and
    open its stores in setup(): the secret is read there, from the worker's environment."""

    def __init__(self, endpoint: EsEndpoint, names: IndexNames, retry: RetryPolicy | None = None) -> None:
        _check_endpoint(endpoint)
        self.endpoint = endpoint
        self.names = names
        self.retry = retry

    def write_articles(self) -> WriteToElasticsearch:
        return WriteToElasticsearch(endpoint=self.endpoint, names=self.names, retry=self.retry)

    def write_dead_letters(self) -> WriteDeadLettersToElasticsearch:
        return WriteDeadLettersToElasticsearch(endpoint=self.endpoint, names=self.names, retry=self.retry)

    def _open_client(self) -> Elasticsearch:
        """A new client, with the templates and aliases in place (closed again if that fails); a
        node still starting is waited for like the writers do."""
        retry = self.retry or RetryPolicy()
        client = make_client(self.endpoint.resolve(), wait_out_outages=retry.wait_out_outages)
        try:
            _ensure_indices(client, self.names, retry)
        except BaseException:
            client.close()
            raise
        return client

    def open_state_store(self) -> ElasticsearchStore:
        return ElasticsearchStore(self._open_client(), self.names, location=self.endpoint.url)

    def open_dedup_index(self) -> ElasticsearchDedupIndex:
        return ElasticsearchDedupIndex(self._open_client(), self.names, retry=self.retry or RetryPolicy())

    def open_alert_store(self) -> ElasticsearchStore:
        return ElasticsearchStore(self._open_client(), self.names, location=self.endpoint.url)
