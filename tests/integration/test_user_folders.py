"""Defaults that do not depend on the folder a command runs in: the store in the user data folder,
the feed catalog in the user config folder (a copy of the bundled one, edited in place)."""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from connectors.feed_catalog import load_catalog
from pipelines.store_location import BUNDLED_CATALOG
from tests.conftest import REPO, SEEDS
from tests.integration.test_cli import wirewatch
from tests.integration.test_feeds_cli import OPML

pytestmark = pytest.mark.integration


def _elsewhere(tmp_path: pathlib.Path) -> pathlib.Path:
    """An empty folder far from the repository: nothing relative to it can be found by accident."""
    folder = tmp_path / "somewhere" / "else"
    folder.mkdir(parents=True)
    return folder


def test_run_search_and_feeds_list_work_from_any_folder(tmp_path: pathlib.Path):
    here = _elsewhere(tmp_path)
    data, config = pathlib.Path(os.environ["XDG_DATA_HOME"]), pathlib.Path(os.environ["XDG_CONFIG_HOME"])
    run = wirewatch("run", "--seeds", str(SEEDS), "--json", cwd=here)
    assert run.returncode == 0, run.stderr
    assert (data / "wirewatch" / "wirewatch.db").is_file()
    assert not list(here.iterdir())  # nothing written where the command ran
    found = wirewatch("search", "satellites", "--json", cwd=_elsewhere(tmp_path / "other"))
    assert [hit["published_at"][:10] for hit in json.loads(found.stdout)] == ["2023-11-09"]

    listed = wirewatch("feeds", "list", "--json", cwd=here)
    assert listed.returncode == 0, listed.stderr
    user_catalog = config / "wirewatch" / "feeds.yaml"
    assert user_catalog.read_bytes() == BUNDLED_CATALOG.read_bytes()  # a copy, comments and all
    assert [feed["url"] for feed in json.loads(listed.stdout)] == [
        f.url for f in load_catalog(str(BUNDLED_CATALOG)).feeds
    ]


def test_feeds_add_and_remove_edit_only_their_lines_of_the_users_catalog(tmp_path: pathlib.Path):
    here = _elsewhere(tmp_path)
    bundled = BUNDLED_CATALOG.read_text(encoding="utf-8")
    first = load_catalog(str(BUNDLED_CATALOG)).feeds[2]
    wirewatch("feeds", "list", cwd=here)  # creates the user's catalog
    user_catalog = pathlib.Path(os.environ["XDG_CONFIG_HOME"]) / "wirewatch" / "feeds.yaml"
    text = user_catalog.read_text(encoding="utf-8").replace(
        "feeds:\n", "feeds:\n# my own note: keep the wires first\n", 1
    )
    user_catalog.write_text(text, encoding="utf-8")

    removed = wirewatch("feeds", "remove", first.url, cwd=here)
    assert removed.returncode == 0, removed.stderr
    added = wirewatch(
        "feeds", "add", "https://news.example.org/rss", "--name", "Example News", "--tags", "a,b", cwd=here
    )
    assert added.returncode == 0, added.stderr

    after = user_catalog.read_text(encoding="utf-8")
    lines = text.splitlines()
    begin = lines.index(f"- url: {first.url}")
    stop = next(i for i in range(begin + 1, len(lines)) if lines[i].startswith("- url: "))
    expected = [
        *lines[:begin],
        *lines[stop:],
        "- url: https://news.example.org/rss",
        "  name: Example News",
        "  tags: [a, b]",
    ]
    assert after.splitlines() == expected  # that feed's lines out, the new ones in: nothing else moved
    assert "# my own note: keep the wires first" in after
    assert BUNDLED_CATALOG.read_text(encoding="utf-8") == bundled  # the installed file is untouched
    assert REPO not in user_catalog.parents


def test_feeds_import_can_allow_private_addresses(tmp_path: pathlib.Path):
    here = _elsewhere(tmp_path)
    catalog = str(tmp_path / "mine.yaml")
    plain = wirewatch("feeds", "import", str(OPML), "--feeds", catalog, cwd=here)
    assert plain.returncode == 0, plain.stderr
    assert not any(feed.allow_private for feed in load_catalog(catalog).feeds)
    private = str(tmp_path / "private.yaml")
    allowed = wirewatch("feeds", "import", str(OPML), "--allow-private", "--feeds", private, cwd=here)
    assert allowed.returncode == 0, allowed.stderr
    feeds = load_catalog(private).feeds
    assert feeds
    assert all(feed.allow_private for feed in feeds)
