"""Shared fixtures: the repository's seed folder and articles built from it."""

from __future__ import annotations

import datetime as dt
import functools
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from connectors.localstore import LocalStore
from connectors.seedio import parse_seed
from connectors.store import ArticleStore
from pipelines.normalize import normalize_record
from pipelines.search_query import search_request
from pipelines.tag_fields import apply_tags
from pipelines.tag_match import Tagger
from schemas.dedup import Decision, DedupConfig, apply_decision, fingerprint, with_keys
from schemas.records import Article, PipelineInfo
from schemas.store import SearchHit
from tests.feed_server import FeedServer

REPO = pathlib.Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
RUN_AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
PIPELINE = PipelineInfo(version="test", run_id="test-run")


SHARED_DATA = pathlib.Path(os.environ.get("WIREWATCH_SHARED_DATA") or REPO.parent / "shared" / "data")
NEWS_CAPTURES = SHARED_DATA / "feeds" / "news"
CAPTURED_AT = dt.datetime(2026, 2, 17, 12, 0, tzinfo=dt.UTC)


def news_articles() -> list[Article]:
    """The shared world-news captures (feeds of one day), parsed and normalized as the pipeline
    does; missing, they fail a test in CI and skip it elsewhere."""
    from connectors.feed_parse import parse_feed
    from schemas.feeds import FeedSpec

    if not NEWS_CAPTURES.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{NEWS_CAPTURES} is missing, and CI is set: the shared test data must be present")
        pytest.skip(f"{NEWS_CAPTURES} is absent (outside CI)")
    articles = []
    for path in sorted(NEWS_CAPTURES.glob("*.xml")):
        spec = FeedSpec(url=f"https://{path.stem}.example.com/feed.xml", name=path.stem)
        for raw in parse_feed(path.read_bytes(), {}, spec, fetched_at=CAPTURED_AT).records:
            articles.append(normalize_record(raw, ingested_at=CAPTURED_AT, pipeline=PIPELINE))
    return articles


def seed_articles(folder: pathlib.Path = SEEDS) -> list[Article]:
    """The repository's seed articles as read from `folder`, built with the pure functions."""
    articles = []
    for name in sorted(p.name for p in SEEDS.glob("*.txt")):
        path = folder / name
        raw = parse_seed(str(path), path.read_bytes(), read_at=RUN_AT)
        articles.append(normalize_record(raw, ingested_at=RUN_AT, pipeline=PIPELINE))
    return articles


def embedded_docs(path: pathlib.Path) -> dict[str, dict[str, Any]]:
    """Every article document in the embedded store at `path`, by id."""
    reader = LocalStore(str(path))
    try:
        ids = [row[0] for row in reader._db.execute("SELECT id FROM articles")]
        return {i: reader.get(i) or {} for i in ids}
    finally:
        reader.close()


def find(store: ArticleStore, text: str, **options: Any) -> list[SearchHit]:
    """`store.search` for the query `text`, as `wirewatch search` asks it (options: filters=,
    sort=, limit=, offset=)."""
    return store.search(search_request(text, **options))


def as_canonical(article: Article, tagger: Tagger | None = None) -> Article:
    """`article` as the pipeline leaves a canonical one: its dedup keys, itself as only source, and
    its tags (from the repository's registry unless another `tagger` is given)."""
    deduplicated = with_keys(
        apply_decision(article, Decision(article.id)), fingerprint(article, DedupConfig())
    )
    return apply_tags(deduplicated, (tagger or _tagger()).tag(article.title, article.body))


@functools.cache
def _tagger() -> Tagger:
    return Tagger.from_files()


@pytest.fixture(autouse=True)
def _own_user_folders(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test has its own user data and config folders: a command run without --store or
    --feeds writes there, never into the real ones nor into another test's."""
    base = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.delenv("WIREWATCH_HOME", raising=False)
    monkeypatch.delenv("WIREWATCH_FEEDS", raising=False)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A real HTTP server on 127.0.0.1 serving the feeds a test routes to it."""
    with FeedServer() as running:
        yield running


@pytest.fixture
def articles() -> list[Article]:
    return seed_articles()


@pytest.fixture(scope="session")
def es_url() -> str:
    url = os.environ.get("ELASTICSEARCH_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI is set but ELASTICSEARCH_URL is not: `make test` starts Elasticsearch")
        pytest.skip("no ELASTICSEARCH_URL: run `make test` (it starts a local Elasticsearch)")
    client = Elasticsearch(url, request_timeout=10)
    try:
        client.cluster.health(wait_for_status="yellow", timeout="30s")
    except Exception as exc:  # noqa: BLE001  (any failure here means "no usable server")
        pytest.fail(f"Elasticsearch at {url} is not usable: {exc}")
    finally:
        client.close()
    return url


@pytest.fixture(scope="module")
def es(es_url: str) -> Iterator[Elasticsearch]:
    """A client for the test Elasticsearch (see es_url: in CI a missing server fails the test)."""
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


def delete_prefix(client: Elasticsearch, prefix: str) -> None:
    """Remove the indices and templates named `<prefix>-*` that a test created."""
    quiet = client.options(ignore_status=404)
    quiet.indices.delete(index=f"{prefix}-*", expand_wildcards="all")
    for template in quiet.indices.get_index_template(name=f"{prefix}-*").get("index_templates", []):
        client.indices.delete_index_template(name=template["name"])
    for component in quiet.cluster.get_component_template(name=f"{prefix}-*").get("component_templates", []):
        client.cluster.delete_component_template(name=component["name"])
