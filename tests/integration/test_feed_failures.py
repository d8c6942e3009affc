"""Feeds that fail (issue 15, item 13): once, every run exited 0 even when every feed failed, and a
15-minute schedule added a "cannot resolve host" dead letter per feed per run (~2,300 a day). Now
a failing feed is recorded in its state, a dead letter only when its failure is news, and a run
whose every source failed exits 3; some failing feeds are one warning line, exit 0."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from schemas.feeds import FeedSpec
from tests.conftest import SEEDS
from tests.feed_server import FeedServer, Response
from tests.integration.test_feeds_cli import closed_port_url, new_catalog, rss, ww

pytestmark = pytest.mark.integration

NO_SUCH_HOST = "http://wirewatch-test-feed.invalid/rss.xml"  # .invalid never resolves (RFC 6761)


def _run(*args: str, cwd: pathlib.Path) -> tuple[int, dict[str, Any], list[str]]:
    result = ww("run", *args, "--json", "--no-alerts", cwd=cwd)
    assert "Traceback" not in result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("wirewatch:")]
    return result.returncode, json.loads(result.stdout), ours


def test_every_feed_failing_exits_3_and_repeats_are_no_new_dead_letters(
    server: FeedServer, tmp_path: pathlib.Path
):
    server.route("/broken.xml", [Response(500, b"<h1>Internal Server Error</h1>")])
    feeds = (
        FeedSpec(url=server.url("/broken.xml"), name="Broken", allow_private=True),
        FeedSpec(url=closed_port_url(), name="Refused", allow_private=True),
        FeedSpec(url=NO_SUCH_HOST, name="Nowhere"),
    )
    cat = str(new_catalog(tmp_path, *feeds))
    store = str(tmp_path / "w.db")

    code, first, lines = _run("--feeds", cat, "--store", store, cwd=tmp_path)
    assert code == 3
    assert first["every_source_failed"] is True
    assert (first["read"], first["feeds_polled"], first["feeds_failed"], first["dead_letters"]) == (
        0,
        3,
        3,
        3,
    )
    assert [f["url"] for f in first["failed_feeds"]] == [f.url for f in feeds]
    assert len(lines) == 1
    assert lines[0].startswith("wirewatch: every source failed, nothing was read: ")
    for feed in feeds:
        assert feed.url in lines[0]
    assert "HTTP 500 Internal Server Error" in lines[0]
    assert "cannot resolve host wirewatch-test-feed.invalid" in lines[0]

    # The same failures again (a scheduled run): same exit, counted, but no new dead letters.
    code, second, _ = _run("--feeds", cat, "--store", store, cwd=tmp_path)
    assert code == 3
    assert (second["feeds_failed"], second["dead_letters"], second["rejected"]) == (3, 0, [])
    assert [f["failures_in_a_row"] for f in second["failed_feeds"]] == [2, 2, 2]

    # A failure that changes is news again: one dead letter, for that feed only.
    server.route("/broken.xml", [Response(404, b"gone")])
    code, third, _ = _run("--feeds", cat, "--store", store, cwd=tmp_path)
    assert code == 3
    assert [(d["source"], d["error"]) for d in third["rejected"]] == [(feeds[0].url, "HTTP 404 Not Found")]

    listed = ww("feeds", "list", "--json", "--feeds", cat, "--store", store, cwd=tmp_path)
    states = {entry["name"]: entry["state"] for entry in json.loads(listed.stdout)}
    assert {name: state["consecutive_failures"] for name, state in states.items()} == {
        "Broken": 3,
        "Refused": 3,
        "Nowhere": 3,
    }
    dead = ww("deadletters", "--json", "--store", store, cwd=tmp_path)
    assert len(json.loads(dead.stdout)) == 3  # one per feed, not one per feed per run


def test_some_sources_failing_exit_0_with_one_warning_line(server: FeedServer, tmp_path: pathlib.Path):
    server.route("/good.xml", [Response(200, rss(("g1", "Parliament passes the budget")))])
    good = FeedSpec(url=server.url("/good.xml"), name="Good", allow_private=True)
    failing = FeedSpec(url=NO_SUCH_HOST, name="Nowhere")
    store = str(tmp_path / "w.db")

    both = str(new_catalog(tmp_path, good, failing))
    code, summary, lines = _run("--feeds", both, "--store", store, cwd=tmp_path)
    assert code == 0
    assert (summary["written"], summary["feeds_failed"], summary["every_source_failed"]) == (1, 1, False)
    assert len(lines) == 1
    warning = (
        f"wirewatch: warning: 1 feed failed: {NO_SUCH_HOST} (cannot resolve host wirewatch-test-feed.invalid"
    )
    assert lines[0].startswith(warning)

    # Every feed failing while seed files are read: the run had input, so exit 0 and the warning.
    (tmp_path / "other").mkdir()
    only_failing = str(new_catalog(tmp_path / "other", failing))
    code, with_seeds, lines = _run(
        "--seeds", str(SEEDS), "--feeds", only_failing, "--store", store, cwd=tmp_path
    )
    assert code == 0
    assert (with_seeds["read"], with_seeds["every_source_failed"]) == (2, False)
    assert len(lines) == 1
    assert lines[0].startswith(f"wirewatch: warning: 1 feed failed: {NO_SUCH_HOST} (")
