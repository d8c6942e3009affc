"""Elasticsearch that is not what it should be (issue 15, item 12): a web server at --es-url, and
indices behind Wirewatch's aliases with other field types. Once, the first printed a traceback or
a whole HTML page and `stats` counted an empty store; the second passed `es setup` and `es status`
and failed searches later with "No mapping found for [id]". Now each is one line saying what to do."""

from __future__ import annotations

import http.server
import json
import pathlib
import threading
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from tests.conftest import SEEDS
from tests.integration.test_cli import wirewatch

pytestmark = pytest.mark.integration

PAGE = (
    b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title><style>body { width: 35em; }</style>"
    b"</head><body><h1>Welcome to nginx!</h1>" + b"<p>If you see this page, the web server works.</p>" * 100
) + b"</body></html>"


@pytest.fixture(params=[200, 404])
def web_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering every request with an HTML page (200 or 404)."""
    status = request.param

    class Page(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(PAGE)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _only_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_web_server_at_es_url_is_one_line_from_every_command(web_server: str, tmp_path: pathlib.Path):
    for args in (
        ["es", "status"],
        ["es", "setup"],
        ["stats"],
        ["search", "Putin"],
        ["run", "--seeds", str(SEEDS)],
    ):
        result = wirewatch(*args, "--es-url", web_server, "-q", cwd=tmp_path)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        line = _only_line(result.stderr)
        assert f"{web_server} is not Elasticsearch (" in line, line
        assert 'an HTML page "Welcome to nginx!"' in line, line
        assert "check --es-url or ELASTICSEARCH_URL" in line, line
        assert "<" not in line, line  # no HTML, and far shorter than the page
        assert len(line) < 400, line


def test_an_index_with_other_field_types_is_named_with_the_fix(
    es_url: str, es_prefix: str, tmp_path: pathlib.Path
):
    index, alias = f"{es_prefix}-articles-000001", f"{es_prefix}-articles"
    client = Elasticsearch(es_url, request_timeout=30)
    try:
        # As a hand-made index (or one created on the fly by a write before setup) would be.
        client.indices.create(
            index=index,
            aliases={alias: {"is_write_index": True}},
            mappings={"properties": {"id": {"type": "text"}, "published_at": {"type": "keyword"}}},
        )
        flags = ["--es-url", es_url, "--es-index-prefix", es_prefix, "-q"]
        expected = (
            f"index {index} maps fields unlike Wirewatch: id is text (needs keyword), url is not mapped "
            "(needs keyword), canonical_url is not mapped (needs keyword) and "
        )

        setup = wirewatch("es", "setup", *flags, cwd=tmp_path)
        assert setup.returncode == 1, setup.stdout
        line = _only_line(setup.stderr)
        assert line.startswith(f"wirewatch: {expected}"), line
        assert f"`wirewatch es reset --yes --es-index-prefix {es_prefix}`" in line, line

        status = wirewatch("es", "status", "--json", *flags, cwd=tmp_path)
        assert status.returncode == 1
        problems = json.loads(status.stdout)["mapping_problems"]
        assert len(problems) == 1
        assert problems[0].startswith(expected)
        assert "published_at is keyword (needs date)" not in problems[0]  # only the first three fields…
        assert f"wirewatch: {problems[0]}" in status.stderr.splitlines()

        # Commands whose queries such an index cannot answer point to `es status`.
        for args in (["run", "--seeds", str(SEEDS)], ["stats"]):
            result = wirewatch(*args, *flags, cwd=tmp_path)
            assert result.returncode == 1, result.stdout
            line = _only_line(result.stderr)
            assert f"Elasticsearch at {es_url} cannot run the query on these indices (" in line, line
            assert f"in [{index}]" in line or "published_at] of type [keyword]" in line, line
            assert "): `wirewatch es status` lists fields mapped unlike Wirewatch" in line, line

        # The fix the line names works.
        assert wirewatch("es", "reset", "--yes", *flags, cwd=tmp_path).returncode == 0
        assert wirewatch("es", "setup", *flags, cwd=tmp_path).returncode == 0
        fixed = wirewatch("es", "status", "--json", *flags, cwd=tmp_path)
        assert fixed.returncode == 0, fixed.stderr
        assert json.loads(fixed.stdout)["mapping_problems"] == []
    finally:
        client.close()
