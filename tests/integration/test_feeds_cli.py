"""`wirewatch feeds …` and `wirewatch run --feeds` end to end, in subprocesses, against a real feed server."""

from __future__ import annotations

import json
import pathlib
import re
import socket
import subprocess
from typing import Any

import pytest

from connectors.feed_catalog import export_opml, load_catalog, save_catalog
from schemas.feeds import FeedCatalog, FeedSpec
from tests.conftest import REPO
from tests.feed_server import ConditionalFeed, FeedServer, Response
from tests.integration.test_cli import wirewatch

pytestmark = pytest.mark.integration

OPML = REPO / "tests" / "fixtures" / "opml" / "reader_export.opml"
# A proxy set on the machine must not swallow the requests meant for the local feed server.
LOCAL_ENV = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
BROKEN_OUTLINE = "outline 'Broken export': only http(s) feeds are imported, got 'rss.xml'"


def ww(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return wirewatch(*args, cwd=cwd, env=LOCAL_ENV)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("wirewatch:")]


def rss(*items: tuple[str, str], extra: str = "") -> bytes:
    entries = "".join(
        f"<item><title>{title}</title><link>https://news.example/story/{guid}</link>"
        f'<guid isPermaLink="false">{guid}</guid><description>{title}: the full report.</description></item>'
        for guid, title in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Test wire</title>'
        f"<link>https://news.example/</link>{entries}{extra}</channel></rss>"
    ).encode()


def closed_port_url(path: str = "/gone.xml") -> str:
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def new_catalog(tmp_path: pathlib.Path, *feeds: FeedSpec) -> pathlib.Path:
    path = tmp_path / "feeds.yaml"
    save_catalog(str(path), FeedCatalog(feeds=feeds))
    return path


def validators_by_path(server: FeedServer) -> dict[str, list[str | None]]:
    """For each path, the If-None-Match of each request to it, in order (feeds are polled in any order)."""
    seen: dict[str, list[str | None]] = {}
    for request in server.requests:
        assert "if-modified-since" not in request.headers
        seen.setdefault(request.path, []).append(request.headers.get("if-none-match"))
    return seen


# --- add / list / remove -----------------------------------------------------------------------


def test_add_list_and_remove_feeds(tmp_path: pathlib.Path):
    catalog = new_catalog(tmp_path)
    cat = str(catalog)
    store = str(tmp_path / "store")
    world = "https://news.example/world.rss"
    local = "http://127.0.0.1:8080/b.xml"

    added = ww(
        "feeds", "add", world, "--name", "Example World", "--outlet", "example.com", "--country", "gb",
        "--language", "EN", "--tags", "world, asia,,", "--reliability", "B", "--state-affiliated",
        "--interval", "3600", "--feeds", cat, cwd=tmp_path,
    )  # fmt: skip
    assert (added.returncode, added.stdout) == (0, f"added {world} to {cat}\n"), added.stderr
    added_local = ww(
        "feeds", "add", local, "--name", "Local", "--allow-private", "--feeds", cat, cwd=tmp_path
    )
    assert (added_local.returncode, added_local.stdout) == (0, f"added {local} to {cat}\n"), (
        added_local.stderr
    )
    expected = (
        FeedSpec(
            url=world,
            name="Example World",
            outlet="example.com",
            country="GB",
            language="en",
            poll_interval_s=3600,
            tags=("world", "asia"),
            reliability="B",
            state_affiliated=True,
        ),
        FeedSpec(url=local, name="Local", allow_private=True),
    )
    assert load_catalog(cat).feeds == expected

    listed = ww("feeds", "list", "--json", "--feeds", cat, "--store", store, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [{**f.model_dump(mode="json"), "state": None} for f in expected]
    human = ww("feeds", "list", "--feeds", cat, "--store", store, cwd=tmp_path)
    assert human.returncode == 0, human.stderr
    assert human.stdout == (
        "Example World\n"
        f"    {world}\n"
        "    example.com  GB  en  reliability B  state-affiliated\n"
        "Local\n"
        f"    {local}\n"
        "    127.0.0.1  --  --  reliability C\n"
        f"\n2 feeds in {cat}\n"
    )

    before = catalog.read_bytes()
    duplicate = ww("feeds", "add", world, "--name", "Again", "--feeds", cat, cwd=tmp_path)
    assert (duplicate.returncode, error_lines(duplicate)) == (2, [f"wirewatch: {world} is already in {cat}"])
    invalid = ww(
        "feeds",
        "add",
        "https://x.example/rss",
        "--name",
        "X",
        "--country",
        "GBR",
        "--feeds",
        cat,
        cwd=tmp_path,
    )
    assert invalid.returncode == 2
    assert len(error_lines(invalid)) == 1
    assert error_lines(invalid)[0].startswith(
        "wirewatch: feeds add: country: String should match pattern '^[A-Z]{2}$'"
    )
    missing = ww("feeds", "remove", "https://x.example/rss", "--feeds", cat, cwd=tmp_path)
    assert (missing.returncode, error_lines(missing)) == (
        2,
        ["wirewatch: no feed with URL https://x.example/rss in the catalog"],
    )
    assert catalog.read_bytes() == before  # failed commands leave the catalog alone

    removed = ww("feeds", "remove", world, "--feeds", cat, cwd=tmp_path)
    assert (removed.returncode, removed.stdout) == (0, f"removed {world} from {cat}\n"), removed.stderr
    assert load_catalog(cat).feeds == expected[1:]


def test_the_catalog_can_come_from_the_environment(tmp_path: pathlib.Path):
    catalog = new_catalog(tmp_path, FeedSpec(url="https://news.example/world.rss", name="Example World"))
    listed = wirewatch(
        "feeds", "list", "--json", "--store", str(tmp_path / "store"), cwd=tmp_path,
        env={**LOCAL_ENV, "WIREWATCH_FEEDS": str(catalog)},
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert [f["url"] for f in json.loads(listed.stdout)] == ["https://news.example/world.rss"]


# --- import / export ---------------------------------------------------------------------------


def test_import_a_reader_export_then_export_and_reimport(tmp_path: pathlib.Path):
    cat = str(tmp_path / "feeds.yaml")  # import creates the catalog

    imported = ww("feeds", "import", str(OPML), "--feeds", cat, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    # The BBC feed is filed under two folders: the second copy counts as already there.
    assert imported.stdout == f"added 7 feeds to {cat} (1 already there)\n  skipped {BROKEN_OUTLINE}\n"
    catalog = load_catalog(cat)
    assert [f.name for f in catalog.feeds] == [
        "BBC News - World",
        "Al Jazeera English",
        "Yonhap News Agency",
        "NK News & Analysis",
        "38 North",
        "https://www.theguardian.com/world/rss",
        "Meduza - English",
    ]

    again = ww("feeds", "import", str(OPML), "--json", "--feeds", cat, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"added": [], "already_present": 8, "skipped": [BROKEN_OUTLINE]}
    assert load_catalog(cat) == catalog

    exported = ww("feeds", "export", "--feeds", cat, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == export_opml(catalog).decode("utf-8")
    out = tmp_path / "out.opml"
    written = ww("feeds", "export", "-o", str(out), "--feeds", cat, cwd=tmp_path)
    assert (written.returncode, written.stdout) == (0, ""), written.stderr
    assert f"wrote 7 feeds to {out}" in written.stderr
    assert out.read_bytes() == export_opml(catalog)

    copy = str(tmp_path / "copy.yaml")
    reimported = ww("feeds", "import", str(out), "--feeds", copy, cwd=tmp_path)
    assert (reimported.returncode, reimported.stdout) == (0, f"added 7 feeds to {copy} (0 already there)\n")
    assert load_catalog(copy) == catalog


def test_import_refuses_an_entity_bomb_and_a_missing_file(tmp_path: pathlib.Path):
    bomb = tmp_path / "bomb.opml"
    bomb.write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<opml version="2.0"><body><outline text="&b;" xmlUrl="https://a.example/rss"/></body></opml>'
    )
    cat = tmp_path / "feeds.yaml"

    refused = ww("feeds", "import", str(bomb), "--feeds", str(cat), cwd=tmp_path)
    missing = ww("feeds", "import", str(tmp_path / "nope.opml"), "--feeds", str(cat), cwd=tmp_path)

    assert (refused.returncode, error_lines(refused)) == (
        2,
        ["wirewatch: not a usable OPML file: EntitiesForbidden(name='a', system_id=None, public_id=None)"],
    )
    assert (missing.returncode, error_lines(missing)) == (
        2,
        [f"wirewatch: feeds import: cannot read {tmp_path / 'nope.opml'}: No such file or directory"],
    )
    assert not cat.exists()


# --- check -------------------------------------------------------------------------------------


def test_check_reports_items_for_a_good_feed_and_the_error_for_an_unreachable_one(
    server: FeedServer, tmp_path: pathlib.Path
):
    broken = "<item><description>Nothing identifies this one.</description></item>"
    server.route("/a.xml", ConditionalFeed(rss(("a1", "One"), ("a2", "Two"), extra=broken)))
    good = FeedSpec(url=server.url("/a.xml"), name="Good", allow_private=True)
    gone = FeedSpec(url=closed_port_url(), name="Gone", allow_private=True)
    cat = str(new_catalog(tmp_path, good, gone))

    ok = ww("feeds", "check", good.url, "--feeds", cat, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert re.fullmatch(
        r"OK   Good  \[200, 2 items, \d+\.\ds\]\n"
        rf"     {re.escape(good.url)}\n"
        r"     skipped entry: entry 3: no guid, link or title\n"
        r"\n1 of 1 feeds OK\n",
        ok.stdout,
    ), ok.stdout

    failed = ww("feeds", "check", gone.url, "--feeds", cat, cwd=tmp_path)
    assert failed.returncode == 1, failed.stderr
    assert re.fullmatch(
        r"FAIL Gone  \[-, 0 items, \d+\.\ds\]\n"
        rf"     {re.escape(gone.url)}\n"
        r"     connection failed: .*Connection refused\n"
        r"\n0 of 1 feeds OK\n",
        failed.stdout,
    ), failed.stdout

    both = ww("feeds", "check", "--json", "--feeds", cat, cwd=tmp_path)
    assert both.returncode == 1, both.stderr
    reports = json.loads(both.stdout)
    for report in reports:
        assert report.pop("elapsed_s") >= 0
    assert reports[0] == {
        "url": good.url,
        "name": "Good",
        "status": 200,
        "outcome": "ok",
        "items": 2,
        "entry_errors": ["entry 3: no guid, link or title"],
        "error": None,
        "moved_to": None,
    }
    assert {k: v for k, v in reports[1].items() if k != "error"} == {
        "url": gone.url,
        "name": "Gone",
        "status": None,
        "outcome": "error",
        "items": 0,
        "entry_errors": [],
        "moved_to": None,
    }
    assert reports[1]["error"].startswith("connection failed:")

    unknown = ww("feeds", "check", "https://x.example/rss", "--feeds", cat, cwd=tmp_path)
    assert (unknown.returncode, error_lines(unknown)) == (
        2,
        ["wirewatch: not in the catalog: https://x.example/rss"],
    )
    # check fetches unconditionally and saves no state.
    assert [(r.path, r.headers.get("if-none-match")) for r in server.requests] == [("/a.xml", None)] * 2
    assert not (tmp_path / ".wirewatch").exists()


def test_check_refuses_a_loopback_feed_that_does_not_allow_private(
    server: FeedServer, tmp_path: pathlib.Path
):
    server.route("/a.xml", [Response(200, rss(("a1", "One")))])
    feed = FeedSpec(url=server.url("/a.xml"), name="Loopback")
    cat = str(new_catalog(tmp_path, feed))

    result = ww("feeds", "check", "--json", "--feeds", cat, cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    [report] = json.loads(result.stdout)
    assert (report["outcome"], report["status"], report["error"]) == (
        "error",
        None,
        "refused 127.0.0.1: it resolves to non-public address 127.0.0.1 (allow_private is off)",
    )
    assert server.requests == []


def test_check_shows_a_permanent_move(server: FeedServer, tmp_path: pathlib.Path):
    server.route("/old.xml", [Response.redirect(301, server.url("/new.xml"))])
    server.route("/new.xml", [Response(200, rss(("a1", "One")))])
    feed = FeedSpec(url=server.url("/old.xml"), name="Moved", allow_private=True)
    cat = str(new_catalog(tmp_path, feed))

    result = ww("feeds", "check", "--feeds", cat, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert f"     moved permanently to {server.url('/new.xml')}: update the catalog\n" in result.stdout
    assert server.paths == ["/old.xml", "/new.xml"]


# --- run --feeds -------------------------------------------------------------------------------


def _summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_run_twice_writes_once_then_polls_conditionally_and_list_shows_the_state(
    server: FeedServer, tmp_path: pathlib.Path
):
    alpha = ConditionalFeed(rss(("a1", "Parliament passes the budget"), ("a2", "Floods close the highway")))
    beta = ConditionalFeed(rss(("b1", "Central bank holds rates")))
    server.route("/alpha.xml", alpha)
    server.route("/beta.xml", beta)
    feeds = (
        FeedSpec(url=server.url("/alpha.xml"), name="Alpha", allow_private=True),
        FeedSpec(url=server.url("/beta.xml"), name="Beta", allow_private=True),
        FeedSpec(url=closed_port_url(), name="Gone", allow_private=True),
    )
    cat = str(new_catalog(tmp_path, *feeds))
    store = str(tmp_path / "store")

    first = _summary(ww("run", "--feeds", cat, "--store", store, "--json", cwd=tmp_path))
    second = _summary(ww("run", "--feeds", cat, "--store", store, "--json", cwd=tmp_path))

    counts = (
        "read",
        "written",
        "already_stored",
        "dead_letters",
        "feeds_polled",
        "feeds_not_modified",
        "feeds_failed",
    )
    assert [first[k] for k in counts] == [3, 3, 0, 1, 3, 0, 1]
    # Gone fails the same way again: counted under feeds_failed and in its state, no second dead letter.
    assert [second[k] for k in counts] == [0, 0, 0, 0, 3, 2, 1]
    assert [(d["stage"], d["source"]) for d in first["rejected"]] == [("fetch_feed", feeds[2].url)]
    assert second["rejected"] == []
    assert validators_by_path(server) == {"/alpha.xml": [None, alpha.etag], "/beta.xml": [None, beta.etag]}

    stats = ww("stats", "--json", "--store", store, cwd=tmp_path)
    assert json.loads(stats.stdout)["articles"] == 3

    listed = ww("feeds", "list", "--json", "--feeds", cat, "--store", store, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    states = {entry["name"]: entry["state"] for entry in json.loads(listed.stdout)}
    for name, etag, seen in (("Alpha", alpha.etag, 2), ("Beta", beta.etag, 1)):
        state = states[name]
        assert {
            k: state[k] for k in ("etag", "last_status", "last_error", "consecutive_failures", "disabled")
        } == {
            "etag": etag,
            "last_status": 304,
            "last_error": None,
            "consecutive_failures": 0,
            "disabled": False,
        }, name
        assert len(state["seen_ids"]) == seen  # kept from the 200: they are what the validators vouch for
    gone = states["Gone"]
    assert (gone["last_status"], gone["consecutive_failures"], gone["disabled"]) == (None, 2, False)
    assert gone["last_error"].startswith("connection failed:")

    human = ww("feeds", "list", "--feeds", cat, "--store", store, cwd=tmp_path)
    assert human.returncode == 0, human.stderr
    assert (
        len(re.findall(r"^    last poll .*, status 304, 0 new, 0 failures in a row$", human.stdout, re.M))
        == 2
    )
    assert (
        len(re.findall(r"^    last poll .*, status -, 0 new, 2 failures in a row$", human.stdout, re.M)) == 1
    )
    assert re.search(r"^    last error: connection failed: ", human.stdout, re.M)
