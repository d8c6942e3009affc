"""deploy/kibana against a real Elasticsearch holding what the pipeline really stores.

Kibana cannot be installed here (only PyPI, Maven Central, npm, Debian, crates.io and the Go proxy
are reachable, and there is no Docker), so this checks what Kibana would ask of our indices: every
Lucene query of the saved objects runs as the `query_string` query Kibana sends and finds the
expected stories; every field the objects name exists in our templates; every field they
aggregate or sort on is aggregatable per `_field_caps`; every reference resolves; and each
alerting rule's query finds what its rule in seeds/alerts.yaml is about. (Kibana's time picker is
left out: the searches run over all time.)

The data: `wirewatch run` over the two seeds and, served from 127.0.0.1, three outlets carrying
copies of them (so there are duplicates and independent-source counts above 1) and three fixture
feeds (articles about other things, some without a date), one broken feed (a dead letter); the
alerts the run fired (with seeds/alerts.yaml), plus two indexed directly so there are always some.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import pathlib
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from schemas.alerts import Alert, AlertArticle, AlertKind, Severity
from schemas.feeds import FeedSpec
from tests.conftest import REPO, SEEDS, delete_prefix
from tests.feed_server import FeedServer, Response
from tests.integration.test_dedup_feeds import Outlets
from tests.integration.test_feeds_cli import new_catalog, ww

pytestmark = pytest.mark.integration

KIBANA = REPO / "deploy" / "kibana"
TEMPLATES = REPO / "connectors" / "elasticsearch_templates"
FIXTURE_FEEDS = ("rss20.xml", "atom.xml", "dates.xml", "broken_no_entries.xml")
RECORDS = "___records___"
S9, S7 = "seed:2023-11-09", "seed:2023-11-07"  # the two seed stories, by label


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kibana_build_objects", KIBANA / "build_objects.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


BUILD = _load_builder()
OBJECTS: list[dict[str, Any]] = [json.loads(line) for line in BUILD.NDJSON.read_text().splitlines()]
BY_ID = {obj["id"]: obj for obj in OBJECTS}
RULE_FILES = sorted((KIBANA / "alerting-rules").glob("*.json"))


# --- the data ------------------------------------------------------------------------------------


@dataclass
class Indexed:
    client: Elasticsearch
    prefix: str
    articles: dict[str, dict[str, Any]]  # id -> stored document
    alerts: dict[str, dict[str, Any]]  # id -> stored alert
    deadletter_ids: set[str]

    def label(self, article_id: str) -> str:
        doc = self.articles[article_id]
        if doc["source"]["kind"] == "seed":
            return f"seed:{doc['published_at'][:10]}"
        return f"{doc['source']['name']}:{doc['title']}"

    def story(self, article_id: str) -> str:
        """The label of the story an article belongs to (its canonical article)."""
        return self.label(self.articles[article_id]["duplicate_of"] or article_id)

    def canonical(self, *labels: str) -> set[str]:
        return {i for i, d in self.articles.items() if not d["duplicate_of"] and self.label(i) in labels}

    def pattern(self, data_view_pattern: str) -> str:
        """A data view's index pattern for this test's prefix."""
        return self.prefix + data_view_pattern.removeprefix("wirewatch")


def _alert(severity: Severity, rule_id: str, kind: AlertKind, key: str, latest: dict[str, Any]) -> Alert:
    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    return Alert(
        id=hashlib.sha256(f"{rule_id}\x00{key}".encode()).hexdigest()[:32],
        rule_id=rule_id,
        rule_name=f"rule {rule_id}",
        severity=severity,
        kind=kind,
        key=key,
        story_id=latest["id"] if kind == "story" else None,
        article_ids=(latest["id"],),
        latest=AlertArticle(id=latest["id"], title=latest["title"], outlet="seeds"),
        count=3 if kind == "surge" else None,
        first_fired_at=at,
        updated_at=at,
        rules_version="test",
    )


@pytest.fixture(scope="module")
def indexed(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    tmp = tmp_path_factory.mktemp("kibana")
    client = Elasticsearch(es_url, request_timeout=30)
    try:
        with FeedServer() as server:
            outlets = Outlets(server)
            specs = list(outlets.specs)
            for name in FIXTURE_FEEDS:
                body = (REPO / "tests" / "fixtures" / "feeds" / name).read_bytes()
                server.route(f"/fixtures/{name}", [Response(200, body, {"Content-Type": "application/xml"})])
                specs.append(FeedSpec(url=server.url(f"/fixtures/{name}"), name=name, allow_private=True))
            catalog = new_catalog(tmp, *specs)
            result = ww(
                "run",
                *("--seeds", str(SEEDS), "--feeds", str(catalog), "--json"),
                *("--es-url", es_url, "--es-index-prefix", prefix),
                cwd=tmp,
            )
        assert result.returncode == 0, result.stderr
        client.indices.refresh(index=f"{prefix}-*")
        hits = client.search(index=f"{prefix}-articles", size=1000)["hits"]["hits"]
        articles = {h["_id"]: h["_source"] for h in hits}
        seeds = {d["published_at"][:10]: d for d in articles.values() if d["source"]["kind"] == "seed"}
        # Two alerts of made-up rules, whether or not the run fired any of its own.
        for alert in (
            _alert("high", "test-high", "story", seeds["2023-11-09"]["id"], seeds["2023-11-09"]),
            _alert("low", "test-low", "surge", "2023-11-07T00:00:00Z", seeds["2023-11-07"]),
        ):
            client.index(index=f"{prefix}-alerts", id=alert.id, document=alert.model_dump(mode="json"))
        client.indices.refresh(index=f"{prefix}-*")
        alerts = client.search(index=f"{prefix}-alerts", size=1000)["hits"]["hits"]
        letters = client.search(index=f"{prefix}-deadletters", size=100)["hits"]["hits"]
        yield Indexed(
            client=client,
            prefix=prefix,
            articles=articles,
            alerts={h["_id"]: h["_source"] for h in alerts},
            deadletter_ids={h["_id"] for h in letters},
        )
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_the_data_has_what_the_checks_need(indexed: Indexed):
    """Copies of both seeds, unrelated feed articles, and a dead letter: else the checks prove little."""
    copies = {indexed.story(i) for i, d in indexed.articles.items() if d["duplicate_of"]}
    assert copies == {S9, S7}
    assert {indexed.label(i) for i in indexed.canonical(S9, S7)} == {S9, S7}
    assert len([d for d in indexed.articles.values() if d["source"]["kind"] == "feed"]) >= 10
    assert len(indexed.deadletter_ids) == 1


# --- the objects, as files -------------------------------------------------------------------------


def test_committed_files_are_what_the_generator_writes():
    stale = BUILD.stale_files()
    assert not stale, f"run `.venv/bin/python deploy/kibana/build_objects.py`; out of date: {stale}"


def test_ids_are_unique_and_every_reference_resolves():
    assert len(BY_ID) == len(OBJECTS)
    for obj in OBJECTS:
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), obj["id"]
        for reference in obj["references"]:
            target = BY_ID.get(reference["id"])
            assert target is not None, f"{obj['id']} refers to a missing {reference}"
            assert target["type"] == reference["type"], f"{obj['id']}: {reference}"
        attributes = obj["attributes"]
        if obj["type"] == "search":
            source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
            assert source["indexRefName"] in names
        if obj["type"] == "lens":
            layers = attributes["state"]["datasourceStates"]["formBased"]["layers"]
            assert sorted(names) == sorted(f"indexpattern-datasource-layer-{layer}" for layer in layers)
        if obj["type"] == "dashboard":
            panels = json.loads(attributes["panelsJSON"])
            assert sorted(names) == sorted(f"{p['panelIndex']}:{p['panelRefName']}" for p in panels)
            by_name = {r["name"]: r for r in obj["references"]}
            for panel in panels:
                assert by_name[f"{panel['panelIndex']}:{panel['panelRefName']}"]["type"] == panel["type"]


def test_the_overview_dashboard_has_the_panels_the_issue_asks_for():
    (board,) = [o for o in OBJECTS if o["type"] == "dashboard"]
    assert board["attributes"]["title"] == "Wirewatch overview"
    shown = {BY_ID[r["id"]]["attributes"]["title"] for r in board["references"]}
    assert shown == {
        "Articles over time by topic",
        "Top actors",
        "Countries in the news",
        "Stories by number of independent outlets",
        "Most widely carried stories",
        "Dead letters by stage",
        "Latest alerts",
        "Dead letters",
    }


def test_every_query_is_lucene():
    for obj in OBJECTS:
        for query in _queries(obj):
            assert query["language"] == "lucene", obj["id"]


# --- fields ----------------------------------------------------------------------------------------


def _template_fields(kind: str) -> set[str]:
    """Every field path of a mapping component: leaves, objects and multi-fields (title.keyword)."""
    mappings = json.loads((TEMPLATES / f"{kind}-mappings.component.json").read_text())["template"]["mappings"]
    fields: set[str] = set()

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            path = prefix + name
            fields.add(path)
            walk(spec.get("properties", {}), path + ".")
            fields.update(f"{path}.{sub}" for sub in spec.get("fields", {}))

    walk(mappings["properties"], "")
    return fields


def _lucene_fields(query: str) -> set[str]:
    """The fields a Lucene query string names (`field:…` and `_exists_:field`)."""
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
    exists = set(re.findall(r"_exists_:([\w.]+)", unquoted))
    named = set(re.findall(r"(?:^|[\s(+!-])([A-Za-z_][\w.]*)\s*:", unquoted)) - {"_exists_"}
    return exists | named


def _queries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    attributes = obj["attributes"]
    if obj["type"] in ("search", "dashboard"):
        source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["filter"] == [], "filters are not checked; write them into the query"
        return [source["query"]]
    if obj["type"] == "lens":
        state = attributes["state"]
        assert state["filters"] == [], "filters are not checked; write them into the query"
        columns = _lens_columns(obj)
        return [state["query"], *(c["filter"] for c in columns if "filter" in c)]
    return []


def _lens_columns(obj: dict[str, Any]) -> list[dict[str, Any]]:
    layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    return [column for layer in layers.values() for column in layer["columns"].values()]


def _data_view(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["type"] == "index-pattern":
        return obj
    (reference,) = {r["id"] for r in obj["references"] if r["type"] == "index-pattern"}
    return BY_ID[reference]


@dataclass(frozen=True)
class FieldUse:
    data_view: str  # the data view's index pattern, e.g. wirewatch-articles*
    field: str
    aggregated: bool  # sorted, bucketed or aggregated on: needs doc values
    where: str


def _field_uses() -> list[FieldUse]:
    uses: list[FieldUse] = []
    for obj in OBJECTS:
        attributes = obj["attributes"]
        if obj["type"] == "dashboard":
            continue  # no data view of its own; its (empty) query is checked for every view below
        view = _data_view(obj)["attributes"]["title"]

        def use(field: str, aggregated: bool, where: str, view: str = view, obj_id: str = obj["id"]) -> None:
            uses.append(FieldUse(view, field, aggregated, f"{obj_id}: {where}"))

        for query in _queries(obj):
            for field in _lucene_fields(query["query"]):
                use(field, False, f"query {query['query']!r}")
        if obj["type"] == "index-pattern":
            use(attributes["timeFieldName"], True, "time field")
            for key in ("fieldAttrs", "fieldFormatMap"):
                for field in json.loads(attributes[key]):
                    use(field, False, key)
            for source_filter in json.loads(attributes["sourceFilters"]):
                use(source_filter["value"], False, "sourceFilters")
        elif obj["type"] == "search":
            for column in attributes["columns"]:
                use(column, False, "column")
            for field, _direction in attributes["sort"]:
                use(field, True, "sort")
        elif obj["type"] == "lens":
            for column in _lens_columns(obj):
                if column["sourceField"] != RECORDS:
                    use(column["sourceField"], True, f"{column['operationType']} column")
    return uses


FIELD_USES = _field_uses()


def test_the_checks_see_the_fields_the_objects_use():
    seen = {(u.data_view, u.field) for u in FIELD_USES}
    for expected in [
        ("wirewatch-articles*", "published_at"),
        ("wirewatch-articles*", "topic_ids"),
        ("wirewatch-articles*", "actor_names"),
        ("wirewatch-articles*", "countries"),
        ("wirewatch-articles*", "independent_source_count"),
        ("wirewatch-articles*", "duplicate_of"),
        ("wirewatch-articles*", "title.keyword"),
        ("wirewatch-alerts*", "first_fired_at"),
        ("wirewatch-alerts*", "latest.title"),
        ("wirewatch-deadletters*", "occurred_at"),
    ]:
        assert expected in seen


def test_every_field_the_objects_name_is_in_our_templates():
    kinds = {
        "wirewatch-articles*": "articles",
        "wirewatch-alerts*": "alerts",
        "wirewatch-deadletters*": "deadletters",
    }
    assert {u.data_view for u in FIELD_USES} == set(kinds)
    missing = [u for u in FIELD_USES if u.field not in _template_fields(kinds[u.data_view])]
    assert not missing, "\n".join(f"{u.data_view} has no field {u.field} ({u.where})" for u in missing)


def test_aggregated_sorted_and_time_fields_are_aggregatable(indexed: Indexed):
    for view in sorted({u.data_view for u in FIELD_USES}):
        needed = {u.field for u in FIELD_USES if u.data_view == view and u.aggregated}
        caps = indexed.client.field_caps(index=indexed.pattern(view), fields=sorted(needed))["fields"]
        for field in sorted(needed):
            assert field in caps, f"{view}: no field {field} in the real index"
            assert all(cap["aggregatable"] for cap in caps[field].values()), f"{view}: {field} {caps[field]}"


def test_every_document_has_its_data_views_time_field(indexed: Indexed):
    for view in [o for o in OBJECTS if o["type"] == "index-pattern"]:
        pattern = indexed.pattern(view["attributes"]["title"])
        time_field = view["attributes"]["timeFieldName"]
        caps = indexed.client.field_caps(index=pattern, fields=[time_field])["fields"][time_field]
        assert set(caps) == {"date"}, f"{pattern}: {time_field} is {caps}"
        total = indexed.client.count(index=pattern)["count"]
        missing = indexed.client.count(
            index=pattern, query={"bool": {"must_not": {"exists": {"field": time_field}}}}
        )["count"]
        assert total > 0
        assert missing == 0, f"{missing} of {total} documents in {pattern} lack {time_field}"


def test_feed_items_without_a_date_still_have_published_at(indexed: Indexed):
    fetched = [d for d in indexed.articles.values() if d["date_source"] == "fetched"]
    assert fetched  # 'No date at all' and friends: dated by their fetch
    assert all(d["published_at"] for d in fetched)


def test_the_region_map_joins_alpha3_codes(indexed: Indexed):
    (region,) = [o for o in OBJECTS if o["attributes"].get("visualizationType") == "lnsChoropleth"]
    visualization = region["attributes"]["state"]["visualization"]
    assert (visualization["emsLayerId"], visualization["emsField"]) == ("world_countries", "iso3")
    columns = region["attributes"]["state"]["datasourceStates"]["formBased"]["layers"][
        visualization["layerId"]
    ]
    assert columns["columns"][visualization["regionAccessor"]]["sourceField"] == "countries"
    buckets = indexed.client.search(
        index=indexed.pattern("wirewatch-articles*"),
        size=0,
        aggs={"countries": {"terms": {"field": "countries", "size": 500}}},
    )["aggregations"]["countries"]["buckets"]
    codes = {b["key"] for b in buckets}
    assert {"PRK", "RUS", "KOR", "USA"} <= codes
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in codes)


# --- queries against the real index ------------------------------------------------------------------


def _lucene(indexed: Indexed, view: str, query: str) -> set[str]:
    """Hit ids of `query` as Kibana sends a Lucene query (an empty one matches everything)."""
    dsl = {"query_string": {"query": query, "analyze_wildcard": True}} if query.strip() else {"match_all": {}}
    hits = indexed.client.search(index=indexed.pattern(view), query=dsl, size=1000)["hits"]["hits"]
    return {h["_id"] for h in hits}


def test_every_lucene_query_runs_on_its_data_view(indexed: Indexed):
    for obj in OBJECTS:
        views = (
            [_data_view(obj)["attributes"]["title"]]
            if obj["type"] != "dashboard"
            else [v["attributes"]["title"] for v in OBJECTS if v["type"] == "index-pattern"]
        )
        for query in _queries(obj):
            for view in views:
                _lucene(indexed, view, query["query"])  # a query Elasticsearch refuses raises here


# Saved search id -> the stories (labels of canonical articles) it must find, and whether its hits
# are exactly those canonical articles (else: any articles of those stories, copies included).
STORIES: dict[str, tuple[set[str], bool]] = {
    "wirewatch-search-dprk-russia-military": ({S9}, False),
    "wirewatch-search-russia-sanctions": ({S9, S7}, False),
    "wirewatch-search-launches": ({S9}, False),
    "wirewatch-search-korea-nuclear": ({S7}, False),
    "wirewatch-search-widely-carried": ({S9, S7}, True),
}


def test_every_saved_search_has_an_expectation():
    searches = {o["id"] for o in OBJECTS if o["type"] == "search"}
    others = {
        "wirewatch-search-canonical",
        "wirewatch-search-latest-alerts",
        "wirewatch-search-severe-alerts",
        "wirewatch-search-deadletters",
    }
    assert searches == set(STORIES) | others


def _search(indexed: Indexed, search_id: str) -> set[str]:
    obj = BY_ID[search_id]
    source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    return _lucene(indexed, _data_view(obj)["attributes"]["title"], source["query"]["query"])


@pytest.mark.parametrize("search_id", sorted(STORIES))
def test_article_search_finds_its_stories(indexed: Indexed, search_id: str):
    expected, canonical_only = STORIES[search_id]
    hits = _search(indexed, search_id)
    assert {indexed.story(i) for i in hits} == expected
    assert indexed.canonical(*expected) <= hits
    assert not indexed.canonical(*({S9, S7} - expected)) & hits  # and not the other seed
    if canonical_only:
        assert hits == indexed.canonical(*expected)


def test_dprk_russia_military_is_the_november_9_seed_not_the_november_7_one(indexed: Indexed):
    hits = _search(indexed, "wirewatch-search-dprk-russia-military")
    assert indexed.canonical(S9) <= hits
    assert not indexed.canonical(S7) & hits


def test_canonical_articles_only_leaves_out_every_copy(indexed: Indexed):
    hits = _search(indexed, "wirewatch-search-canonical")
    copies = {i for i, d in indexed.articles.items() if d["duplicate_of"]}
    assert len(copies) >= 4
    assert hits == set(indexed.articles) - copies


def test_alert_searches(indexed: Indexed):
    assert _search(indexed, "wirewatch-search-latest-alerts") == set(indexed.alerts)
    severe = {i for i, a in indexed.alerts.items() if a["severity"] in ("high", "critical")}
    by_rule = {a["rule_id"]: i for i, a in indexed.alerts.items()}
    assert by_rule["test-high"] in severe
    assert by_rule["test-low"] not in severe
    assert _search(indexed, "wirewatch-search-severe-alerts") == severe


def test_dead_letter_search(indexed: Indexed):
    assert _search(indexed, "wirewatch-search-deadletters") == indexed.deadletter_ids


# --- alerting rules ----------------------------------------------------------------------------------

# Rule id -> the canonical stories its Elasticsearch query must find (the time window left out).
RULE_STORIES = {
    "dprk-russia-arms": {S9},
    "dprk-satellite-launch": {S9},
    "russia-sanctions-confirmed": {S9, S7},  # both have 2+ independent outlets in this data
    "korean-peninsula-nuclear-burst": {S7},
}


def _dsl_fields(node: Any) -> set[str]:
    """The fields a query DSL object names."""
    fields: set[str] = set()
    if isinstance(node, list):
        for item in node:
            fields |= _dsl_fields(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("term", "terms", "range", "match", "match_phrase", "match_phrase_prefix"):
                fields |= set(value)
            elif key == "exists":
                fields.add(value["field"])
            elif key == "multi_match":
                fields |= set(value["fields"])
            elif key == "query_string":
                fields |= _lucene_fields(value["query"])
            else:
                fields |= _dsl_fields(value)
    return fields


def test_rules_are_the_expressible_example_rules():
    assert {p.stem for p in RULE_FILES} == set(RULE_STORIES)
    _, skipped = BUILD.render_rules()
    assert set(skipped) == {"kim-jong-un-surge"}


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem)
def test_rule_is_a_valid_es_query_rule(path: pathlib.Path):
    body = json.loads(path.read_text())
    assert set(body) <= {
        "name",
        "tags",
        "rule_type_id",
        "consumer",
        "schedule",
        "enabled",
        "params",
        "actions",
    }
    assert (body["rule_type_id"], body["consumer"]) == (".es-query", "stackAlerts")
    params = body["params"]
    # What Kibana's ES query rule type validates (stack_alerts es_query rule_type_params).
    assert params["searchType"] == "esQuery"
    assert params["index"] == ["wirewatch-articles"]
    assert "query" in json.loads(params["esQuery"])
    assert params["thresholdComparator"] in {">", ">=", "<", "<=", "between", "notBetween"}
    assert 1 <= len(params["threshold"]) <= 2
    assert params["timeWindowUnit"] in {"s", "m", "h", "d"}
    assert params["timeWindowSize"] >= 1
    assert params["aggType"] == "count"
    assert params["groupBy"] == "all"
    assert 0 <= params["size"] <= 10000
    fields = _dsl_fields(json.loads(params["esQuery"])) | {params["timeField"]}
    assert fields <= _template_fields("articles"), fields - _template_fields("articles")


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem)
def test_rule_query_finds_its_stories(indexed: Indexed, path: pathlib.Path):
    params = json.loads(path.read_text())["params"]
    time_field = params["timeField"]
    caps = indexed.client.field_caps(index=indexed.pattern("wirewatch-articles*"), fields=[time_field])
    assert set(caps["fields"][time_field]) == {"date"}
    query = json.loads(params["esQuery"])["query"]
    hits = indexed.client.search(index=f"{indexed.prefix}-articles", query=query, size=1000)["hits"]["hits"]
    assert {h["_id"] for h in hits} == indexed.canonical(*RULE_STORIES[path.stem])
