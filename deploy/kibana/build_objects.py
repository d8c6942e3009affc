"""Write Wirewatch's Kibana saved objects (wirewatch.ndjson) and alerting rules (alerting-rules/*.json).

The committed files are generated from this file; edit here, then regenerate (a test compares them):

    .venv/bin/python deploy/kibana/build_objects.py           # rewrite the files
    .venv/bin/python deploy/kibana/build_objects.py --check   # exit 1 if a committed file differs

Every field named here must exist in connectors/elasticsearch_templates/*-mappings.component.json;
tests/integration/test_kibana_objects.py checks that, and runs every query against real data.
The saved objects use the Kibana 8.x export format (Kibana 8.11 or newer, and 9.x, import them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from schemas.alerts import AlertRule, Conditions, load_rules

HERE = Path(__file__).resolve().parent
NDJSON = HERE / "wirewatch.ndjson"
RULES_DIR = HERE / "alerting-rules"
ALERT_RULES_FILE = HERE.parent.parent / "seeds" / "alerts.yaml"

Obj = dict[str, Any]

# The saved-object migration versions of an 8.x export: Kibana migrates the objects from there on.
CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSION = {
    "index-pattern": "8.0.0",
    "search": "8.0.0",
    "lens": "8.9.0",
    "dashboard": "8.9.0",
}
PANEL_VERSION = "8.9.0"

CANONICAL = "NOT _exists_:duplicate_of"  # copies folded by deduplication carry duplicate_of
RECORDS = "___records___"  # Lens' name for "count documents", not a field


def lucene(query: str) -> Obj:
    return {"query": query, "language": "lucene"}


def _json(value: Any) -> str:
    """Kibana stores some attributes as JSON text; sorted keys keep the output byte-stable."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def saved_object(kind: str, object_id: str, attributes: Obj, references: list[Obj] | None = None) -> Obj:
    return {
        "type": kind,
        "id": object_id,
        "attributes": attributes,
        "references": references or [],
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSION[kind],
        "managed": False,
    }


def ref(name: str, kind: str, object_id: str) -> Obj:
    return {"name": name, "type": kind, "id": object_id}


# --- data views --------------------------------------------------------------------------------
# Time fields, each present on every document of its index:
# - articles: published_at. A seed file without a date is a dead letter, and a feed item without
#   a usable date gets its fetch time (date_source "fetched"), so every stored article has one;
#   and it is when the news happened, so a backfill of 2023 articles does not pile up on the day
#   it was ingested. (ingested_at, arrival time, is what the alerting rules watch.)
# - alerts: first_fired_at (required by schemas.alerts.Alert). updated_at moves whenever a copy of
#   the story arrives, which would pull an old alert into "the last 15 minutes".
# - dead letters: occurred_at (required by schemas.records.DeadLetter).

ARTICLES, ALERTS, DEADLETTERS = "wirewatch-articles", "wirewatch-alerts", "wirewatch-deadletters"


def data_view(
    object_id: str,
    name: str,
    time_field: str,
    *,
    labels: dict[str, str],
    url_fields: tuple[str, ...] = (),
    hidden: tuple[str, ...] = (),
) -> Obj:
    """A data view over `<alias>*`: the alias and the indices behind it (rolled over or not)."""
    return saved_object(
        "index-pattern",
        object_id,
        {
            "title": f"{object_id}*",
            "name": name,
            "timeFieldName": time_field,
            "fieldAttrs": _json({field: {"customLabel": label} for field, label in labels.items()}),
            "fieldFormatMap": _json({field: {"id": "url"} for field in url_fields}),
            # Hidden in Discover's document view: long, machine-only or unindexed fields.
            "sourceFilters": _json([{"value": field} for field in hidden]),
            "runtimeFieldMap": "{}",
            "fields": "[]",
            "typeMeta": "{}",
        },
    )


DATA_VIEWS = [
    data_view(
        ARTICLES,
        "Wirewatch articles",
        "published_at",
        labels={
            "source.name": "Source",
            "actor_names": "Actors",
            "actor_ids": "Actor ids (Wikidata)",
            "topic_ids": "Topics",
            "countries": "Countries (ISO 3166-1 alpha-3)",
            "source_count": "Sightings",
            "independent_source_count": "Independent outlets",
            "duplicate_of": "Copy of",
        },
        url_fields=("url", "canonical_url"),
        hidden=("dedup_keys", "near_dup_keys", "actors.evidence", "topics.evidence"),
    ),
    data_view(
        ALERTS,
        "Wirewatch alerts",
        "first_fired_at",
        labels={
            "rule_name": "Rule",
            "latest.title": "Latest article",
            "latest.outlet": "Outlet",
            "independent_source_count": "Independent outlets",
        },
        url_fields=("latest.url",),
    ),
    data_view(
        DEADLETTERS,
        "Wirewatch dead letters",
        "occurred_at",
        labels={"error_type": "Error type", "error": "Reason"},
        hidden=("payload",),
    ),
]


# --- saved searches (Lucene syntax) ---------------------------------------------------------------

ARTICLE_COLUMNS = [
    "title",
    "source.name",
    "actor_names",
    "topic_ids",
    "countries",
    "independent_source_count",
]


def saved_search(
    object_id: str,
    title: str,
    description: str,
    view: str,
    query: str,
    columns: list[str],
    sort: list[list[str]],
) -> Obj:
    search_source = {
        "query": lucene(query),
        "filter": [],
        "highlightAll": True,
        "version": True,
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    return saved_object(
        "search",
        object_id,
        {
            "title": title,
            "description": description,
            "columns": columns,
            "sort": sort,
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "timeRestore": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": _json(search_source)},
        },
        [ref("kibanaSavedObjectMeta.searchSourceJSON.index", "index-pattern", view)],
    )


NEWEST_ARTICLES = [["published_at", "desc"]]

LATEST_ALERTS = saved_search(
    "wirewatch-search-latest-alerts",
    "Latest alerts",
    "Every alert, newest first.",
    ALERTS,
    "*",
    [
        "severity",
        "rule_name",
        "kind",
        "latest.title",
        "latest.outlet",
        "article_count",
        "independent_source_count",
        "updated_at",
    ],
    [["first_fired_at", "desc"]],
)
DEAD_LETTERS = saved_search(
    "wirewatch-search-deadletters",
    "Dead letters",
    "Inputs the pipeline rejected, with the stage and the reason; the payload is in the document.",
    DEADLETTERS,
    "*",
    ["stage", "error_type", "error", "source", "run_id"],
    [["occurred_at", "desc"]],
)

SEARCHES = [
    saved_search(
        "wirewatch-search-dprk-russia-military",
        "DPRK–Russia military cooperation",
        "Articles tagged with North Korea (Q423) and Russia (Q159) and a military topic "
        "(military or one of its children, e.g. military.arms_transfer).",
        ARTICLES,
        "actor_ids:Q423 AND actor_ids:Q159 AND topic_ids:military",
        ARTICLE_COLUMNS,
        NEWEST_ARTICLES,
    ),
    saved_search(
        "wirewatch-search-russia-sanctions",
        "Sanctions on Russia",
        "Articles on the sanctions topic that are about Russia (Q159).",
        ARTICLES,
        "topic_ids:sanctions AND actor_ids:Q159",
        ARTICLE_COLUMNS,
        NEWEST_ARTICLES,
    ),
    saved_search(
        "wirewatch-search-launches",
        "Satellite and missile launches",
        "Articles on satellites or missiles that speak of a launch (launch, launches, launched…).",
        ARTICLES,
        "topic_ids:(space.satellites OR missiles) AND (title:launch* OR summary:launch* OR body:launch*)",
        ARTICLE_COLUMNS,
        NEWEST_ARTICLES,
    ),
    saved_search(
        "wirewatch-search-korea-nuclear",
        "Korean peninsula nuclear",
        "Nuclear-topic articles naming North or South Korea.",
        ARTICLES,
        "countries:(PRK OR KOR) AND topic_ids:nuclear",
        ARTICLE_COLUMNS,
        NEWEST_ARTICLES,
    ),
    saved_search(
        "wirewatch-search-canonical",
        "Canonical articles only",
        "One article per story: copies folded by deduplication (duplicate_of set) are left out.",
        ARTICLES,
        CANONICAL,
        [*ARTICLE_COLUMNS, "source_count"],
        NEWEST_ARTICLES,
    ),
    saved_search(
        "wirewatch-search-widely-carried",
        "Stories carried by several outlets",
        "Canonical articles that two or more independent outlets carried, most widely carried first.",
        ARTICLES,
        f"{CANONICAL} AND independent_source_count:>=2",
        [*ARTICLE_COLUMNS, "source_count"],
        [["independent_source_count", "desc"], ["published_at", "desc"]],
    ),
    LATEST_ALERTS,
    saved_search(
        "wirewatch-search-severe-alerts",
        "High and critical alerts",
        "Alerts of the rules with severity high or critical.",
        ALERTS,
        "severity:(high OR critical)",
        ["severity", "rule_name", "kind", "latest.title", "latest.outlet", "updated_at"],
        [["first_fired_at", "desc"]],
    ),
    DEAD_LETTERS,
]


# --- Lens visualizations ------------------------------------------------------------------------


def count(label: str) -> Obj:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "sourceField": RECORDS,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }


def metric(operation: str, field: str, label: str) -> Obj:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": operation,
        "sourceField": field,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }


def date_histogram(field: str) -> Obj:
    return {
        "label": field,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": field,
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def terms(
    field: str,
    label: str,
    size: int,
    *,
    by_column: str | None = None,
    number: bool = False,
    other: bool = False,
) -> Obj:
    """Top `size` values of `field`, by the `by_column` metric (descending), else by value ascending."""
    order: Obj = {"type": "column", "columnId": by_column} if by_column else {"type": "alphabetical"}
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number" if number else "string",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": order,
            "orderDirection": "desc" if by_column else "asc",
            "otherBucket": other,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }


def lens(
    object_id: str,
    title: str,
    description: str,
    view: str,
    visualization_type: str,
    layer_id: str,
    columns: dict[str, Obj],
    visualization: Obj,
    query: str = "",
) -> Obj:
    """A Lens visualization with one layer of `columns` (ids in order) over the data view `view`."""
    layer = {"columns": columns, "columnOrder": list(columns), "incompleteColumns": {}}
    return saved_object(
        "lens",
        object_id,
        {
            "title": title,
            "description": description,
            "visualizationType": visualization_type,
            "state": {
                "datasourceStates": {"formBased": {"layers": {layer_id: layer}}},
                "visualization": visualization,
                "query": lucene(query),
                "filters": [],
                "internalReferences": [],
                "adHocDataViews": {},
            },
        },
        [ref(f"indexpattern-datasource-layer-{layer_id}", "index-pattern", view)],
    )


def xy(layer_id: str, series: str, x: str, y: str, split: str | None = None) -> Obj:
    layer: Obj = {
        "layerId": layer_id,
        "layerType": "data",
        "seriesType": series,
        "xAccessor": x,
        "accessors": [y],
    }
    if split:
        layer["splitAccessor"] = split
    return {
        "preferredSeriesType": series,
        "legend": {"isVisible": split is not None, "position": "right"},
        "valueLabels": "hide",
        "layers": [layer],
    }


def table(layer_id: str, *columns: str) -> Obj:
    return {"layerId": layer_id, "layerType": "data", "columns": [{"columnId": c} for c in columns]}


def region_map(layer_id: str, region: str, value: str) -> Obj:
    """A choropleth joining the `region` column's values to the ISO 3166-1 alpha-3 codes of the
    Elastic Maps Service's world countries layer."""
    return {
        "layerId": layer_id,
        "layerType": "data",
        "emsLayerId": "world_countries",
        "emsField": "iso3",
        "regionAccessor": region,
        "valueAccessor": value,
    }


TOPICS_OVER_TIME = lens(
    "wirewatch-lens-articles-by-topic",
    "Articles over time by topic",
    "Canonical articles per interval of publication, split by their ten most frequent topics.",
    ARTICLES,
    "lnsXY",
    "topics",
    {
        "date": date_histogram("published_at"),
        "topic": terms("topic_ids", "Topic", 10, by_column="stories", other=True),
        "stories": count("Stories"),
    },
    xy("topics", "bar_stacked", "date", "stories", split="topic"),
    CANONICAL,
)
TOP_ACTORS = lens(
    "wirewatch-lens-top-actors",
    "Top actors",
    "The fifteen actors named by most canonical articles.",
    ARTICLES,
    "lnsXY",
    "actors",
    {"actor": terms("actor_names", "Actor", 15, by_column="stories"), "stories": count("Stories")},
    xy("actors", "bar_horizontal", "actor", "stories"),
    CANONICAL,
)
COUNTRIES_MAP = lens(
    "wirewatch-lens-countries-map",
    "Countries in the news",
    "Canonical articles per country, joined to the world countries layer on ISO 3166-1 alpha-3.",
    ARTICLES,
    "lnsChoropleth",
    "countries",
    {"country": terms("countries", "Country", 250, by_column="stories"), "stories": count("Stories")},
    region_map("countries", "country", "stories"),
    CANONICAL,
)
OUTLET_COUNTS = lens(
    "wirewatch-lens-independent-sources",
    "Stories by number of independent outlets",
    "How many canonical articles were carried by 1, 2, 3… independent outlets.",
    ARTICLES,
    "lnsXY",
    "outlets",
    {
        "outlets": terms("independent_source_count", "Independent outlets", 20, number=True),
        "stories": count("Stories"),
    },
    xy("outlets", "bar", "outlets", "stories"),
    CANONICAL,
)
WIDELY_CARRIED = lens(
    "wirewatch-lens-widely-carried",
    "Most widely carried stories",
    "The canonical articles with the most independent outlets.",
    ARTICLES,
    "lnsDatatable",
    "stories",
    {
        "title": terms("title.keyword", "Story", 10, by_column="outlets"),
        "outlets": metric("max", "independent_source_count", "Independent outlets"),
        "sightings": metric("max", "source_count", "Sightings"),
    },
    table("stories", "title", "outlets", "sightings"),
    CANONICAL,
)
DEADLETTERS_BY_STAGE = lens(
    "wirewatch-lens-deadletters-by-stage",
    "Dead letters by stage",
    "Rejected inputs over time, split by the pipeline stage that rejected them.",
    DEADLETTERS,
    "lnsXY",
    "stages",
    {
        "date": date_histogram("occurred_at"),
        "stage": terms("stage", "Stage", 10, by_column="letters", other=True),
        "letters": count("Dead letters"),
    },
    xy("stages", "bar_stacked", "date", "letters", split="stage"),
)
VISUALIZATIONS = [
    TOPICS_OVER_TIME,
    TOP_ACTORS,
    COUNTRIES_MAP,
    OUTLET_COUNTS,
    WIDELY_CARRIED,
    DEADLETTERS_BY_STAGE,
]


# --- the dashboard ---------------------------------------------------------------------------------

# (panel id, object, x, y, width, height) on Kibana's 48-column grid.
LAYOUT: list[tuple[str, Obj, int, int, int, int]] = [
    ("topics", TOPICS_OVER_TIME, 0, 0, 32, 15),
    ("actors", TOP_ACTORS, 32, 0, 16, 15),
    ("map", COUNTRIES_MAP, 0, 15, 24, 18),
    ("widely-carried", WIDELY_CARRIED, 24, 15, 24, 18),
    ("outlets", OUTLET_COUNTS, 0, 33, 16, 12),
    ("deadletters-by-stage", DEADLETTERS_BY_STAGE, 16, 33, 32, 12),
    ("alerts", LATEST_ALERTS, 0, 45, 24, 16),
    ("deadletters", DEAD_LETTERS, 24, 45, 24, 16),
]


def dashboard(object_id: str, title: str, description: str) -> Obj:
    panels = []
    references = []
    for panel_id, target, x, y, width, height in LAYOUT:
        panels.append(
            {
                "version": PANEL_VERSION,
                "type": target["type"],
                "gridData": {"x": x, "y": y, "w": width, "h": height, "i": panel_id},
                "panelIndex": panel_id,
                "embeddableConfig": {},
                "panelRefName": f"panel_{panel_id}",
            }
        )
        references.append(ref(f"{panel_id}:panel_{panel_id}", target["type"], target["id"]))
    options = {
        "useMargins": True,
        "syncColors": False,
        "syncCursor": True,
        "syncTooltips": False,
        "hidePanelTitles": False,
    }
    return saved_object(
        "dashboard",
        object_id,
        {
            "title": title,
            "description": description,
            "panelsJSON": _json(panels),
            "optionsJSON": _json(options),
            "timeRestore": True,
            "timeFrom": "now-7d",
            "timeTo": "now",
            "refreshInterval": {"pause": True, "value": 60000},
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": _json({"query": lucene(""), "filter": []})},
        },
        references,
    )


DASHBOARD = dashboard(
    "wirewatch-dashboard-overview",
    "Wirewatch overview",
    "Stories over time by topic, the actors and countries in the news, how widely stories were "
    "carried, the latest alerts and the dead letters. Counts are of canonical articles (one per story).",
)

OBJECTS = [*DATA_VIEWS, *SEARCHES, *VISUALIZATIONS, DASHBOARD]


def render_ndjson() -> str:
    """The saved objects, one JSON object per line, referenced objects before those using them."""
    return "".join(_json(obj) + "\n" for obj in OBJECTS)


# --- alerting rules (Kibana's Elasticsearch query rule type) ------------------------------------------


def _rule_query(when: Conditions) -> Obj:
    """An Elasticsearch query equivalent to a rule's `when` on canonical articles, or a ValueError
    naming what cannot be expressed."""
    if when.min_reliability is not None:
        raise ValueError("min_reliability: the outlet's grade is in the feed catalog, not in the index")
    clauses: list[Obj] = [{"term": {"actor_ids": actor}} for actor in when.actors_all]
    if when.actors_any:
        clauses.append({"terms": {"actor_ids": list(when.actors_any)}})
    if when.topics_any:  # topic_ids lists every ancestor too, so a parent matches its children
        clauses.append({"terms": {"topic_ids": list(when.topics_any)}})
    if when.countries_any:
        clauses.append({"terms": {"countries": list(when.countries_any)}})
    if when.keywords_any:
        # The engine looks for the phrase anywhere in the lower-cased text; a phrase prefix is the
        # closest index-side match ("launch" finds launch, launches, launched; not "relaunch").
        phrases = [
            {"multi_match": {"query": keyword, "type": "phrase_prefix", "fields": ["title", "body"]}}
            for keyword in when.keywords_any
        ]
        clauses.append({"bool": {"should": phrases, "minimum_should_match": 1}})
    if when.query is not None:
        clauses.append({"query_string": {"query": when.query, "analyze_wildcard": True}})
    if when.min_independent_sources > 1:
        clauses.append({"range": {"independent_source_count": {"gte": when.min_independent_sources}}})
    return {"query": {"bool": {"filter": clauses, "must_not": [{"exists": {"field": "duplicate_of"}}]}}}


def _window(seconds: int) -> tuple[int, str]:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return seconds // size, unit
    return seconds, "s"


def kibana_rule(rule: AlertRule) -> Obj:
    """The body of `POST /api/alerting/rule` for one rule of seeds/alerts.yaml (ValueError: none)."""
    if rule.surge is not None:
        raise ValueError("a surge compares a bucket with its baseline, which an Elasticsearch query cannot")
    params: Obj = {
        "searchType": "esQuery",
        "index": [ARTICLES],
        "esQuery": json.dumps(_rule_query(rule.when)),
        "size": 20,
        "aggType": "count",
        "groupBy": "all",
    }
    if rule.threshold is not None:
        # N stories within the window: the engine's window runs on publication time, so does this
        # one (relative to now, where the engine's is relative to the newest story). Every check
        # counts the whole window.
        size, unit = _window(rule.threshold.window)
        params |= {
            "timeField": "published_at",
            "timeWindowSize": size,
            "timeWindowUnit": unit,
            "threshold": [rule.threshold.count],
            "thresholdComparator": ">=",
            "excludeHitsFromPreviousRun": False,
        }
    else:
        # Any story that arrived (whatever its publication date, as in the engine). The window is
        # wider than the schedule so an article indexed a little after it was ingested is still
        # seen; hits already reported are left out.
        # A story reaches min_independent_sources when a copy arrives: sources_seen.seen_at (one
        # per sighting) moves then, ingested_at does not.
        time_field = "sources_seen.seen_at" if rule.when.min_independent_sources > 1 else "ingested_at"
        params |= {
            "timeField": time_field,
            "timeWindowSize": 1,
            "timeWindowUnit": "h",
            "threshold": [0],
            "thresholdComparator": ">",
            "excludeHitsFromPreviousRun": True,
        }
    return {
        "name": f"Wirewatch: {rule.name}",
        "tags": ["wirewatch", f"wirewatch-rule:{rule.id}", f"severity:{rule.severity}"],
        "rule_type_id": ".es-query",
        "consumer": "stackAlerts",
        "schedule": {"interval": "5m"},
        "enabled": rule.enabled,
        "params": params,
        "actions": [],
    }


def render_rules() -> tuple[dict[str, str], dict[str, str]]:
    """({file name: JSON text} of the expressible rules, {rule id: why not} for the others)."""
    files: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for rule in load_rules(ALERT_RULES_FILE).rules:
        try:
            body = kibana_rule(rule)
        except ValueError as exc:
            skipped[rule.id] = str(exc)
            continue
        files[f"{rule.id}.json"] = json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    return files, skipped


# --- main ----------------------------------------------------------------------------------------


def expected_files() -> dict[Path, str]:
    rules, _ = render_rules()
    return {NDJSON: render_ndjson(), **{RULES_DIR / name: text for name, text in rules.items()}}


def stale_files() -> list[Path]:
    """Committed files that differ from the generated ones, are missing, or are no longer generated."""
    expected = expected_files()
    differ = [p for p, text in expected.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    extra = [p for p in sorted(RULES_DIR.glob("*.json")) if p not in expected]
    return differ + extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report files that differ (exit 1)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"out of date: {path.relative_to(HERE)}", file=sys.stderr)
        return 1 if stale else 0
    RULES_DIR.mkdir(exist_ok=True)
    expected = expected_files()
    for path in sorted(RULES_DIR.glob("*.json")):
        if path not in expected:
            path.unlink()
    for path, text in expected.items():
        path.write_text(text, encoding="utf-8")
    _, skipped = render_rules()
    print(f"wrote {NDJSON.name} ({len(OBJECTS)} objects) and {len(expected) - 1} alerting rules")
    for rule_id, why in skipped.items():
        print(f"  not a Kibana rule: {rule_id}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
