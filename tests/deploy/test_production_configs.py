"""The production-only Elasticsearch configuration (ILM, data stream), checked without such a cluster."""

from __future__ import annotations

import copy
import json
import pathlib
import re
import uuid
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from connectors.es_indices import IndexNames, load_templates

FOLDER = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "elasticsearch" / "production"
POLICY_FILE = FOLDER / "wirewatch-articles.ilm-policy.json"
TEMPLATE_FILE = FOLDER / "wirewatch-articles-datastream.index-template.json"
POLICY_NAME = POLICY_FILE.name.removesuffix(".ilm-policy.json")

# The actions Elasticsearch allows in each ILM phase, phases in the order an index moves through them.
ILM_ACTIONS = {
    "hot": {
        "set_priority",
        "unfollow",
        "rollover",
        "readonly",
        "downsample",
        "shrink",
        "forcemerge",
        "searchable_snapshot",
    },
    "warm": {
        "set_priority",
        "unfollow",
        "readonly",
        "downsample",
        "allocate",
        "migrate",
        "shrink",
        "forcemerge",
    },
    "cold": {
        "set_priority",
        "unfollow",
        "readonly",
        "downsample",
        "searchable_snapshot",
        "allocate",
        "migrate",
    },
    "frozen": {"unfollow", "searchable_snapshot"},
    "delete": {"wait_for_snapshot", "delete"},
}
ROLLOVER_CONDITIONS = {
    "max_age", "max_docs", "max_size", "max_primary_shard_size", "max_primary_shard_docs",
    "min_age", "min_docs", "min_size", "min_primary_shard_size", "min_primary_shard_docs",
}  # fmt: skip
_DURATION = re.compile(r"^(\d+)(d|h|m|s|ms)$")
_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1, "ms": 0.001}


def _load(path: pathlib.Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _seconds(duration: str) -> float:
    match = _DURATION.match(duration)
    assert match, f"not an Elasticsearch duration: {duration!r}"
    return int(match[1]) * _SECONDS[match[2]]


def _local_article_mappings() -> dict[str, Any]:
    mappings: dict[str, Any] = load_templates(IndexNames())["wirewatch-articles-mappings"]["template"][
        "mappings"
    ]
    return mappings


def test_the_folder_holds_the_documented_files_and_all_parse():
    files = sorted(p.name for p in FOLDER.iterdir())
    assert files == sorted(["README.md", POLICY_FILE.name, TEMPLATE_FILE.name])
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    for path in FOLDER.glob("*.json"):
        assert isinstance(_load(path), dict)
        assert path.name in readme, f"README.md does not explain {path.name}"


def test_ilm_phases_and_actions_are_ones_elasticsearch_knows():
    phases = _load(POLICY_FILE)["policy"]["phases"]
    assert set(phases) <= set(ILM_ACTIONS)
    for name, phase in phases.items():
        assert set(phase["actions"]) <= ILM_ACTIONS[name], name
    ages = [_seconds(phases[name].get("min_age", "0ms")) for name in ILM_ACTIONS if name in phases]
    assert ages == sorted(ages), "phases must start in the order an index moves through them"


def test_ilm_rolls_over_at_30gb_or_30_days_and_deletes_later():
    phases = _load(POLICY_FILE)["policy"]["phases"]
    rollover = phases["hot"]["actions"]["rollover"]
    assert set(rollover) <= ROLLOVER_CONDITIONS
    assert rollover == {"max_primary_shard_size": "30gb", "max_age": "30d"}
    assert phases["delete"]["actions"] == {"delete": {}}
    assert _seconds(phases["delete"]["min_age"]) == 400 * 86_400


def test_the_data_stream_template_uses_the_policy_and_production_settings():
    template = _load(TEMPLATE_FILE)
    assert template["data_stream"] == {}
    assert template["index_patterns"] == ["wirewatch-articles"]
    settings = template["template"]["settings"]["index"]
    assert settings["lifecycle"] == {"name": POLICY_NAME}
    assert (settings["number_of_shards"], settings["number_of_replicas"]) == (1, 1)
    assert template["template"]["mappings"]["properties"]["@timestamp"] == {"type": "date"}


def test_the_data_stream_template_maps_articles_exactly_like_the_local_one():
    production = _load(TEMPLATE_FILE)["template"]["mappings"]
    local = _local_article_mappings()
    assert production["dynamic"] == local["dynamic"]
    assert {k: v for k, v in production["properties"].items() if k != "@timestamp"} == local["properties"]
    assert production["_meta"]["template_version"] == local["_meta"]["template_version"]


def test_the_data_stream_template_does_not_collide_with_the_alias_layout():
    # Same name would overwrite the local template; an overlapping pattern at the same priority
    # is refused by Elasticsearch.
    names = IndexNames()
    template = _load(TEMPLATE_FILE)
    assert TEMPLATE_FILE.name.removesuffix(".index-template.json") not in names.index_templates
    local_patterns = [
        p for name in names.index_templates for p in load_templates(names)[name]["index_patterns"]
    ]
    for pattern in template["index_patterns"]:
        for local in local_patterns:
            assert not re.fullmatch(local.replace("*", ".*"), pattern), (pattern, local)


# --- against a real node ----------------------------------------------------------------------


@pytest.mark.integration
def test_a_real_node_accepts_the_data_stream_template(es: Elasticsearch):
    # The local node has no ILM (the lifecycle setting is unknown there), so that one setting is
    # left out; everything else is simulated, which installs nothing.
    template = copy.deepcopy(_load(TEMPLATE_FILE))
    del template["template"]["settings"]["index"]["lifecycle"]
    template["index_patterns"] = [f"test-b-{uuid.uuid4().hex[:12]}-articles"]
    simulated = es.indices.simulate_template(body=template)["template"]
    assert simulated["mappings"]["properties"]["published_at"] == {"type": "date"}
    assert simulated["settings"]["index"]["number_of_replicas"] == "1"
