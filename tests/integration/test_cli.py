"""The `wirewatch` command end to end, in subprocesses, as a user runs it."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from connectors.localstore import LocalStore
from tests.conftest import SEEDS
from tests.feed_server import FeedServer
from tests.integration.equivalence import stable, stable_alert

pytestmark = pytest.mark.integration

WIREWATCH = str(pathlib.Path(sys.executable).parent / "wirewatch")


def wirewatch(
    *args: str, cwd: pathlib.Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WIREWATCH, *args],
        cwd=cwd,
        input=stdin,
        # The embedded store unless a test asks for Elasticsearch: `make test` exports its URL.
        env={**{k: v for k, v in os.environ.items() if k != "ELASTICSEARCH_URL"}, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_summary_tells_an_article_read_twice_from_one_stored_before(tmp_path: pathlib.Path):
    """The same seed under two outlets is one article read twice: on an empty store nothing is
    "already stored"; a re-run reads both readings of an article the store has."""
    seeds = tmp_path / "seeds"
    for outlet in ("one.example", "two.example"):
        (seeds / outlet).mkdir(parents=True)
        for seed in sorted(SEEDS.glob("*.txt")):
            (seeds / outlet / seed.name).write_bytes(seed.read_bytes())
    store = str(tmp_path / "store")
    pattern = str(seeds / "*" / "*.txt")
    first = json.loads(wirewatch("run", "--seeds", pattern, "--store", store, "--json", cwd=tmp_path).stdout)
    counts = ("read", "canonical", "written", "already_stored", "read_twice")
    assert tuple(first[k] for k in counts) == (4, 2, 2, 0, 2)
    again = json.loads(wirewatch("run", "--seeds", pattern, "--store", store, "--json", cwd=tmp_path).stdout)
    assert tuple(again[k] for k in counts) == (4, 0, 0, 2, 2)


def test_run_twice_then_stats_search_show(tmp_path: pathlib.Path):
    store = str(tmp_path / "store")
    first = wirewatch("run", "--seeds", str(SEEDS), "--store", store, "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["read"], summary["written"], summary["dead_letters"]) == (2, 2, 0)

    second = wirewatch("run", "--seeds", str(SEEDS), "--store", store, "--json", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert (again["read"], again["written"], again["already_stored"]) == (2, 0, 2)

    stats = json.loads(wirewatch("stats", "--store", store, "--json", cwd=tmp_path).stdout)
    assert stats["articles"] == 2
    facets = stats["facets"]
    assert (facets["canonical"], facets["copies"]) == (2, 0)
    assert facets["per_day"] == [["2023-11-09", 1], ["2023-11-07", 1]]
    assert ["Vladimir Putin", 2] in facets["actors"]
    assert facets["outlets"] == [["seeds", 2]]
    assert {rule for rule, _ in facets["alerts_by_rule"]} >= {"dprk-russia-arms"}
    assert stats["feeds"] == {"known": 0, "healthy": 0, "failing": 0, "disabled": 0}
    text = wirewatch("stats", "--store", store, cwd=tmp_path).stdout
    assert "articles       2 (2 stories, 0 copies)" in text
    assert re.search(r"^actors .*Vladimir Putin 2", text, re.M)

    search = wirewatch("search", "ammunition", "--store", store, "--json", cwd=tmp_path)
    hits = json.loads(search.stdout)
    assert [h["published_at"] for h in hits] == ["2023-11-09T00:00:00Z"]
    assert "[[ammunition]]" in hits[0]["snippet"]

    show = wirewatch("show", hits[0]["id"], "--store", store, "--json", cwd=tmp_path)
    assert json.loads(show.stdout)["source"]["file"].endswith("000_c188ed1eebfaaab7.txt")


def test_human_summary_lists_dead_letters_and_exits_zero(tmp_path: pathlib.Path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "good.txt").write_bytes((SEEDS / "004_0150c9251e40f8c3.txt").read_bytes())
    (seeds / "empty.txt").write_bytes(b"")
    # WIREWATCH_HOME picks the store when --store is absent.
    result = wirewatch(
        "run", "--seeds", str(seeds), cwd=tmp_path, env={"WIREWATCH_HOME": str(tmp_path / "h")}
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s*dead letters\s+1$", result.stdout, re.M)
    assert re.search(r"^\s*written\s+1$", result.stdout, re.M)
    assert f"{seeds / 'empty.txt'}: empty file" in result.stdout
    assert (tmp_path / "h" / "wirewatch.db").exists()
    listed = wirewatch("deadletters", "--json", cwd=tmp_path, env={"WIREWATCH_HOME": str(tmp_path / "h")})
    assert [d["error"] for d in json.loads(listed.stdout)] == ["empty file"]
    stats = wirewatch("stats", "--json", cwd=tmp_path, env={"WIREWATCH_HOME": str(tmp_path / "h")})
    stage = json.loads(listed.stdout)[0]["stage"]
    assert json.loads(stats.stdout)["facets"]["dead_letters_by_stage"] == [[stage, 1]]


@pytest.mark.slow
def test_two_worker_processes_store_the_same_documents(server: FeedServer, tmp_path: pathlib.Path):
    """The whole graph (seeds and feeds, dedup, tags, alerts) in two worker processes stores the
    same documents and alerts as in one; see tests/integration/equivalence.py for what may differ."""
    # Imported here: those modules import this one's `wirewatch`.
    from tests.integration.test_dedup_feeds import Outlets
    from tests.integration.test_feeds_cli import new_catalog

    catalog = new_catalog(tmp_path, *Outlets(server).specs)
    docs, alerts = {}, {}
    for name, flags in (
        ("one", ["--direct_num_workers=1"]),
        ("two", ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]),
    ):
        store = str(tmp_path / name / "w.db")
        result = wirewatch(
            "run",
            "--seeds",
            str(SEEDS),
            "--feeds",
            str(catalog),
            "--store",
            store,
            "--json",
            *flags,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert (summary["written"], summary["canonical"], summary["duplicates"]) == (6, 2, 4)
        reader = LocalStore(store)
        try:
            ids = [row[0] for row in reader._db.execute("SELECT id FROM articles")]
            docs[name] = {i: stable(reader.get(i) or {}) for i in ids}
        finally:
            reader.close()
        listed = wirewatch("alerts", "list", "--limit", "100", "--json", "--store", store, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        alerts[name] = {a["id"]: stable_alert(a) for a in json.loads(listed.stdout)}
    assert docs["two"] == docs["one"]
    assert len(docs["one"]) == 6
    assert any(d["duplicate_of"] for d in docs["one"].values())
    assert any(d["alerts"] for d in docs["one"].values())
    assert alerts["two"] == alerts["one"]
    assert len(alerts["one"]) == summary["alerts_fired"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--seeds", "no/such/folder"], "wirewatch: --seeds: no such file or folder: no/such/folder"),
        (["run", "--runer=FlinkRunner"], "wirewatch: unknown flag --runer (did you mean --runner?)"),
        (["search", "x", "--store", "nowhere.db"], "wirewatch: no store at nowhere.db yet"),
        (["show", "abc", "--store", "nowhere.db"], "wirewatch: no store at nowhere.db yet"),
        (["search", "x", "--limit", "0"], "wirewatch: --limit must be at least 1, got 0"),
    ],
)
def test_user_errors_are_one_clear_line(tmp_path: pathlib.Path, args: list[str], message: str):
    (tmp_path / ".wirewatch").mkdir()
    (tmp_path / ".wirewatch" / "wirewatch.db").write_bytes(b"")
    result = wirewatch(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    first_line = next(line for line in result.stderr.splitlines() if line.startswith("wirewatch:"))
    assert first_line.startswith(message)
    assert result.stdout == ""


def test_unwritable_store_fails_with_one_line(tmp_path: pathlib.Path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    result = wirewatch("run", "--seeds", str(SEEDS), "--store", str(blocker / "sub" / "w.db"), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "wirewatch: --store: cannot create folder" in result.stderr
