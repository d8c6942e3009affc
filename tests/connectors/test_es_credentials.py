"""Where Elasticsearch secrets come from: the environment, a mounted file (the `_FILE` variables) or
a Secret Manager secret version (the `_SECRET` variables, fetched through a fake here), read by the
CLI for its own checks and again by every worker in setup(); never pickled. A secret version's
*name* is not a secret: the job graph carries it to workers that have no credential of their own."""

from __future__ import annotations

import base64
import os
import pathlib
import pickle
import sys

import pytest
from pydantic import SecretStr, ValidationError

from connectors.elasticsearchio import ElasticsearchSink, WriteToElasticsearch, _WriteArticlesFn
from connectors.es_client import (
    EsEndpoint,
    EsSettings,
    RetryPolicy,
    check_secret_version,
    fetch_gcp_secret,
    fetch_secret_version,
    move_url_credentials,
    read_secret,
    settings_from_env,
)
from connectors.es_indices import IndexNames
from connectors.store import StoreError
from schemas.errors import ConfigError

SECRET = "hunter2-Secret-from-a-file"
API_KEY = base64.b64encode(b"key-id:api-key-secret-part").decode()
URL = "https://es.example:9243"
CREDENTIAL_VARIABLES = (
    "ELASTICSEARCH_URL",
    "ELASTICSEARCH_USERNAME",
    "ELASTICSEARCH_PASSWORD",
    "ELASTICSEARCH_PASSWORD_FILE",
    "ELASTICSEARCH_API_KEY",
    "ELASTICSEARCH_API_KEY_FILE",
    "ELASTICSEARCH_PASSWORD_SECRET",
    "ELASTICSEARCH_API_KEY_SECRET",
)


@pytest.fixture(autouse=True)
def _no_credentials_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _secret_file(tmp_path: pathlib.Path, content: bytes, name: str = "secret") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def _assert_clean(text: str) -> None:
    assert "\n" not in text
    assert SECRET not in text
    assert API_KEY not in text


# --- read_secret --------------------------------------------------------------------------------


def test_a_secret_comes_from_the_variable_or_from_the_file_it_names(tmp_path: pathlib.Path):
    assert read_secret({}, "ELASTICSEARCH_PASSWORD") is None
    assert read_secret({"ELASTICSEARCH_PASSWORD": "  "}, "ELASTICSEARCH_PASSWORD") is None
    assert read_secret({"ELASTICSEARCH_PASSWORD": SECRET}, "ELASTICSEARCH_PASSWORD") == SECRET
    path = _secret_file(tmp_path, SECRET.encode())
    assert read_secret({"ELASTICSEARCH_PASSWORD_FILE": path}, "ELASTICSEARCH_PASSWORD") == SECRET


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"pw\n", "pw"),
        (b"pw\r\n", "pw"),
        (b"pw\n\n", "pw\n"),  # only one: the rest is the secret's own
        (b" pw with spaces ", " pw with spaces "),
        ("pässwörd\n".encode(), "pässwörd"),
    ],
)
def test_a_secret_file_loses_one_trailing_newline_only(tmp_path: pathlib.Path, content: bytes, expected: str):
    path = _secret_file(tmp_path, content)
    assert read_secret({"ELASTICSEARCH_API_KEY_FILE": path}, "ELASTICSEARCH_API_KEY") == expected


def test_both_the_variable_and_its_file_is_a_config_error(tmp_path: pathlib.Path):
    env = {"ELASTICSEARCH_PASSWORD": SECRET, "ELASTICSEARCH_PASSWORD_FILE": _secret_file(tmp_path, b"x")}
    with pytest.raises(ConfigError) as caught:
        read_secret(env, "ELASTICSEARCH_PASSWORD")
    assert str(caught.value) == "ELASTICSEARCH_PASSWORD and ELASTICSEARCH_PASSWORD_FILE are both set; use one"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: str(d / "missing"), "cannot read {path}: No such file or directory"),
        (lambda d: str(d), "cannot read {path}: Is a directory"),
        (lambda d: _secret_file(d, b"\xff\xfe" + SECRET.encode("utf-16-le")), "{path} is not UTF-8 text"),
        (lambda d: _secret_file(d, b"\n"), "{path} is empty"),
        (lambda d: _secret_file(d, b""), "{path} is empty"),
    ],
    ids=["missing", "directory", "not-utf8", "newline-only", "empty"],
)
def test_an_unusable_secret_file_names_the_variable_not_the_value(tmp_path: pathlib.Path, make, message: str):
    path = make(tmp_path)
    with pytest.raises(ConfigError) as caught:
        read_secret({"ELASTICSEARCH_API_KEY_FILE": path}, "ELASTICSEARCH_API_KEY")
    assert str(caught.value) == "ELASTICSEARCH_API_KEY_FILE: " + message.format(path=path)
    _assert_clean(str(caught.value))


# --- settings_from_env (the CLI) --------------------------------------------------------------------


def test_the_cli_reads_the_file_variables(tmp_path: pathlib.Path):
    password_file = _secret_file(tmp_path, SECRET.encode() + b"\n", "password")
    with_password = settings_from_env(
        URL, {"ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD_FILE": password_file}
    )
    assert with_password is not None
    assert with_password.password is not None
    assert (with_password.username, with_password.password.get_secret_value()) == ("elastic", SECRET)

    key_file = _secret_file(tmp_path, API_KEY.encode(), "api-key")
    with_key = settings_from_env(None, {"ELASTICSEARCH_URL": URL, "ELASTICSEARCH_API_KEY_FILE": key_file})
    assert with_key is not None
    assert with_key.api_key is not None
    assert with_key.api_key.get_secret_value() == API_KEY


@pytest.mark.parametrize(
    ("flag", "env", "message"),
    [
        (
            URL,
            {"ELASTICSEARCH_PASSWORD_FILE": "{file}"},
            "ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD must be set together "
            "(only ELASTICSEARCH_PASSWORD_FILE is set)",
        ),
        (
            URL,
            {
                "ELASTICSEARCH_USERNAME": "e",
                "ELASTICSEARCH_PASSWORD": SECRET,
                "ELASTICSEARCH_PASSWORD_FILE": "{file}",
            },
            "ELASTICSEARCH_PASSWORD and ELASTICSEARCH_PASSWORD_FILE are both set; use one",
        ),
        (
            URL,
            {"ELASTICSEARCH_API_KEY": API_KEY, "ELASTICSEARCH_API_KEY_FILE": "{file}"},
            "ELASTICSEARCH_API_KEY and ELASTICSEARCH_API_KEY_FILE are both set; use one",
        ),
        (
            URL,
            {
                "ELASTICSEARCH_API_KEY_FILE": "{file}",
                "ELASTICSEARCH_USERNAME": "e",
                "ELASTICSEARCH_PASSWORD": SECRET,
            },
            "ELASTICSEARCH_API_KEY_FILE and ELASTICSEARCH_USERNAME are both set; use one",
        ),
        (
            f"https://elastic:{SECRET}@es.example:9243",
            {"ELASTICSEARCH_API_KEY_FILE": "{file}"},
            "--es-url: carries user:password while ELASTICSEARCH_API_KEY_FILE is also set; use one",
        ),
        (
            URL,
            {"ELASTICSEARCH_USERNAME": "e", "ELASTICSEARCH_PASSWORD_FILE": "/no/such/secret"},
            "ELASTICSEARCH_PASSWORD_FILE: cannot read /no/such/secret: No such file or directory",
        ),
    ],
)
def test_file_variable_mistakes_are_one_line_naming_them(
    tmp_path: pathlib.Path, flag: str, env: dict[str, str], message: str
):
    file = _secret_file(tmp_path, SECRET.encode())
    env = {name: value.format(file=file) for name, value in env.items()}
    with pytest.raises(ConfigError) as caught:
        settings_from_env(flag, env)
    assert str(caught.value) == message
    _assert_clean(str(caught.value))


# --- the endpoint: what the graph carries -------------------------------------------------------------


def test_the_endpoint_keeps_everything_but_the_secret():
    basic = EsSettings(url=URL, username="elastic", password=SecretStr(SECRET), request_timeout_s=7.5)
    assert basic.endpoint == EsEndpoint(url=URL, auth="basic", username="elastic", request_timeout_s=7.5)
    keyed = EsSettings(url=URL, api_key=SecretStr(API_KEY), verify_certs=False)
    assert keyed.endpoint == EsEndpoint(url=URL, auth="api_key", verify_certs=False)
    assert EsSettings(url=URL).endpoint == EsEndpoint(url=URL)
    for endpoint in (basic.endpoint, keyed.endpoint):
        pickled = pickle.dumps(endpoint)
        assert SECRET.encode() not in pickled
        assert API_KEY.encode() not in pickled
        assert URL.encode() in pickled
        assert pickle.loads(pickled) == endpoint


def test_an_endpoint_refuses_credentials_in_its_url_and_a_stray_username():
    with pytest.raises(ValidationError, match="must not carry user:password") as caught:
        EsEndpoint(url=f"https://elastic:{SECRET}@es.example:9243", auth="basic", username="elastic")
    assert SECRET not in str(caught.value)
    with pytest.raises(ValidationError, match="a username goes with auth='basic'"):
        EsEndpoint(url=URL, username="elastic")
    with pytest.raises(ValidationError, match="a username goes with auth='basic'"):
        EsEndpoint(url=URL, auth="basic")


# --- resolve: what a worker does in setup() ------------------------------------------------------------


def test_a_worker_resolves_the_password_from_its_environment_or_a_file(tmp_path: pathlib.Path):
    endpoint = EsEndpoint(url=URL, auth="basic", username="elastic")
    from_env = endpoint.resolve({"ELASTICSEARCH_PASSWORD": SECRET})
    assert from_env == EsSettings(url=URL, username="elastic", password=SecretStr(SECRET))
    from_file = endpoint.resolve(
        {"ELASTICSEARCH_PASSWORD_FILE": _secret_file(tmp_path, SECRET.encode() + b"\n")}
    )
    assert from_file == from_env
    # The graph's user name wins over whatever the worker's environment says.
    assert endpoint.resolve({"ELASTICSEARCH_USERNAME": "other", "ELASTICSEARCH_PASSWORD": SECRET}) == from_env


def test_a_worker_resolves_the_api_key_and_ignores_other_credentials(tmp_path: pathlib.Path):
    endpoint = EsEndpoint(url=URL, auth="api_key")
    env = {
        "ELASTICSEARCH_API_KEY_FILE": _secret_file(tmp_path, API_KEY.encode()),
        "ELASTICSEARCH_PASSWORD": "x",
    }
    assert endpoint.resolve(env) == EsSettings(url=URL, api_key=SecretStr(API_KEY))
    # No credential in the graph: none is read, whatever the environment holds.
    assert EsEndpoint(url=URL).resolve({"ELASTICSEARCH_API_KEY": API_KEY}) == EsSettings(url=URL)


def test_resolve_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ELASTICSEARCH_API_KEY", API_KEY)
    resolved = EsEndpoint(url=URL, auth="api_key").resolve()
    assert resolved.api_key is not None
    assert resolved.api_key.get_secret_value() == API_KEY


@pytest.mark.parametrize(
    ("endpoint", "env", "message"),
    [
        (
            EsEndpoint(url=URL, auth="basic", username="elastic"),
            {"ELASTICSEARCH_API_KEY": API_KEY},
            f"Elasticsearch at {URL}: the job authenticates as user 'elastic', but this worker has no "
            "password: set ELASTICSEARCH_PASSWORD or ELASTICSEARCH_PASSWORD_FILE in its environment, "
            "or launch the job with ELASTICSEARCH_PASSWORD_SECRET",
        ),
        (
            EsEndpoint(url=URL, auth="api_key"),
            {"ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": SECRET},
            f"Elasticsearch at {URL}: the job authenticates with an API key, but this worker has none: "
            "set ELASTICSEARCH_API_KEY or ELASTICSEARCH_API_KEY_FILE in its environment, "
            "or launch the job with ELASTICSEARCH_API_KEY_SECRET",
        ),
        (
            EsEndpoint(url=URL, auth="basic", username="elastic"),
            {"ELASTICSEARCH_PASSWORD": SECRET, "ELASTICSEARCH_PASSWORD_FILE": "{file}"},
            f"Elasticsearch at {URL}: ELASTICSEARCH_PASSWORD and ELASTICSEARCH_PASSWORD_FILE are both set; "
            "use one",
        ),
        (
            EsEndpoint(url=URL, auth="api_key"),
            {"ELASTICSEARCH_API_KEY_FILE": "/run/secrets/missing"},
            f"Elasticsearch at {URL}: ELASTICSEARCH_API_KEY_FILE: cannot read /run/secrets/missing: "
            "No such file or directory",
        ),
        (
            EsEndpoint(url=URL, auth="basic", username="elastic", ca_certs="/no/such/ca.pem"),
            {"ELASTICSEARCH_PASSWORD": SECRET},
            f"Elasticsearch at {URL}: ELASTICSEARCH_CA_CERTS: no such file: /no/such/ca.pem",
        ),
    ],
    ids=["no-password", "no-api-key", "both-set", "unreadable-file", "no-ca-bundle-here"],
)
def test_a_worker_without_its_credential_fails_in_one_line(
    tmp_path: pathlib.Path, endpoint: EsEndpoint, env: dict[str, str], message: str
):
    env = {name: value.format(file=_secret_file(tmp_path, SECRET.encode())) for name, value in env.items()}
    with pytest.raises(StoreError) as caught:
        endpoint.resolve(env)
    assert str(caught.value) == message
    assert caught.value.__cause__ is None
    _assert_clean(str(caught.value))


def test_the_writer_fails_in_setup_before_any_request(monkeypatch: pytest.MonkeyPatch):
    # Port 9 (discard): a request would be refused, but setup() must not get that far.
    endpoint = EsEndpoint(url="http://127.0.0.1:9", auth="basic", username="elastic")
    fn = _WriteArticlesFn(endpoint, IndexNames("test"), RetryPolicy(max_attempts=1), 500, 1024 * 1024)
    with pytest.raises(StoreError, match="set ELASTICSEARCH_PASSWORD or ELASTICSEARCH_PASSWORD_FILE"):
        fn.setup()
    sink = ElasticsearchSink(endpoint, IndexNames("test"))
    with pytest.raises(StoreError, match="set ELASTICSEARCH_PASSWORD or ELASTICSEARCH_PASSWORD_FILE"):
        sink.open_dedup_index()


def test_sinks_take_an_endpoint_never_settings_with_a_secret():
    settings = EsSettings(url=URL, username="elastic", password=SecretStr(SECRET))
    with pytest.raises(TypeError, match="endpoint must be an EsEndpoint") as caught:
        ElasticsearchSink(settings, IndexNames("test"))  # type: ignore[arg-type]
    assert SECRET not in str(caught.value)
    with pytest.raises(TypeError, match="endpoint must be an EsEndpoint"):
        WriteToElasticsearch(endpoint=settings, names=IndexNames("test"))  # type: ignore[arg-type]


def test_a_pickled_writer_resolves_on_the_worker(monkeypatch: pytest.MonkeyPatch):
    settings = EsSettings(url=URL, username="elastic", password=SecretStr(SECRET))
    fn = _WriteArticlesFn(settings.endpoint, IndexNames("test"), RetryPolicy(), 500, 1024 * 1024)
    pickled = pickle.dumps(fn)
    assert SECRET.encode() not in pickled
    monkeypatch.setenv("ELASTICSEARCH_PASSWORD", SECRET)
    assert pickle.loads(pickled)._endpoint.resolve() == settings


# --- user:password@ in the URL ------------------------------------------------------------------------


def test_url_credentials_move_from_the_flag_into_the_environment():
    env: dict[str, str] = {"ELASTICSEARCH_URL": "http://ignored:9200"}
    clean = move_url_credentials("https://elastic:p%40ss%3Aword@es.example:9243/", env)
    assert clean == "https://es.example:9243/"
    assert env == {
        "ELASTICSEARCH_URL": "http://ignored:9200",
        "ELASTICSEARCH_USERNAME": "elastic",
        "ELASTICSEARCH_PASSWORD": "p@ss:word",
    }
    # Idempotent, and the settings read afterwards are the same as before the move.
    assert move_url_credentials(clean, env) == clean
    settings = settings_from_env(clean, env)
    assert settings is not None
    assert settings.endpoint == EsEndpoint(url="https://es.example:9243", auth="basic", username="elastic")


def test_url_credentials_move_out_of_the_url_variable():
    env = {"ELASTICSEARCH_URL": f"https://elastic:{SECRET}@es.example:9243"}
    assert move_url_credentials(None, env) is None
    assert env == {
        "ELASTICSEARCH_URL": URL,
        "ELASTICSEARCH_USERNAME": "elastic",
        "ELASTICSEARCH_PASSWORD": SECRET,
    }


def test_moving_url_credentials_changes_nothing_without_them_or_on_a_conflict():
    env = {"ELASTICSEARCH_API_KEY": API_KEY}
    assert move_url_credentials(URL, env) == URL
    assert move_url_credentials(None, env) is None
    assert env == {"ELASTICSEARCH_API_KEY": API_KEY}
    with pytest.raises(ConfigError, match="--es-url: carries user:password while ELASTICSEARCH_API_KEY"):
        move_url_credentials(f"https://elastic:{SECRET}@es.example:9243", env)
    assert env == {"ELASTICSEARCH_API_KEY": API_KEY}
    assert "ELASTICSEARCH_PASSWORD" not in os.environ


# --- Secret Manager secret versions (the _SECRET variables) ------------------------------------------

VERSION = "projects/news-prod/secrets/wirewatch-elasticsearch-api-key/versions/7"
OTHER_VERSION = "projects/news-prod/secrets/worker-own-key/versions/latest"


class FakeSecretManager:
    """Stands in for Beam's GcpSecret: the versions it holds, and every name it was asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: list[str] = []

    def __call__(self, version: str) -> str:
        self.asked.append(version)
        try:
            return self.values[version]
        except KeyError:
            # As Beam's GcpSecret does: the client's error wrapped in a RuntimeError naming the version.
            try:
                raise PermissionError(
                    f"403 Permission 'secretmanager.versions.access' denied for resource\n'{version}'"
                )
            except PermissionError as exc:
                beams = f"Failed to retrieve secret bytes for secret {version} with exception {exc}"
                raise RuntimeError(beams)  # noqa: B904  (Beam leaves the cause as context only)


def _refuse(version: str) -> str:
    raise AssertionError(f"fetched {version}: the worker's own credential should have won")


def test_the_cli_fetches_a_referenced_api_key_and_the_endpoint_carries_only_the_name():
    manager = FakeSecretManager({VERSION: API_KEY + "\n"})
    env = {"ELASTICSEARCH_URL": URL, "ELASTICSEARCH_API_KEY_SECRET": f"  {VERSION} "}
    settings = settings_from_env(None, env, fetch=manager)
    assert manager.asked == [VERSION]
    assert settings is not None
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == API_KEY  # one trailing newline dropped
    assert settings.secret_version == VERSION
    assert settings.endpoint == EsEndpoint(url=URL, auth="api_key", secret_version=VERSION)
    pickled = pickle.dumps(settings.endpoint)
    assert API_KEY.encode() not in pickled
    assert VERSION.encode() in pickled
    assert pickle.loads(pickled) == settings.endpoint


def test_the_cli_fetches_a_referenced_password_for_the_user_name_beside_it():
    manager = FakeSecretManager({VERSION: SECRET})
    env = {"ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD_SECRET": VERSION}
    settings = settings_from_env(URL, env, fetch=manager)
    assert settings == EsSettings(
        url=URL, username="elastic", password=SecretStr(SECRET), secret_version=VERSION
    )
    assert settings.endpoint == EsEndpoint(url=URL, auth="basic", username="elastic", secret_version=VERSION)
    # From the variable or a file, there is no version to carry.
    plain = settings_from_env(URL, {"ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": SECRET})
    assert plain is not None
    assert plain.endpoint.secret_version is None


def test_a_worker_fetches_the_version_the_job_carries():
    manager = FakeSecretManager({VERSION: API_KEY + "\n"})
    endpoint = EsEndpoint(url=URL, auth="api_key", secret_version=VERSION)
    resolved = endpoint.resolve({}, fetch=manager)
    assert manager.asked == [VERSION]
    assert resolved == EsSettings(url=URL, api_key=SecretStr(API_KEY), secret_version=VERSION)
    assert resolved.endpoint == endpoint

    manager = FakeSecretManager({VERSION: SECRET})
    basic = EsEndpoint(url=URL, auth="basic", username="elastic", secret_version=VERSION)
    assert basic.resolve({"ELASTICSEARCH_USERNAME": "other"}, fetch=manager) == EsSettings(
        url=URL, username="elastic", password=SecretStr(SECRET), secret_version=VERSION
    )
    assert manager.asked == [VERSION]


def test_a_pickled_writer_fetches_the_carried_version_on_the_worker():
    settings = settings_from_env(
        URL, {"ELASTICSEARCH_API_KEY_SECRET": VERSION}, fetch=FakeSecretManager({VERSION: API_KEY})
    )
    assert settings is not None
    fn = _WriteArticlesFn(settings.endpoint, IndexNames("test"), RetryPolicy(), 500, 1024 * 1024)
    pickled = pickle.dumps(fn)
    assert API_KEY.encode() not in pickled
    assert VERSION.encode() in pickled
    on_the_worker = FakeSecretManager({VERSION: API_KEY})
    assert pickle.loads(pickled)._endpoint.resolve({}, fetch=on_the_worker) == settings
    assert on_the_worker.asked == [VERSION]


def test_the_workers_own_credential_wins_over_the_carried_version(tmp_path: pathlib.Path):
    endpoint = EsEndpoint(url=URL, auth="api_key", secret_version=VERSION)
    own = endpoint.resolve({"ELASTICSEARCH_API_KEY": "worker-own-key"}, fetch=_refuse)
    assert own == EsSettings(url=URL, api_key=SecretStr("worker-own-key"))
    from_file = endpoint.resolve(
        {"ELASTICSEARCH_API_KEY_FILE": _secret_file(tmp_path, b"worker-file-key\n")}, fetch=_refuse
    )
    assert from_file == EsSettings(url=URL, api_key=SecretStr("worker-file-key"))
    manager = FakeSecretManager({OTHER_VERSION: "worker-secret-key"})
    from_own_version = endpoint.resolve({"ELASTICSEARCH_API_KEY_SECRET": OTHER_VERSION}, fetch=manager)
    assert manager.asked == [OTHER_VERSION]
    assert from_own_version == EsSettings(
        url=URL, api_key=SecretStr("worker-secret-key"), secret_version=OTHER_VERSION
    )
    # The other kind of credential in the worker's environment is not "its own" for this job.
    manager = FakeSecretManager({VERSION: API_KEY})
    assert endpoint.resolve({"ELASTICSEARCH_PASSWORD": SECRET}, fetch=manager).api_key == SecretStr(API_KEY)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ELASTICSEARCH_API_KEY": API_KEY, "ELASTICSEARCH_API_KEY_SECRET": VERSION},
            "ELASTICSEARCH_API_KEY and ELASTICSEARCH_API_KEY_SECRET are both set; use one",
        ),
        (
            {"ELASTICSEARCH_API_KEY_FILE": "/run/secrets/key", "ELASTICSEARCH_API_KEY_SECRET": VERSION},
            "ELASTICSEARCH_API_KEY_FILE and ELASTICSEARCH_API_KEY_SECRET are both set; use one",
        ),
        (
            {
                "ELASTICSEARCH_API_KEY": API_KEY,
                "ELASTICSEARCH_API_KEY_FILE": "/run/secrets/key",
                "ELASTICSEARCH_API_KEY_SECRET": VERSION,
            },
            "ELASTICSEARCH_API_KEY, ELASTICSEARCH_API_KEY_FILE and ELASTICSEARCH_API_KEY_SECRET are all set; "
            "use one",
        ),
    ],
    ids=["value-and-version", "file-and-version", "all-three"],
)
def test_two_sources_of_one_secret_are_an_error_wherever_it_is_read(env: dict[str, str], message: str):
    with pytest.raises(ConfigError) as caught:
        read_secret(env, "ELASTICSEARCH_API_KEY", fetch=_refuse)
    assert str(caught.value) == message
    with pytest.raises(ConfigError) as caught:
        settings_from_env(URL, env, fetch=_refuse)
    assert str(caught.value) == message
    with pytest.raises(StoreError) as in_setup:
        EsEndpoint(url=URL, auth="api_key", secret_version=VERSION).resolve(env, fetch=_refuse)
    assert str(in_setup.value) == f"Elasticsearch at {URL}: {message}"
    _assert_clean(str(in_setup.value))


@pytest.mark.parametrize(
    ("flag", "env", "message"),
    [
        (
            URL,
            {"ELASTICSEARCH_PASSWORD_SECRET": VERSION},
            "ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD must be set together "
            "(only ELASTICSEARCH_PASSWORD_SECRET is set)",
        ),
        (
            URL,
            {
                "ELASTICSEARCH_API_KEY_SECRET": VERSION,
                "ELASTICSEARCH_USERNAME": "e",
                "ELASTICSEARCH_PASSWORD": "p",
            },
            "ELASTICSEARCH_API_KEY_SECRET and ELASTICSEARCH_USERNAME are both set; use one",
        ),
        (
            f"https://elastic:{SECRET}@es.example:9243",
            {"ELASTICSEARCH_API_KEY_SECRET": VERSION},
            "--es-url: carries user:password while ELASTICSEARCH_API_KEY_SECRET is also set; use one",
        ),
        (
            "ftp://es.example",
            {"ELASTICSEARCH_API_KEY_SECRET": VERSION},
            "--es-url: must be an http:// or https:// URL with a host, e.g. http://localhost:9200",
        ),
        (
            "http://es.example:9200",
            {"ELASTICSEARCH_API_KEY_SECRET": VERSION, "ELASTICSEARCH_VERIFY_CERTS": "maybe"},
            "ELASTICSEARCH_VERIFY_CERTS: expected true or false, got 'maybe'",
        ),
    ],
    ids=["version-without-user", "version-and-user", "url-credentials", "bad-url", "bad-verify"],
)
def test_nothing_is_fetched_before_the_rest_of_the_settings_is_right(
    flag: str, env: dict[str, str], message: str
):
    with pytest.raises(ConfigError) as caught:
        settings_from_env(flag, env, fetch=_refuse)
    assert str(caught.value) == message
    _assert_clean(str(caught.value))


@pytest.mark.parametrize(
    "reference",
    [
        API_KEY,  # the key itself, set where its version's name belongs: never echoed
        "wirewatch-elasticsearch-api-key",
        "projects/p/secrets/s",
        "projects/p/secrets/s/versions/",
        "projects/p/secrets/s/versions/1/extra",
        "/projects/p/secrets/s/versions/1",
        "projects/p/secrets/s/versions/la test",
        "https://secretmanager.googleapis.com/v1/projects/p/secrets/s/versions/1",
    ],
)
def test_a_malformed_version_name_is_refused_before_any_fetch(reference: str):
    message = (
        "ELASTICSEARCH_API_KEY_SECRET: must be a Secret Manager secret version name, "
        "projects/PROJECT/secrets/SECRET/versions/VERSION, not the secret itself"
    )
    env = {"ELASTICSEARCH_API_KEY_SECRET": reference}
    for read in (
        lambda: read_secret(env, "ELASTICSEARCH_API_KEY", fetch=_refuse),
        lambda: settings_from_env(URL, env, fetch=_refuse),
    ):
        with pytest.raises(ConfigError) as caught:
            read()
        assert str(caught.value) == message
        assert reference not in str(caught.value)
    with pytest.raises(StoreError) as in_setup:
        EsEndpoint(url=URL, auth="api_key").resolve(env, fetch=_refuse)
    assert str(in_setup.value) == f"Elasticsearch at {URL}: {message}"
    with pytest.raises(ValidationError, match="must be a Secret Manager secret version name") as invalid:
        EsEndpoint(url=URL, auth="api_key", secret_version=reference)
    assert reference not in str(invalid.value)


def test_version_names_are_checked_in_the_models_too():
    assert check_secret_version("X", f" {VERSION}\n") == VERSION
    assert EsEndpoint(url=URL, auth="api_key", secret_version=f" {VERSION} ").secret_version == VERSION
    with pytest.raises(ValidationError, match="a secret_version needs auth='api_key' or auth='basic'"):
        EsEndpoint(url=URL, secret_version=VERSION)
    with pytest.raises(ValidationError, match="secret_version names where the API key or password came"):
        EsSettings(url=URL, secret_version=VERSION)


def test_a_failed_fetch_is_one_line_naming_the_variable_and_version():
    missing = FakeSecretManager({})
    expected = (
        f"ELASTICSEARCH_API_KEY_SECRET: cannot access {VERSION}: 403 Permission "
        f"'secretmanager.versions.access' denied for resource '{VERSION}'"
    )
    with pytest.raises(ConfigError) as caught:
        settings_from_env(URL, {"ELASTICSEARCH_API_KEY_SECRET": VERSION}, fetch=missing)
    assert str(caught.value) == expected
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__

    endpoint = EsEndpoint(url=URL, auth="api_key", secret_version=VERSION)
    with pytest.raises(StoreError) as in_setup:
        endpoint.resolve({}, fetch=missing)
    assert str(in_setup.value) == (
        f"Elasticsearch at {URL}: ELASTICSEARCH_API_KEY_SECRET (from the job): cannot access {VERSION}: "
        f"403 Permission 'secretmanager.versions.access' denied for resource '{VERSION}'"
    )
    assert in_setup.value.__cause__ is None
    _assert_clean(str(in_setup.value))


def test_an_empty_or_unreachable_version_is_a_config_error():
    with pytest.raises(ConfigError, match=f"^ELASTICSEARCH_PASSWORD_SECRET: {VERSION} is empty$"):
        fetch_secret_version("ELASTICSEARCH_PASSWORD_SECRET", VERSION, FakeSecretManager({VERSION: "\n"}))

    def unreachable(version: str) -> str:
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(ConfigError) as caught:
        fetch_secret_version("ELASTICSEARCH_PASSWORD_SECRET", VERSION, unreachable)
    assert str(caught.value) == (
        f"ELASTICSEARCH_PASSWORD_SECRET: cannot access {VERSION}: [Errno 111] Connection refused"
    )


def test_the_default_fetch_is_beams_gcp_secret(monkeypatch: pytest.MonkeyPatch):
    from apache_beam.utils import secret

    asked: list[str] = []

    def secret_bytes(self: secret.GcpSecret) -> bytes:
        asked.append(self._version_name)
        return {VERSION: API_KEY.encode(), OTHER_VERSION: b"\xff\xfe" + SECRET.encode("utf-16-le")}[
            self._version_name
        ]

    monkeypatch.setattr(secret.GcpSecret, "get_secret_bytes", secret_bytes)
    assert fetch_gcp_secret(VERSION) == API_KEY
    resolved = EsEndpoint(url=URL, auth="api_key", secret_version=VERSION).resolve({})
    assert resolved.api_key == SecretStr(API_KEY)
    # Bytes that are not UTF-8: the decode error would quote them, so it is not passed on.
    with pytest.raises(ConfigError) as caught:
        fetch_secret_version("ELASTICSEARCH_API_KEY_SECRET", OTHER_VERSION)
    assert (
        str(caught.value)
        == f"ELASTICSEARCH_API_KEY_SECRET: cannot access {OTHER_VERSION}: the value is not UTF-8 text"
    )
    assert asked == [VERSION, VERSION, OTHER_VERSION]


def test_beams_own_failure_becomes_one_line(monkeypatch: pytest.MonkeyPatch):
    # No Secret Manager client importable: Beam's GcpSecret wraps the ImportError in a RuntimeError.
    monkeypatch.setitem(sys.modules, "google.cloud.secretmanager", None)
    with pytest.raises(StoreError) as caught:
        EsEndpoint(url=URL, auth="basic", username="elastic", secret_version=VERSION).resolve({})
    message = str(caught.value)
    assert message.startswith(
        f"Elasticsearch at {URL}: ELASTICSEARCH_PASSWORD_SECRET (from the job): cannot access {VERSION}: "
    )
    assert "google.cloud" in message  # the import that failed
    assert "\n" not in message
    assert caught.value.__cause__ is None
