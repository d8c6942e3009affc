"""The seeds through the whole batch pipeline carry the expected actor and topic tags in both stores."""

from __future__ import annotations

import json
import pathlib

import pytest

from schemas.actors import load_registry
from tests.conftest import SEEDS
from tests.integration.conftest import StoreUnderTest
from tests.integration.test_feeds_cli import ww

pytestmark = pytest.mark.integration


def _ids(*names: str) -> set[str]:
    """Registry ids by English name (the issue names the actors; the registry gives their QIDs)."""
    by_name = {actor.name: actor.id for actor in load_registry().actors}
    return {by_name[name] for name in names}


def test_the_seeds_carry_their_actors_and_topics(tmp_path: pathlib.Path, store: StoreUnderTest):
    flags, read = store
    result = ww("run", "--seeds", str(SEEDS), "--json", *flags, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tagged"] == 2
    docs = {d["published_at"][:10]: d for d in read().values()}
    nov9, nov7 = docs["2023-11-09"], docs["2023-11-07"]

    assert {"Q56226", "Q7747", "Q423", "Q159", "Q37470"} <= set(nov9["actor_ids"])
    assert _ids("China", "Ukraine", "United States", "South Korea") <= set(nov9["actor_ids"])
    assert {"military.arms_transfer", "space.satellites", "sanctions"} <= set(nov9["topic_ids"])
    assert any(t.startswith("diplomacy") for t in nov9["topic_ids"])

    assert {"Q56226", "Q7747", "Q423", "Q159"} | _ids("United States") <= set(nov7["actor_ids"])
    assert {"nuclear.negotiations", "sanctions"} <= set(nov7["topic_ids"])
    assert any(t.startswith("diplomacy") for t in nov7["topic_ids"])
    assert "military.arms_transfer" not in nov7["topic_ids"]

    for doc in (nov9, nov7):
        assert doc["pipeline"]["registry_version"] == load_registry().version
        body = f"{doc['title']}\n\n{doc['body']}"
        for actor in doc["actors"]:
            for span in actor["evidence"]:  # every tag says why: the evidence points at the text
                assert body[span["start"] : span["end"]] == span["text"]
        assert {"PRK", "RUS", "USA"} <= set(doc["countries"])
