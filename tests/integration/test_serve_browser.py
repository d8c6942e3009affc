"""`wirewatch serve` in a real headless Chromium (Debian's package, driven by Playwright), against
a real server process on 127.0.0.1, for both stores.

Each store holds the real-news corpus (the shared world-news captures, normalized and tagged as
the pipeline does), plus the two seeds and a syndicated copy of the first, run through `wirewatch
run` so the copy is folded under its canonical article, plus an article whose title is a script.
Screenshots of every page go to $WIREWATCH_SCREENSHOTS (default build/screenshots/).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

from connectors.es_indices import IndexNames, article_document, ensure_indices
from connectors.localstore import LocalStore
from schemas.records import Article
from tests.conftest import SEEDS, as_canonical, delete_prefix, news_articles
from tests.integration.test_cli import WIREWATCH, wirewatch
from tests.pipelines.test_dedup import KIM_PUTIN_NOV_9, seed_body, syndicate

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = pathlib.Path(os.environ.get("WIREWATCH_SCREENSHOTS", "build/screenshots"))
SCRIPT_TITLE = "<script>alert('owned')</script> Pyongyang tests a new engine"
CATALOG = SEEDS / "feeds.yaml"


def _script_article() -> Article:
    model = as_canonical(news_articles()[0])
    return model.model_copy(
        update={"id": "5c" * 16, "title": SCRIPT_TITLE, "url": None, "canonical_url": None}
    )


def _seed_folder(folder: pathlib.Path) -> pathlib.Path:
    folder.mkdir()
    for name in (KIM_PUTIN_NOV_9, "004_0150c9251e40f8c3.txt"):
        shutil.copy(SEEDS / name, folder / name)
    (folder / "copy.txt").write_text(
        f"date 2023-11-09 {syndicate(seed_body(KIM_PUTIN_NOV_9))}", encoding="utf-8"
    )
    return folder


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Server:
    """One `wirewatch serve` process."""

    def __init__(self, flags: list[str], cwd: pathlib.Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.flags = flags
        env = {k: v for k, v in os.environ.items() if k != "ELASTICSEARCH_URL"}
        self.log = cwd / "serve.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [WIREWATCH, "serve", "--port", str(self.port), "--feeds", str(CATALOG), *flags],
                cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/feeds", timeout=5):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    output = self.log.read_text(encoding="utf-8", errors="replace")
                    raise AssertionError(f"wirewatch serve did not start:\n{output}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("serve-local")
    db = folder / "w.db"
    run = wirewatch("run", "--seeds", str(_seed_folder(folder / "seeds")), "--store", str(db), cwd=folder)
    assert run.returncode == 0, run.stderr
    store = LocalStore(str(db))
    store.write_articles([*(as_canonical(a) for a in news_articles()), _script_article()])
    store.close()
    server = Server(["--store", str(db)], folder)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def es_server(es: Elasticsearch, es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("serve-es")
    names = IndexNames(f"test-serve-{uuid.uuid4().hex[:10]}")
    try:
        run = wirewatch(
            "run", "--seeds", str(_seed_folder(folder / "seeds")),
            "--es-url", es_url, "--es-index-prefix", names.prefix, cwd=folder,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        ensure_indices(es, names)
        articles = [*(as_canonical(a) for a in news_articles()), _script_article()]
        actions = (
            {"_index": names.articles_alias, "_id": a.id, "_source": article_document(a)} for a in articles
        )
        helpers.bulk(es, actions, refresh="wait_for")
        server = Server(["--es-url", es_url, "--es-index-prefix", names.prefix], folder)
        yield server
        server.stop()
    finally:
        delete_prefix(es, names.prefix)


@pytest.fixture(params=["embedded", "elasticsearch"])
def server(request: pytest.FixtureRequest) -> Server:
    fixture = "local_server" if request.param == "embedded" else "es_server"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: `make test` installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    dialogs: list[str] = []

    def dismissed(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    opened.on("dialog", dismissed)
    opened.dialogs = dialogs
    yield opened
    context.close()


def _shot(page: Any, server: Server, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    kind = "es" if "--es-url" in server.flags else "embedded"
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{kind}.png"), full_page=True)


def _cli_count(server: Server, *args: str) -> int:
    flags = server.flags
    done = wirewatch("search", *args, "--limit", "100000", "--json", *flags, cwd=pathlib.Path.cwd())
    assert done.returncode == 0, done.stderr
    return len(json.loads(done.stdout))


def test_search_finds_the_seed_of_2023_11_09(server: Server, page: Any):
    page.goto(f"{server.url}/")
    page.fill("input[name=q]", "satellites")
    page.click("button[type=submit]")
    titles = page.locator("li.hit .meta").all_inner_texts()
    assert any(meta.startswith("2023-11-09") for meta in titles), titles
    _shot(page, server, "search")


def test_an_actor_facet_narrows_the_list_to_the_clis_count(server: Server, page: Any):
    page.goto(f"{server.url}/?q=Trump")
    before = int(page.inner_text("#total-count"))
    facet = page.locator("section[data-facet=actor] li a").first
    qid = facet.get_attribute("data-value")
    shown = int(facet.locator("xpath=following-sibling::span").inner_text())
    facet.click()
    after = int(page.inner_text("#total-count"))
    assert after == shown < before or after == shown == before
    assert after == _cli_count(server, "Trump", "--actor", qid)
    assert f"actor: {qid}" in page.inner_text("aside.facets")
    _shot(page, server, "facet")


def test_the_article_page_marks_the_evidence_of_every_tag(server: Server, page: Any):
    page.goto(f"{server.url}/?q=satellites")
    page.locator("li.hit a.title").first.click()
    marks = page.locator(".text mark")
    assert marks.count() > 3
    notes = [marks.nth(i).get_attribute("title") or "" for i in range(marks.count())]
    assert all(note.startswith(("actor ", "topic ")) for note in notes), notes
    assert any("Vladimir Putin" in note for note in notes)
    assert "Vladimir Putin" in page.inner_text("ul.actors")
    _shot(page, server, "article")


def test_a_copy_shows_under_its_canonical(server: Server, page: Any):
    page.goto(f"{server.url}/?q=satellites")
    hit = page.locator("li.hit", has=page.locator("a.outlets"))
    assert hit.count() >= 1
    assert "+1 outlet" in hit.first.inner_text()
    hit.first.locator("a.outlets").click()
    outlets = page.locator("ul.outlets li")
    assert outlets.count() == 2
    outlets.locator("a").first.click()
    assert "A copy (near" in page.inner_text("p.copy")


def test_a_script_in_a_title_is_shown_as_text_and_never_runs(server: Server, page: Any):
    page.goto(f"{server.url}/?q=Pyongyang+engine")
    assert SCRIPT_TITLE in page.inner_text("ol.hits")
    page.locator("li.hit a.title", has_text="Pyongyang tests a new engine").click()
    assert SCRIPT_TITLE in page.inner_text("h1.title")
    assert page.dialogs == []  # the script did not run: no alert() dialog
    _shot(page, server, "script-title")


def test_the_feeds_page_lists_every_catalog_feed(server: Server, page: Any):
    from connectors.feed_catalog import load_catalog

    page.goto(f"{server.url}/feeds")
    names = page.locator("table.feeds span.name").all_inner_texts()
    assert names == [feed.name for feed in load_catalog(str(CATALOG)).feeds]
    _shot(page, server, "feeds")


def test_a_bad_query_is_a_message_not_a_traceback(server: Server, page: Any):
    response = page.goto(f"{server.url}/?q=titel:x")
    assert response.status == 200
    assert "unknown field 'titel'" in page.inner_text("#error")
    assert "Traceback" not in page.content()
    headers = response.headers
    assert "default-src 'none'" in headers["content-security-policy"]
