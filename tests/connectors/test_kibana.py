"""`wirewatch kibana import` against a stand-in for Kibana's saved objects import API.

Kibana itself cannot be installed on this machine: only PyPI, Maven Central, npm, Debian,
crates.io and the Go module proxy are reachable, Kibana is on none of them, and there is no
Docker. So a real HTTP server on 127.0.0.1 plays Kibana: it records each request (method, path
with query string, headers, body) and answers the way Kibana's `POST /api/saved_objects/_import`
does (`{"success", "successCount", "successResults", "errors"}`, or `{"statusCode", "error",
"message"}` for a refused request).
"""

from __future__ import annotations

import base64
import email
import email.policy
import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from connectors.kibana import DEFAULT_KIBANA_URL, kibana_settings, with_index_prefix
from pipelines.cli import main
from pipelines.cli_kibana import DEFAULT_FILE
from schemas.errors import ConfigError

CREDENTIAL_VARIABLES = (
    "ELASTICSEARCH_API_KEY",
    "ELASTICSEARCH_USERNAME",
    "ELASTICSEARCH_PASSWORD",
    "ELASTICSEARCH_CA_CERTS",
    "ELASTICSEARCH_VERIFY_CERTS",
    "WIREWATCH_ES_INDEX_PREFIX",
    "KIBANA_URL",
)
COMMITTED = DEFAULT_FILE.read_bytes()


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def upload(self) -> tuple[str, str, bytes]:
        """(form field name, file name, content) of the one file in a multipart/form-data body."""
        message = email.message_from_bytes(
            f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode() + self.body,
            policy=email.policy.HTTP,
        )
        assert message.is_multipart()
        (part,) = list(message.iter_parts())
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return str(part.get_param("name", header="content-disposition")), str(part.get_filename()), payload

    def objects(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.upload()[2].decode().splitlines() if line.strip()]


Reply = tuple[int, bytes, dict[str, str]]


def kibana_json(status: int, body: Any) -> Reply:
    return status, json.dumps(body).encode(), {"Content-Type": "application/json; charset=utf-8"}


def imports_everything(request: Recorded) -> Reply:
    """Kibana's answer when every uploaded object was imported."""
    results = [{"type": o["type"], "id": o["id"], "meta": {"title": "t"}} for o in request.objects()]
    return kibana_json(200, {"success": True, "successCount": len(results), "successResults": results})


@dataclass
class FakeKibana:
    answer: Callable[[Recorded], Reply] = imports_everything
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    fake = FakeKibana()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            recorded = Recorded(
                method="POST",
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length),
            )
            fake.requests.append(recorded)
            status, body, headers = fake.answer(recorded)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def _no_credentials_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["kibana", "import", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- the request -----------------------------------------------------------------------------------


@pytest.mark.integration
def test_import_uploads_the_committed_ndjson_as_multipart(kibana: FakeKibana, capsys):
    code, out, err = run(capsys, "--kibana-url", kibana.url)
    assert (code, err) == (0, "")
    (request,) = kibana.requests
    assert request.method == "POST"
    assert request.path == "/api/saved_objects/_import?overwrite=true"
    assert request.headers["kbn-xsrf"] == "true"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert "authorization" not in request.headers
    assert request.upload() == ("file", "wirewatch.ndjson", COMMITTED)
    total = len(COMMITTED.splitlines())
    assert out.splitlines()[0].startswith(
        f"imported {total} of {total} saved objects from wirewatch.ndjson into Kibana at {kibana.url} "
        "(space default): 1 dashboard, 3 index-pattern, 6 lens, 9 search"
    )


@pytest.mark.integration
def test_kibana_url_from_the_environment(kibana: FakeKibana, capsys, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KIBANA_URL", kibana.url)
    code, _, _ = run(capsys)
    assert code == 0
    assert len(kibana.requests) == 1


@pytest.mark.integration
def test_space_and_no_overwrite(kibana: FakeKibana, capsys):
    code, _, _ = run(capsys, "--kibana-url", kibana.url, "--space", "analysts", "--no-overwrite")
    assert code == 0
    assert kibana.requests[0].path == "/s/analysts/api/saved_objects/_import?overwrite=false"


@pytest.mark.integration
def test_the_default_space_uses_the_plain_path(kibana: FakeKibana, capsys):
    run(capsys, "--kibana-url", kibana.url, "--space", "default")
    assert kibana.requests[0].path == "/api/saved_objects/_import?overwrite=true"


@pytest.mark.integration
def test_basic_auth_from_the_elasticsearch_variables(kibana: FakeKibana, capsys, monkeypatch):
    monkeypatch.setenv("ELASTICSEARCH_USERNAME", "analyst")
    monkeypatch.setenv("ELASTICSEARCH_PASSWORD", "s3cret-pw")
    run(capsys, "--kibana-url", kibana.url)
    expected = base64.b64encode(b"analyst:s3cret-pw").decode()
    assert kibana.requests[0].headers["authorization"] == f"Basic {expected}"


@pytest.mark.integration
def test_api_key_from_the_elasticsearch_variable(kibana: FakeKibana, capsys, monkeypatch):
    monkeypatch.setenv("ELASTICSEARCH_API_KEY", "aWQ6a2V5")
    run(capsys, "--kibana-url", kibana.url)
    assert kibana.requests[0].headers["authorization"] == "ApiKey aWQ6a2V5"


@pytest.mark.integration
def test_a_non_default_prefix_retargets_the_data_views(kibana: FakeKibana, capsys):
    code, _, _ = run(capsys, "--kibana-url", kibana.url, "--es-index-prefix", "newsroom")
    assert code == 0
    objects = kibana.requests[0].objects()
    views = {o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    assert views == {"newsroom-articles*", "newsroom-alerts*", "newsroom-deadletters*"}
    ids = {o["id"] for o in objects}
    assert all(i.startswith("newsroom-") for i in ids)
    assert all(r["id"] in ids for o in objects for r in o["references"])
    dashboard = next(o for o in objects if o["type"] == "dashboard")
    assert dashboard["attributes"]["title"] == "Wirewatch overview [newsroom]"


def test_the_prefix_rewrite_keeps_the_default_file_as_it_is():
    text = COMMITTED.decode()
    assert with_index_prefix(text, "wirewatch") == text
    rewritten = with_index_prefix(text, "ww-test")
    assert "wirewatch-" not in rewritten.replace("Wirewatch", "")
    assert len(rewritten.splitlines()) == len(text.splitlines())


@pytest.mark.integration
def test_a_file_not_named_ndjson_is_uploaded_under_a_name_kibana_accepts(
    kibana: FakeKibana, capsys, tmp_path
):
    path = tmp_path / "objects.json"
    path.write_bytes(COMMITTED)
    code, _, _ = run(capsys, "--kibana-url", kibana.url, "--file", str(path))
    assert code == 0
    assert kibana.requests[0].upload()[1] == "wirewatch.ndjson"


# --- what Kibana answers ------------------------------------------------------------------------------


def partly_refused(request: Recorded) -> Reply:
    objects = request.objects()
    refused = {"wirewatch-articles", "wirewatch-lens-top-actors"}
    return kibana_json(
        200,
        {
            "success": False,
            "successCount": len(objects) - 2,
            "successResults": [{"type": o["type"], "id": o["id"]} for o in objects if o["id"] not in refused],
            "errors": [
                {
                    "id": "wirewatch-articles",
                    "type": "index-pattern",
                    "title": "wirewatch-articles*",
                    "meta": {"title": "wirewatch-articles*", "icon": "indexPatternApp"},
                    "error": {"type": "conflict"},
                },
                {
                    "id": "wirewatch-lens-top-actors",
                    "type": "lens",
                    "meta": {"title": "Top actors", "icon": "lensApp"},
                    "error": {
                        "type": "missing_references",
                        "references": [{"type": "index-pattern", "id": "wirewatch-articles"}],
                    },
                },
            ],
        },
    )


@pytest.mark.integration
def test_refused_objects_are_listed_with_their_reason_and_exit_1(kibana: FakeKibana, capsys):
    kibana.answer = partly_refused
    code, out, err = run(capsys, "--kibana-url", kibana.url, "--no-overwrite")
    total = len(COMMITTED.splitlines())
    assert code == 1
    assert err == ""
    lines = out.splitlines()
    assert lines[0].startswith(f"imported {total - 2} of {total} saved objects")
    assert lines[1:] == [
        "2 not imported:",
        "  index-pattern wirewatch-articles (wirewatch-articles*): already exists "
        "(import with --overwrite to replace it)",
        "  lens wirewatch-lens-top-actors (Top actors): refers to objects that exist neither in the "
        "file nor in Kibana: index-pattern wirewatch-articles",
    ]


@pytest.mark.integration
def test_refused_objects_in_json(kibana: FakeKibana, capsys):
    kibana.answer = partly_refused
    code, out, _ = run(capsys, "--kibana-url", kibana.url, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["success"] is False
    assert [(e["type"], e["id"]) for e in report["errors"]] == [
        ("index-pattern", "wirewatch-articles"),
        ("lens", "wirewatch-lens-top-actors"),
    ]
    assert report["imported_count"] == len(COMMITTED.splitlines()) - 2


@pytest.mark.integration
def test_a_failure_without_details_is_still_a_failure(kibana: FakeKibana, capsys):
    kibana.answer = lambda _: kibana_json(200, {"success": False, "successCount": 0})
    code, out, _ = run(capsys, "--kibana-url", kibana.url)
    assert code == 1
    assert "Kibana reported a failure without details" in out


def closed_port_url() -> str:
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.integration
def test_unreachable_kibana_is_one_line(capsys):
    url = closed_port_url()
    code, out, err = run(capsys, "--kibana-url", url)
    assert code == 1
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"wirewatch: cannot reach Kibana at {url}: ")
    assert "Connection refused" in line
    assert "Traceback" not in err


@pytest.mark.integration
def test_refused_credentials_are_one_line_without_the_secret(kibana: FakeKibana, capsys, monkeypatch):
    monkeypatch.setenv("ELASTICSEARCH_USERNAME", "analyst")
    monkeypatch.setenv("ELASTICSEARCH_PASSWORD", "s3cret-pw")
    kibana.answer = lambda _: kibana_json(
        401,
        {
            "statusCode": 401,
            "error": "Unauthorized",
            "message": "[security_exception] unable to authenticate",
        },
    )
    code, out, err = run(capsys, "--kibana-url", kibana.url)
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"wirewatch: Kibana at {kibana.url} refused the credentials (401): [security_exception] unable to "
        "authenticate; set ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD, or ELASTICSEARCH_API_KEY"
    ]
    assert "s3cret-pw" not in err


@pytest.mark.integration
@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            kibana_json(403, {"statusCode": 403, "error": "Forbidden", "message": "Unable to bulk_create"}),
            "refused the import (403, a missing privilege",
        ),
        (
            kibana_json(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}),
            "has no space 'nowhere' (404)",
        ),
        (
            kibana_json(413, {"statusCode": 413, "error": "Request Entity Too Large", "message": "too big"}),
            "refused the import (413): too big",
        ),
        (
            (200, b"<html>hello</html>", {"Content-Type": "text/html"}),
            "did not answer like Kibana's import API",
        ),
        ((302, b"", {"Location": "/login"}), "redirected the import to /login"),
    ],
)
def test_a_refused_request_is_one_line(kibana: FakeKibana, capsys, reply: Reply, expected: str):
    kibana.answer = lambda _: reply
    code, out, err = run(capsys, "--kibana-url", kibana.url, "--space", "nowhere")
    assert code == 1
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("wirewatch: ")
    assert expected in line


# --- settings ----------------------------------------------------------------------------------------


def test_settings_flag_wins_then_environment_then_default():
    env = {"KIBANA_URL": "https://kibana.example.org"}
    assert kibana_settings("http://127.0.0.1:5602", env).url == "http://127.0.0.1:5602"
    assert kibana_settings(None, env).url == "https://kibana.example.org"
    assert kibana_settings(None, {}).url == DEFAULT_KIBANA_URL


def test_settings_move_url_credentials_out_of_the_url():
    settings = kibana_settings("http://analyst:pw@127.0.0.1:5601", {})
    assert settings.url == "http://127.0.0.1:5601"
    assert settings.username == "analyst"


@pytest.mark.parametrize(
    ("url", "env", "message"),
    [
        ("ftp://kibana", {}, "--kibana-url: must be an http:// or https:// URL with a host"),
        ("http://kibana", {}, "--kibana-url: needs a port"),
        (None, {"KIBANA_URL": "http://kibana:5601/?x=1"}, "KIBANA_URL: must not carry a query string"),
        (
            "http://a:b@127.0.0.1:5601",
            {"ELASTICSEARCH_API_KEY": "k"},
            "--kibana-url: carries user:password while ELASTICSEARCH_API_KEY is also set",
        ),
    ],
)
def test_bad_settings_name_the_flag_or_variable(url: str | None, env: dict[str, str], message: str):
    with pytest.raises(ConfigError, match="^" + message.replace("?", r"\?").replace("(", r"\(")):
        kibana_settings(url, env)


def test_usage_errors_exit_2_with_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "--space", "Not A Space")
    assert code == 2
    assert err.startswith("wirewatch: --space: ")
    code, _, err = run(capsys, "--file", str(tmp_path / "missing.ndjson"))
    assert code == 2
    assert err.startswith("wirewatch: --file: cannot read ")
    bad = tmp_path / "bad.ndjson"
    bad.write_text("{not json\n")
    code, _, err = run(capsys, "--file", str(bad), "--es-index-prefix", "other")
    assert code == 2
    assert err.startswith("wirewatch: --file: ")
