"""Index names, templates and documents for Elasticsearch, without a server."""

from __future__ import annotations

import datetime as dt
import json
import socket
import types
import typing
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from pydantic import BaseModel

from connectors import es_indices
from connectors.es_indices import (
    MAX_TERM_BYTES,
    IndexNames,
    article_document,
    dead_letter_document,
    ensure_indices,
    load_templates,
    truncate_utf8,
)
from connectors.es_store import ElasticsearchStore
from connectors.store import StoreError
from schemas.alerts import Alert
from schemas.records import Article, DeadLetter, PipelineInfo, Source
from tests.conftest import find

NAMES = IndexNames()
TEMPLATES = load_templates(NAMES)


def _mapping(template: str) -> dict[str, Any]:
    mappings: dict[str, Any] = TEMPLATES[f"wirewatch-{template}"]["template"]["mappings"]
    return mappings


ARTICLE_PROPERTIES = _mapping("articles-mappings")["properties"]
DEAD_LETTER_PROPERTIES = _mapping("deadletters-mappings")["properties"]

# The whole article mapping, flattened: a change to the mapping must be a deliberate change here.
EXPECTED_ARTICLE_MAPPING = {
    "id": "keyword",
    "url": "keyword",
    "canonical_url": "keyword",
    "source.kind": "keyword",
    "source.name": "keyword",
    "source.feed_url": "keyword",
    "source.file": "keyword",
    "title": "text",
    "title.keyword": "keyword",
    "summary": "text",
    "body": "text",
    "body_source": "keyword",
    "page.status": "keyword",
    "page.reason": "keyword",
    "page.url": "keyword",
    "page.final_url": "keyword",
    "page.http_status": "integer",
    "page.word_count": "integer",
    "page.extractor": "keyword",
    "page.fetched_at": "date",
    "published_at": "date",
    "date_source": "keyword",
    "date_rejected": "keyword",
    "authors": "keyword",
    "categories": "keyword",
    "media_urls": "keyword",
    "ingested_at": "date",
    "language": "keyword",
    "word_count": "integer",
    "content_hash": "keyword",
    "pipeline.version": "keyword",
    "pipeline.run_id": "keyword",
    "pipeline.registry_version": "keyword",
    "pipeline.taxonomy_version": "keyword",
    "guid": "keyword",
    # Deduplication (schemas.dedup): lookup keys, the copy's pointer and the canonical's lineage.
    "dedup_keys": "keyword",
    "near_dup_keys": "keyword",
    "near_dup_signature": "binary",
    "near_dup_ladder": "binary",
    "duplicate_of": "keyword",
    "duplicate_reason": "keyword",
    "similarity": "float",
    "sources_seen.article_id": "keyword",
    "sources_seen.outlet": "keyword",
    "sources_seen.url": "keyword",
    "sources_seen.feed_url": "keyword",
    "sources_seen.published_at": "date",
    "sources_seen.seen_at": "date",
    "first_seen": "date",
    "source_count": "integer",
    "independent_source_count": "integer",
    # Reserved for the stages that come later (tagging, alerts); see ../shared/design.md.
    "actors.id": "keyword",
    "actors.name": "keyword",
    "actors.kind": "keyword",
    "actors.country": "keyword",
    "actors.mentions": "integer",
    "actors.salience": "float",
    "actors.confidence": "float",
    # Kept in _source for display, not indexed (since version 7): ~66 spans an article cost
    # Elasticsearch more CPU than the rest of the document, and nothing queries them.
    "actors.evidence": "object (not indexed)",
    "topics.evidence": "object (not indexed)",
    "topics.id": "keyword",
    "topics.label": "keyword",
    "topics.score": "float",
    "actor_ids": "keyword",
    "actor_names": "keyword",
    "countries": "keyword",
    "topic_ids": "keyword",
    "alerts": "keyword",
}

# Which Elasticsearch types can hold a value of each Python type.
ES_TYPES: dict[type, set[str]] = {
    str: {"keyword", "text", "binary"},
    dt.datetime: {"date"},
    int: {"integer", "long"},
    float: {"float", "double"},
    bool: {"boolean"},
}


def _flatten(properties: dict[str, Any], path: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, spec in properties.items():
        if "properties" in spec:
            flat.update(_flatten(spec["properties"], f"{path}{name}."))
        elif spec.get("enabled") is False:
            flat[f"{path}{name}"] = f"{spec['type']} (not indexed)"
        else:
            flat[f"{path}{name}"] = spec["type"]
        for sub, sub_spec in spec.get("fields", {}).items():
            flat[f"{path}{name}.{sub}"] = sub_spec["type"]
    return flat


def _leaf_types(annotation: Any) -> set[type]:
    """The value types a field annotation allows: `str | None` -> {str}, `Literal["a"]` -> {str}."""
    if typing.get_origin(annotation) is typing.Literal:
        return {type(value) for value in typing.get_args(annotation)}
    if isinstance(annotation, type) and annotation is not types.NoneType:
        return {annotation}
    return {leaf for arg in typing.get_args(annotation) for leaf in _leaf_types(arg)}


def _is_record(leaf: type) -> bool:
    """A model, or a named tuple written as an object (schemas.records.Evidence)."""
    return issubclass(leaf, BaseModel) or (issubclass(leaf, tuple) and hasattr(leaf, "_fields"))


def _field_types(model: type) -> dict[str, Any]:
    if issubclass(model, BaseModel):
        return {name: field.annotation for name, field in model.model_fields.items()}
    return typing.get_type_hints(model)


def _mapping_problems(model: type, properties: dict[str, Any], path: str = "") -> list[str]:
    """Every field of `model` (nested records walked) that is unmapped or mapped with a wrong type."""
    problems = []
    for name, annotation in _field_types(model).items():
        spec = properties.get(name)
        leaves = _leaf_types(annotation)
        models = [leaf for leaf in leaves if _is_record(leaf)]
        if spec is None:
            problems.append(f"{path}{name}: not mapped")
        elif spec.get("enabled") is False:
            continue  # deliberately kept in _source only: no type to fit
        elif models:
            for nested in models:
                problems += _mapping_problems(nested, spec.get("properties", {}), f"{path}{name}.")
        elif not all(spec.get("type") in ES_TYPES.get(leaf, set()) for leaf in leaves):
            problems.append(
                f"{path}{name}: {sorted(t.__name__ for t in leaves)} mapped as {spec.get('type')}"
            )
    return problems


def _article(**changes: Any) -> Article:
    fields: dict[str, Any] = {
        "id": "0123456789abcdef0123456789abcdef",
        "source": Source(kind="feed", name="Example Wire", feed_url="https://example.com/rss"),
        "title": "A title",
        "body": "A body.",
        "ingested_at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        "word_count": 2,
        "content_hash": "ab" * 32,
        "pipeline": PipelineInfo(version="test", run_id="run-1"),
    }
    return Article(**{**fields, **changes})


def _closed_port() -> int:
    """A local port nobody listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- names ----------------------------------------------------------------------------------


def test_names_derive_from_the_prefix():
    names = IndexNames("acme-2")
    assert (names.articles_alias, names.articles_first_index) == ("acme-2-articles", "acme-2-articles-000001")
    assert (names.deadletters_alias, names.deadletters_first_index) == (
        "acme-2-deadletters",
        "acme-2-deadletters-000001",
    )
    assert (names.alerts_alias, names.alerts_first_index) == ("acme-2-alerts", "acme-2-alerts-000001")
    assert names.component_templates == (
        "acme-2-settings",
        "acme-2-articles-mappings",
        "acme-2-deadletters-mappings",
        "acme-2-alerts-mappings",
    )
    assert names.index_templates == ("acme-2-articles", "acme-2-deadletters", "acme-2-alerts")
    assert IndexNames().prefix == "wirewatch"


@pytest.mark.parametrize("prefix", ["", "Wirewatch", "1st", "-ww", "ww_test", "ww test", "ww.x", "w" * 101])
def test_prefixes_elasticsearch_would_refuse_are_rejected(prefix: str):
    with pytest.raises(ValueError, match="index prefix"):
        IndexNames(prefix)


# --- templates ------------------------------------------------------------------------------


def test_templates_load_with_the_prefix_substituted():
    names = IndexNames("acme")
    templates = load_templates(names)
    assert list(templates) == [*names.component_templates, *names.index_templates]
    assert "{{" not in json.dumps(templates)
    assert templates["acme-articles"]["index_patterns"] == ["acme-articles-*"]
    assert templates["acme-deadletters"]["index_patterns"] == ["acme-deadletters-*"]
    assert templates["acme-articles"]["composed_of"] == ["acme-settings", "acme-articles-mappings"]
    assert templates["acme-deadletters"]["composed_of"] == ["acme-settings", "acme-deadletters-mappings"]


def test_every_template_carries_a_version_and_mappings_record_it():
    for name, body in TEMPLATES.items():
        assert isinstance(body["_meta"]["template_version"], int), name
        assert body["_meta"]["template_version"] >= 1, name
        mappings = body.get("template", {}).get("mappings")
        if mappings:
            # The index keeps this copy, so `es status` can tell which version built it.
            assert mappings["_meta"]["template_version"] == body["_meta"]["template_version"], name


def test_local_settings_fit_a_single_node():
    settings = TEMPLATES["wirewatch-settings"]["template"]["settings"]["index"]
    assert settings == {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"}


def test_article_mapping_is_exactly_the_reviewed_one():
    assert _mapping("articles-mappings")["dynamic"] is False
    assert _flatten(ARTICLE_PROPERTIES) == EXPECTED_ARTICLE_MAPPING
    # Version 3 added the dedup fields, 5 the kept signature, 6 date_rejected, 7 stopped indexing the
    # evidence spans, 8 added body_source and page, 9 the lead ladder; a mapping change needs a new
    # version, or ensure_indices never adds it to the indices that exist (es_indices._upgrade_mappings).
    assert TEMPLATES["wirewatch-articles-mappings"]["_meta"]["template_version"] == 9


def test_every_article_field_is_mapped_with_a_fitting_type():
    assert _mapping_problems(Article, ARTICLE_PROPERTIES) == []


def test_every_dead_letter_field_is_mapped_with_a_fitting_type():
    assert _mapping_problems(DeadLetter, DEAD_LETTER_PROPERTIES) == []


def test_every_alert_field_is_mapped_with_a_fitting_type():
    assert _mapping_problems(Alert, _mapping("alerts-mappings")["properties"]) == []


def test_the_field_walk_notices_an_unmapped_or_mistyped_field():
    # Guards the guard: the two tests above must be able to fail.
    broken = {name: spec for name, spec in ARTICLE_PROPERTIES.items() if name != "word_count"}
    broken["published_at"] = {"type": "keyword"}
    broken["source"] = {"properties": {"kind": {"type": "keyword"}}}
    assert sorted(_mapping_problems(Article, broken)) == [
        "published_at: ['datetime'] mapped as keyword",
        "source.feed_url: not mapped",
        "source.file: not mapped",
        "source.name: not mapped",
        "word_count: not mapped",
    ]


def test_dead_letter_payload_is_kept_but_never_indexed():
    assert _mapping("deadletters-mappings")["dynamic"] is False
    assert DEAD_LETTER_PROPERTIES["payload"] == {"type": "text", "index": False}
    assert DEAD_LETTER_PROPERTIES["occurred_at"]["type"] == "date"
    assert {DEAD_LETTER_PROPERTIES[f]["type"] for f in ("stage", "error_type", "source", "run_id")} == {
        "keyword"
    }


def test_only_the_standard_analyzer_is_used():
    # The local test distribution has no analysis-common: any other analyzer fails to install.
    analyzers = {
        spec["analyzer"]
        for properties in (ARTICLE_PROPERTIES, DEAD_LETTER_PROPERTIES)
        for spec in properties.values()
        if "analyzer" in spec
    }
    assert analyzers == {"standard"}


# --- documents ------------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["é", "€", "😀"])
@pytest.mark.parametrize("lead", [0, 1, 2, 3])
def test_truncation_never_splits_a_character(char: str, lead: int):
    value = "x" * lead + char * (MAX_TERM_BYTES // len(char.encode()) + 10)
    cut = truncate_utf8(value)
    size = len(cut.encode("utf-8"))
    assert MAX_TERM_BYTES - len(char.encode()) < size <= MAX_TERM_BYTES
    assert value.startswith(cut)


def test_truncation_leaves_values_within_the_limit_alone():
    exact = "é" * (MAX_TERM_BYTES // 2)
    assert truncate_utf8(exact) is exact
    assert truncate_utf8("") == ""


def test_ordinary_articles_are_their_json_dump(articles: list[Article]):
    for article in articles:
        assert article_document(article) == article.model_dump(mode="json")


def test_oversized_keywords_are_cut_and_text_is_not():
    body = "word " * 20_000
    article = _article(
        url="https://example.com/" + "😀" * 9_000,
        source=Source(kind="seed", name="é" * 20_000, file="x.txt"),
        title="t" * 40_000,
        body=body,
    )
    doc = article_document(article)
    expected = article.model_dump(mode="json")
    assert len(doc["url"].encode()) == MAX_TERM_BYTES - 2  # 20 ASCII bytes, then whole 4-byte emoji
    assert doc["source"]["name"] == "é" * (MAX_TERM_BYTES // 2)
    assert doc["source"]["file"] == "x.txt"
    # Text fields have no term limit (the tokenizer splits long tokens; title.keyword has ignore_above).
    assert (doc["body"], doc["title"]) == (body, "t" * 40_000)
    assert {k: v for k, v in doc.items() if k not in ("url", "source")} == {
        k: v for k, v in expected.items() if k not in ("url", "source")
    }


def test_keyword_lists_and_lists_of_objects_are_cut_too():
    # Reserved fields (actor_ids, actors, ...) are not on Article yet; the walk must already cover them.
    tree = es_indices._keyword_tree(ARTICLE_PROPERTIES)
    long = "€" * 20_000
    doc: dict[str, Any] = {
        "actor_ids": ["Q1", long],
        "actors": [{"id": long, "name": "Kim", "mentions": 3}],
        "topics": [{"id": "space", "score": 0.5}],
        "body": long,
    }
    cut = es_indices._truncate_keywords(doc, tree)
    assert cut["actor_ids"] == ["Q1", "€" * (MAX_TERM_BYTES // 3)]
    assert cut["actors"] == [{"id": "€" * (MAX_TERM_BYTES // 3), "name": "Kim", "mentions": 3}]
    assert cut["topics"] == doc["topics"]
    assert cut["body"] == long
    assert doc["actor_ids"][1] == long  # the input is left as it was


def test_partial_article_documents_cut_their_keywords_too():
    long_url = "https://example.com/" + "é" * 20_000
    fields: dict[str, Any] = {
        "sources_seen": [{"article_id": "ab" * 16, "outlet": "example.com", "url": long_url}],
        "source_count": 1,
    }
    doc = es_indices.article_fields_document(fields)
    assert len(doc["sources_seen"][0]["url"].encode()) <= MAX_TERM_BYTES
    assert long_url.startswith(doc["sources_seen"][0]["url"])
    assert {k: v for k, v in doc["sources_seen"][0].items() if k != "url"} == {
        "article_id": "ab" * 16,
        "outlet": "example.com",
    }
    assert doc["source_count"] == 1
    assert fields["sources_seen"][0]["url"] == long_url  # the input is left as it was


def test_dead_letter_documents_cut_their_keywords():
    letter = DeadLetter.build(
        stage="read_seed",
        error="bad date",
        error_type="BadRecordError",
        payload="p" * 70_000,
        source="seeds/" + "é" * 20_000,
        occurred_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
    )
    doc = dead_letter_document(letter)
    assert len(doc["source"].encode()) <= MAX_TERM_BYTES
    assert doc["payload"] == letter.payload  # not indexed, so never cut
    assert {k: v for k, v in doc.items() if k != "source"} == {
        k: v for k, v in letter.model_dump(mode="json").items() if k != "source"
    }


# --- errors ---------------------------------------------------------------------------------


def test_an_unreachable_server_is_one_store_error_line():
    url = f"http://127.0.0.1:{_closed_port()}"
    client = Elasticsearch(url, max_retries=0, request_timeout=5)
    with pytest.raises(StoreError, match=f"^cannot reach Elasticsearch at {url}: ") as caught:
        ensure_indices(client, NAMES)
    assert "\n" not in str(caught.value)

    store = ElasticsearchStore(client, NAMES, location=url)
    for read in (lambda: find(store, "putin", limit=3), store.stats, lambda: store.dead_letters(limit=3)):
        with pytest.raises(StoreError, match=f"^cannot reach Elasticsearch at {url}: "):
            read()
    store.close()
