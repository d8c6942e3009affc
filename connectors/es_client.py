"""Elasticsearch connection settings, a client factory and a bulk write that sorts every document's fate.

Plain typed functions, no Beam: the sinks in `elasticsearchio.py` and the CLI both build on them.

Two kinds of settings, so that no secret is ever pickled into a job graph. `EsSettings` holds the
secret and lives only in the process that read it (the CLI, or a worker after `setup()`).
`EsEndpoint` is what a graph carries: the URL, the user name, the TLS options and *which* kind of
credential to use; each worker reads the password or API key from its own environment with
`EsEndpoint.resolve()` — $ELASTICSEARCH_PASSWORD / $ELASTICSEARCH_API_KEY, or the mounted file that
$ELASTICSEARCH_PASSWORD_FILE / $ELASTICSEARCH_API_KEY_FILE names (the Docker and Kubernetes secrets
convention), or the Google Cloud Secret Manager secret version that
$ELASTICSEARCH_PASSWORD_SECRET / $ELASTICSEARCH_API_KEY_SECRET names. That last one is a name, not a
secret, so the endpoint carries it to workers that share no environment with the launcher
(Dataflow): a worker without a credential of its own fetches that version in `setup()`. Workers the
CLI starts itself (in-process, forked, LOOPBACK) inherit its environment, and
`move_url_credentials()` puts a user:password@ from the URL there first; workers on a remote
cluster (Flink TaskManagers) need the variables or files themselves.
"""

from __future__ import annotations

import base64
import binascii
import http
import logging
import os
import random
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch, helpers
from elasticsearch.exceptions import UnsupportedProductError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connectors.es_outage import PatientTransport
from connectors.es_transport import ElasticsearchOnlyTransport
from connectors.store import StoreError
from schemas.errors import ConfigError
from schemas.records import one_line

URL_ENV = "ELASTICSEARCH_URL"
API_KEY_ENV = "ELASTICSEARCH_API_KEY"
USERNAME_ENV = "ELASTICSEARCH_USERNAME"
PASSWORD_ENV = "ELASTICSEARCH_PASSWORD"
# The Docker/Kubernetes convention: X_FILE names a file (a mounted secret) holding X's value.
FILE_SUFFIX = "_FILE"
API_KEY_FILE_ENV = API_KEY_ENV + FILE_SUFFIX
PASSWORD_FILE_ENV = PASSWORD_ENV + FILE_SUFFIX
# X_SECRET names a Secret Manager secret version holding X's value: a name, safe in a job graph.
SECRET_SUFFIX = "_SECRET"
API_KEY_SECRET_ENV = API_KEY_ENV + SECRET_SUFFIX
PASSWORD_SECRET_ENV = PASSWORD_ENV + SECRET_SUFFIX
SECRET_VERSION = re.compile(r"projects/[^/\s]+/secrets/[^/\s]+/versions/[^/\s]+")
CA_CERTS_ENV = "ELASTICSEARCH_CA_CERTS"
# Dangerous: "false" accepts any certificate, so anyone on the path can read and change the traffic.
VERIFY_CERTS_ENV = "ELASTICSEARCH_VERIFY_CERTS"
URL_FLAG = "--es-url"

REASON_LIMIT = 300
# Elasticsearch refuses longer ids with a 400 for the *whole* bulk request, sinking every neighbour.
MAX_ID_BYTES = 512
_REDACTED = "***"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})

_log = logging.getLogger(__name__)

# Which credential a job graph tells its workers to look for; never the credential itself.
AuthKind = Literal["none", "api_key", "basic"]
OutcomeStatus = Literal["created", "updated", "duplicate", "conflict", "rejected", "retry_exhausted"]
Verdict = Literal["created", "updated", "duplicate", "conflict", "rejected", "retry"]
# Reads one Secret Manager secret version by its full name. Raises RuntimeError (what Beam's
# GcpSecret raises for every failure) or OSError; tests pass a fake instead of calling Google Cloud.
SecretFetch = Callable[[str], str]


# --- settings --------------------------------------------------------------------------------


def _split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """(url without user:pass@, user, password): credentials must live where redaction can find them."""
    parts = urlsplit(url.strip())
    if "@" not in parts.netloc:
        return url.strip(), None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, unquote(user) or None, unquote(password) if has_password else None


class EsSettings(BaseModel):
    """Where Elasticsearch is and how to authenticate; secrets stay masked in repr and errors."""

    # hide_input_in_errors: a ValidationError would otherwise print the password it refused.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True, validate_default=True)

    url: str
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # The Secret Manager secret version the API key or password was read from: its name, not the
    # secret. The endpoint carries it, so workers without a credential of their own can fetch it.
    secret_version: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _move_url_credentials(cls, data: Any) -> Any:
        """user:pass@ in the URL becomes username/password, so `url` is always safe to print."""
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        clean, user, password = _split_userinfo(data["url"])
        if user is None and password is None:
            return data
        if any(data.get(key) is not None for key in ("username", "password", "api_key")):
            raise ValueError("url carries user:password and credentials are also given separately; use one")
        return {**data, "url": clean, "username": user, "password": password}

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        """An absolute http(s) URL with a host; http needs its port (Elasticsearch is rarely on 80)."""
        parts = urlsplit(value.strip())
        example = "e.g. http://localhost:9200"
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http:// or https:// URL with a host, {example}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"has an invalid port, {example}") from None
        if port is None and parts.scheme.lower() == "http":
            raise ValueError(f"needs a port, {example}")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query string or fragment")
        return value.strip().rstrip("/")

    @field_validator("api_key", "password")
    @classmethod
    def _non_empty_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("username")
    @classmethod
    def _one_kind_of_auth(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("api_key") is not None:
            raise ValueError("cannot be combined with an API key; use one")
        return value

    @field_validator("password")
    @classmethod
    def _password_with_username(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if (value is None) != (info.data.get("username") is None):
            raise ValueError("username and password must be given together")
        return value

    @field_validator("ca_certs")
    @classmethod
    def _check_ca_certs(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Fail at startup, not at the first request, when the bundle is missing or cannot apply."""
        if value is None:
            return None
        if not os.path.isfile(value):
            raise ValueError(f"no such file: {value}")
        url = info.data.get("url")
        if isinstance(url, str) and not url.lower().startswith("https://"):
            raise ValueError("a CA bundle needs an https:// URL")
        return value

    @field_validator("secret_version")
    @classmethod
    def _check_secret_version(cls, value: str | None) -> str | None:
        return None if value is None else _secret_version_shape(value)

    @model_validator(mode="after")
    def _secret_version_names_the_credential(self) -> EsSettings:
        if self.secret_version is not None and self.api_key is None and self.password is None:
            raise ValueError("secret_version names where the API key or password came from; there is none")
        return self

    @property
    def auth(self) -> AuthKind:
        if self.api_key is not None:
            return "api_key"
        return "basic" if self.password is not None else "none"

    @property
    def endpoint(self) -> EsEndpoint:
        """These settings without the secret: what a job graph may carry to its workers."""
        return EsEndpoint(
            url=self.url,
            auth=self.auth,
            username=self.username,
            ca_certs=self.ca_certs,
            verify_certs=self.verify_certs,
            request_timeout_s=self.request_timeout_s,
            secret_version=self.secret_version,
        )


class EsEndpoint(BaseModel):
    """Where Elasticsearch is and which kind of credential opens it, but not the credential: safe
    to pickle into a job graph. A worker calls `resolve()` (in `setup()`) to read the secret from
    its own environment, or else from the Secret Manager secret version the endpoint names."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: str
    auth: AuthKind = "none"
    username: str | None = None
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # projects/P/secrets/S/versions/V holding the API key or password (per `auth`), or None.
    secret_version: str | None = None

    @field_validator("url")
    @classmethod
    def _no_userinfo(cls, value: str) -> str:
        if "@" in urlsplit(value).netloc:
            raise ValueError("must not carry user:password (it would travel with the job graph)")
        return value

    @field_validator("secret_version")
    @classmethod
    def _check_secret_version(cls, value: str | None) -> str | None:
        return None if value is None else _secret_version_shape(value)

    @model_validator(mode="after")
    def _username_for_basic_only(self) -> EsEndpoint:
        if (self.username is not None) != (self.auth == "basic"):
            raise ValueError("a username goes with auth='basic', and only with it")
        if self.secret_version is not None and self.auth == "none":
            raise ValueError("a secret_version needs auth='api_key' or auth='basic'")
        return self

    def resolve(
        self, env: Mapping[str, str] | None = None, *, fetch: SecretFetch | None = None
    ) -> EsSettings:
        """The full settings, the secret read here. The worker's own environment comes first
        (default: os.environ): $ELASTICSEARCH_API_KEY or $ELASTICSEARCH_PASSWORD, the file the
        matching *_FILE variable names, or the secret version the matching *_SECRET variable
        names. Without any of them, the Secret Manager secret version this endpoint carries is
        fetched, with `fetch` (default: Beam's GcpSecret).

        Raises StoreError with one line naming the variables when the credential this endpoint
        needs is missing, unreadable or given twice; the secret itself is never in the message.
        """
        env = os.environ if env is None else env
        where = f"Elasticsearch at {self.url}"
        variable = {"api_key": API_KEY_ENV, "basic": PASSWORD_ENV}.get(self.auth)
        secret: str | None = None
        version: str | None = None
        source: str | None = None
        try:
            own = None if variable is None else _secret_source(env, variable)
            if variable is not None and own is not None:
                source, version = own, _secret_version(env, variable)
                secret = read_secret(env, variable, fetch=fetch)
            elif variable is not None and self.secret_version is not None:
                source, version = f"{variable}{SECRET_SUFFIX} (from the job)", self.secret_version
                secret = fetch_secret_version(source, version, fetch)
        except ConfigError as exc:
            raise StoreError(f"{where}: {exc}") from None
        if self.auth == "api_key" and secret is None:
            raise StoreError(
                f"{where}: the job authenticates with an API key, but this worker has none: "
                f"set {API_KEY_ENV} or {API_KEY_FILE_ENV} in its environment, "
                f"or launch the job with {API_KEY_SECRET_ENV}"
            )
        if self.auth == "basic" and secret is None:
            raise StoreError(
                f"{where}: the job authenticates as user {self.username!r}, but this worker has no "
                f"password: set {PASSWORD_ENV} or {PASSWORD_FILE_ENV} in its environment, "
                f"or launch the job with {PASSWORD_SECRET_ENV}"
            )
        api_key = secret if self.auth == "api_key" else None
        password = secret if self.auth == "basic" else None
        try:
            return EsSettings(
                url=self.url,
                api_key=SecretStr(api_key) if api_key is not None else None,
                username=self.username,
                password=SecretStr(password) if password is not None else None,
                ca_certs=self.ca_certs,
                verify_certs=self.verify_certs,
                request_timeout_s=self.request_timeout_s,
                secret_version=version,
            )
        except ValidationError as exc:
            names = {**_SETTING_NAMES, "api_key": source or API_KEY_ENV, "password": source or PASSWORD_ENV}
            raise StoreError(f"{where}: {_config_error(exc, names)}") from None


def _env_value(env: Mapping[str, str], name: str) -> str | None:
    """An exported-but-empty variable counts as unset, as shells and CI templates produce them."""
    value = env.get(name, "").strip()
    return value or None


def _without_newline(text: str) -> str:
    """One trailing newline off, as `echo` and most editors add one; the rest is the secret's own."""
    return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")


def _secret_source(env: Mapping[str, str], name: str) -> str | None:
    """The variable NAME's secret comes from: NAME, NAME_FILE or NAME_SECRET; None when none is set.

    Raises ConfigError when more than one is set, or NAME_SECRET is no secret version name.
    """
    given = [v for v in (name, name + FILE_SUFFIX, name + SECRET_SUFFIX) if _env_value(env, v) is not None]
    if len(given) > 1:
        listed = ", ".join(given[:-1]) + " and " + given[-1]
        raise ConfigError(f"{listed} are {'both' if len(given) == 2 else 'all'} set; use one")
    if not given:
        return None
    if given[0] == name + SECRET_SUFFIX:
        check_secret_version(given[0], env[given[0]])
    return given[0]


def _secret_version(env: Mapping[str, str], name: str) -> str | None:
    """The secret version $NAME_SECRET names when that is where NAME's secret comes from."""
    if _secret_source(env, name) != name + SECRET_SUFFIX:
        return None
    return check_secret_version(name + SECRET_SUFFIX, env[name + SECRET_SUFFIX])


def read_secret(env: Mapping[str, str], name: str, *, fetch: SecretFetch | None = None) -> str | None:
    """$NAME, the contents of the file $NAME_FILE names, or the value of the Secret Manager secret
    version $NAME_SECRET names (read with `fetch`, default Beam's GcpSecret); from a file or a
    secret version one trailing newline is stripped, as `echo` and most editors add one. None when
    none of the three is set.

    Raises ConfigError naming the variable, never the value: more than one set, a malformed secret
    version name, or a file or secret version that cannot be read, is not UTF-8 or is empty.
    """
    source = _secret_source(env, name)
    if source is None:
        return None
    value = env[source].strip()
    if source == name:
        return value
    if source == name + SECRET_SUFFIX:
        return fetch_secret_version(source, value, fetch)
    try:
        with open(value, "rb") as secret_file:
            data = secret_file.read()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read {value}: {exc.strerror or type(exc).__name__}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # The decode error would quote the offending bytes: part of the secret.
        raise ConfigError(f"{source}: {value} is not UTF-8 text") from None
    text = _without_newline(text)
    if not text.strip():
        raise ConfigError(f"{source}: {value} is empty")
    return text


def _secret_version_shape(value: str) -> str:
    if not SECRET_VERSION.fullmatch(value.strip()):
        # Never echoed: a secret put here by mistake would land in the logs.
        raise ValueError(
            "must be a Secret Manager secret version name, projects/PROJECT/secrets/SECRET/versions/VERSION, "
            "not the secret itself"
        )
    return value.strip()


def check_secret_version(variable: str, value: str) -> str:
    """`value` stripped, when it is a full Secret Manager secret version name
    (projects/P/secrets/S/versions/V); else ConfigError naming `variable`, never the value."""
    try:
        return _secret_version_shape(value)
    except ValueError as exc:
        raise ConfigError(f"{variable}: {exc}") from None


def fetch_gcp_secret(version: str) -> str:
    """One secret version from Google Cloud Secret Manager with Beam's client (it needs
    google-cloud-secret-manager, part of Beam's gcp extra and of the image)."""
    from apache_beam.utils.secret import GcpSecret

    data = GcpSecret(version).get_secret_bytes()
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        # The decode error would quote the offending bytes: part of the secret.
        raise RuntimeError("the value is not UTF-8 text") from None


def _fetch_failure(exc: BaseException) -> str:
    """Why a fetch failed, in one line. Beam wraps the client's error in a RuntimeError that
    repeats the version name: the wrapped error, when there is one, is the reason."""
    inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    reason = inner or exc
    return one_line(str(reason) or type(reason).__name__, REASON_LIMIT)


def fetch_secret_version(variable: str, version: str, fetch: SecretFetch | None = None) -> str:
    """The value of the Secret Manager secret version `version` names (one trailing newline
    stripped), read with `fetch` (default: `fetch_gcp_secret`, which loads Beam's client only now).

    Raises ConfigError with one line naming `variable` and the version, never a value: a malformed
    name, a failed access (no permission, no such version, no credentials) or an empty value.
    """
    version = check_secret_version(variable, version)
    try:
        text = (fetch or fetch_gcp_secret)(version)
    except (RuntimeError, OSError) as exc:
        raise ConfigError(f"{variable}: cannot access {version}: {_fetch_failure(exc)}") from None
    text = _without_newline(text)
    if not text.strip():
        raise ConfigError(f"{variable}: {version} is empty")
    return text


def _parse_bool(name: str, value: str | None) -> bool:
    if value is None:
        return True
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"{name}: expected true or false, got {value[:20]!r}")


def _config_error(exc: ValidationError, names: Mapping[str, str]) -> ConfigError:
    """The first validation problem as one line naming the flag or variable, never its value."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    message = first["msg"].removeprefix("Value error, ")
    return ConfigError(f"{names.get(field, 'Elasticsearch settings')}: {message}")


_SETTING_NAMES = {
    "url": URL_ENV,
    "api_key": API_KEY_ENV,
    "username": USERNAME_ENV,
    "password": PASSWORD_ENV,
    "ca_certs": CA_CERTS_ENV,
    "verify_certs": VERIFY_CERTS_ENV,
}


def settings_from_env(
    url: str | None = None, env: Mapping[str, str] | None = None, *, fetch: SecretFetch | None = None
) -> EsSettings | None:
    """Settings from --es-url (wins) or $ELASTICSEARCH_URL and the ELASTICSEARCH_* variables.

    ELASTICSEARCH_API_KEY, or ELASTICSEARCH_USERNAME with ELASTICSEARCH_PASSWORD (or user:pass@
    in the URL); either secret may instead be in a file named by ELASTICSEARCH_API_KEY_FILE or
    ELASTICSEARCH_PASSWORD_FILE, or in the Google Cloud Secret Manager secret version
    (projects/P/secrets/S/versions/V) named by ELASTICSEARCH_API_KEY_SECRET or
    ELASTICSEARCH_PASSWORD_SECRET: that one is read here with `fetch` (default: Beam's GcpSecret),
    and the settings remember its name for the job graph's endpoint. ELASTICSEARCH_CA_CERTS, a CA
    bundle for https. ELASTICSEARCH_VERIFY_CERTS=false turns certificate checks off: dangerous,
    anyone on the path can then read the credentials. None when no URL is set: the caller then uses
    the embedded store. Every wrong value raises ConfigError with one line naming the flag or
    variable, never echoing a secret; nothing is read from a file or Secret Manager before the
    rest is known to be right.
    """
    env = os.environ if env is None else env
    url_name = URL_FLAG if url and url.strip() else URL_ENV
    raw_url = url.strip() if url and url.strip() else _env_value(env, URL_ENV)
    if raw_url is None:
        return None
    clean_url, url_user, url_password = _split_userinfo(raw_url)
    api_key_name = _secret_source(env, API_KEY_ENV)
    username = _env_value(env, USERNAME_ENV)
    password_name = _secret_source(env, PASSWORD_ENV)
    if (username is None) != (password_name is None):
        given = USERNAME_ENV if username is not None else password_name
        raise ConfigError(f"{USERNAME_ENV} and {PASSWORD_ENV} must be set together (only {given} is set)")
    if url_user is not None or url_password is not None:
        if api_key_name is not None or username is not None:
            other = api_key_name if api_key_name is not None else USERNAME_ENV
            raise ConfigError(f"{url_name}: carries user:password while {other} is also set; use one")
        if url_user is None or url_password is None:
            raise ConfigError(f"{url_name}: user:password in the URL needs both a user name and a password")
    if api_key_name is not None and username is not None:
        raise ConfigError(f"{api_key_name} and {USERNAME_ENV} are both set; use one")
    names = {
        **_SETTING_NAMES,
        "url": url_name,
        "api_key": api_key_name or API_KEY_ENV,
        "password": url_name if url_password is not None else password_name or PASSWORD_ENV,
    }
    common: dict[str, Any] = {
        "url": clean_url,
        "ca_certs": _env_value(env, CA_CERTS_ENV),
        "verify_certs": _parse_bool(VERIFY_CERTS_ENV, _env_value(env, VERIFY_CERTS_ENV)),
    }
    try:
        EsSettings(**common)  # the URL and TLS checked before a file or Secret Manager is read
        api_key = read_secret(env, API_KEY_ENV, fetch=fetch)
        password: str | None
        if url_password is not None:
            username, password = url_user, url_password
        else:
            password = read_secret(env, PASSWORD_ENV, fetch=fetch)
        return EsSettings(
            **common,
            api_key=SecretStr(api_key) if api_key is not None else None,
            username=username,
            password=SecretStr(password) if password is not None else None,
            secret_version=_secret_version(env, API_KEY_ENV) or _secret_version(env, PASSWORD_ENV),
        )
    except ValidationError as exc:
        raise _config_error(exc, names) from None


def move_url_credentials(url: str | None, env: MutableMapping[str, str]) -> str | None:
    """Move user:password@ out of `url` (--es-url), or out of $ELASTICSEARCH_URL when `url` is
    unset, into env's ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD; returns `url` without them.

    Run by the CLI before it builds a job: the graph then carries the user name only, and the
    workers it starts itself (in-process, forked, LOOPBACK) inherit the password in `env` like
    any other. Workers on a remote cluster inherit nothing: give them ELASTICSEARCH_PASSWORD or
    ELASTICSEARCH_PASSWORD_FILE. Checks everything settings_from_env checks (same ConfigError)
    before changing anything; idempotent.
    """
    settings = settings_from_env(url, env)
    flag = url.strip() if url else ""
    raw = flag or _env_value(env, URL_ENV)
    if settings is None or raw is None or settings.password is None:
        return url
    clean, user, _ = _split_userinfo(raw)
    if user is None:
        return url  # the password came from the environment already
    env[USERNAME_ENV] = user
    env[PASSWORD_ENV] = settings.password.get_secret_value()
    if flag:
        return clean
    env[URL_ENV] = clean
    return url


def make_client(settings: EsSettings, *, wait_out_outages: bool = False) -> Elasticsearch:
    """An elasticsearch 9.x client that never retries by itself: bulk_write owns the retry policy,
    and retries in two layers would multiply the attempts and blur the time bound.

    `wait_out_outages` (a stream): every request instead waits, without bound, for an unreachable
    or unavailable server to come back (connectors.es_outage), logging once when it goes and once
    when it is back."""
    options: dict[str, Any] = {
        "request_timeout": settings.request_timeout_s,
        "max_retries": 0,
        "retry_on_timeout": False,
        "retry_on_status": (),
        # A web server at the wrong URL must not read as Elasticsearch (see es_transport).
        "transport_class": ElasticsearchOnlyTransport,
    }
    if wait_out_outages:
        options["transport_class"] = PatientTransport
    if settings.api_key is not None:
        options["api_key"] = settings.api_key.get_secret_value()
    elif settings.username is not None and settings.password is not None:
        options["basic_auth"] = (settings.username, settings.password.get_secret_value())
    # The client refuses TLS options on an http:// URL, even the default ones.
    if settings.url.lower().startswith("https://"):
        options["verify_certs"] = settings.verify_certs
        if settings.ca_certs is not None:
            options["ca_certs"] = settings.ca_certs
    try:
        return Elasticsearch(settings.url, **options)
    except ValueError as exc:
        raise StoreError(f"cannot configure the Elasticsearch client: {redact(str(exc), settings)}") from None


def _secret_forms(settings: EsSettings) -> list[str]:
    """Every shape a secret can take on the wire or in a message: raw, URL-quoted, in a header."""
    forms: list[str] = []
    if settings.api_key is not None:
        key = settings.api_key.get_secret_value()
        forms += [key, quote(key, safe="")]
        try:
            decoded = base64.b64decode(key, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if ":" in decoded:  # an encoded "id:api_key" pair: the key half is the secret
            forms += [decoded, decoded.partition(":")[2]]
    if settings.password is not None:
        password = settings.password.get_secret_value()
        forms += [password, quote(password, safe="")]
        pair = f"{settings.username or ''}:{password}".encode()
        forms.append(base64.b64encode(pair).decode("ascii"))
    return sorted({f for f in forms if f}, key=len, reverse=True)


def redact(text: str, settings: EsSettings) -> str:
    """`text` with every secret of `settings` (and any credential-looking token) replaced by ***."""
    for secret in _secret_forms(settings):
        text = text.replace(secret, _REDACTED)
    return _scrub(text)


_AUTH_TOKEN = re.compile(r"\b(ApiKey|Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{4,}")
_URL_USERINFO = re.compile(r"://[^/\s@]+@")
_OBJECT_REPR = re.compile(r"<[^<>]*? object at 0x[0-9a-fA-F]+>:?\s*")


def _scrub(text: str) -> str:
    """Strip credentials bulk_write cannot know (it has a client, not the settings)."""
    text = _AUTH_TOKEN.sub(rf"\1 {_REDACTED}", text)
    return _URL_USERINFO.sub(f"://{_REDACTED}@", text)


# --- retry policy ----------------------------------------------------------------------------


class RetryPolicy(BaseModel):
    """How long bulk_write keeps trying documents refused for transient reasons (429, 5xx, network)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # With the default backoff, 10 attempts span about a minute: long enough for a node restart.
    max_attempts: int = Field(default=10, ge=1, le=50)
    initial_backoff_s: float = Field(default=0.5, ge=0)
    max_backoff_s: float = Field(default=30.0, ge=0)
    # Never retry past this, whatever max_attempts says: a stuck cluster must fail the run, not hang it.
    max_elapsed_s: float = Field(default=180.0, gt=0)
    # A stream's policy: an unreachable server, and documents still refused past the bound for
    # transient reasons, are waited for without bound instead (a service rides out an outage).
    wait_out_outages: bool = False

    @model_validator(mode="after")
    def _cap_not_below_start(self) -> RetryPolicy:
        if self.max_backoff_s < self.initial_backoff_s:
            raise ValueError("max_backoff_s must be at least initial_backoff_s")
        return self

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): exponential with full jitter,
        so many workers throttled together do not come back together."""
        if attempt < 1:
            raise ValueError(f"attempt must be at least 1, got {attempt}")
        cap = min(self.max_backoff_s, self.initial_backoff_s * 2.0 ** min(attempt - 1, 60))
        return rng.uniform(0.0, cap)


DEFAULT_RETRY = RetryPolicy()


# --- bulk write ------------------------------------------------------------------------------


class BulkOutcome(BaseModel):
    """What became of one document: stored, updated, already there, changed by another writer
    since it was read (a conditional update), refused for good, or given up on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    status: OutcomeStatus
    http_status: int | None = None
    reason: str | None = None
    # How many bulk requests carried this document, and seconds from the first to its outcome.
    attempts: int = Field(default=1, ge=1)
    elapsed_s: float = Field(default=0.0, ge=0)


# Refusals that say nothing about the document, only about the cluster's state at this moment: a
# write block (an operator's `index.blocks.write`, the disk flood-stage watermark's read-only
# block, a cluster-wide read-only) or an index closed for maintenance. They come as 403 or 400,
# whole or per item; the same document is accepted once the block is lifted, so they are waited
# out like a 503, and past the retry bound they fail the run: a dead letter would keep a good
# article out of the store for good.
TRANSIENT_ERROR_TYPES = frozenset({"cluster_block_exception", "index_closed_exception"})


def classify(http_status: int | None, op_type: str, error_type: str | None = None) -> Verdict:
    """The one place that decides what a status (and the server's error type, when it sent one)
    means for a document.

    None is a connection error or timeout. Statuses outside 2xx/4xx/5xx (a redirecting proxy)
    are retried: they end as retry_exhausted, which fails loudly, never as a silent success.
    """
    if http_status is None or http_status == 429 or http_status >= 500:
        return "retry"
    if error_type in TRANSIENT_ERROR_TYPES:
        return "retry"
    if 200 <= http_status < 300:
        return "updated" if op_type == "update" else "created"
    if http_status == 409 and op_type == "create":
        return "duplicate"
    if http_status == 409 and op_type == "update":
        return "conflict"  # the if_seq_no condition failed: read the document again
    if 400 <= http_status < 500:
        return "rejected"
    return "retry"


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` (or the error it wraps) says only that the cluster cannot take requests now: a
    connection error, a timeout, or a status `classify` retries (429, 5xx, a write block)."""
    cause = exc if isinstance(exc, ApiError | TransportConnectionError | ConnectionTimeout) else exc.__cause__
    if isinstance(cause, ApiError):
        return classify(cause.status_code, "index", api_error_type(cause)) == "retry"
    return isinstance(cause, TransportConnectionError | ConnectionTimeout)


T = TypeVar("T")


def call_with_retries(call: Callable[[], T], retry: RetryPolicy, what: str) -> T:
    """`call()`, called again after transient errors (`is_transient`) with the backoff and within
    the bound of `retry`, as bulk writes are; any other error, or the last one, is raised."""
    rng = random.Random()
    started = time.monotonic()
    for attempt in range(1, retry.max_attempts + 1):
        try:
            return call()
        except Exception as exc:
            delay = retry.delay(attempt, rng)
            out_of_time = time.monotonic() - started + delay > retry.max_elapsed_s
            if not is_transient(exc) or attempt == retry.max_attempts or out_of_time:
                raise
            _log.warning("%s: %s; retrying in %.1f s", what, one_line(str(exc)), delay)
            time.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


class _Result(NamedTuple):
    """One document's answer in one round."""

    http_status: int | None
    reason: str | None
    error_type: str | None = None  # the server's error "type", e.g. cluster_block_exception


def _reason(text: str) -> str:
    return one_line(_scrub(_OBJECT_REPR.sub("", text)), limit=REASON_LIMIT)


def _error_reason(error: Any) -> str:
    """'type: reason (caused by: type: reason)' from an Elasticsearch error object or string."""
    if not isinstance(error, Mapping):
        return _reason(str(error))
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, Mapping):
        text += f" (caused by: {cause.get('type', 'error')}: {cause.get('reason', '')})"
    return _reason(text)


def _api_error_reason(exc: ApiError) -> str:
    """A whole-request refusal: the server's error if it sent JSON, else the HTTP reason phrase."""
    if isinstance(exc.body, Mapping) and "error" in exc.body:
        return _error_reason(exc.body["error"])
    try:
        return http.HTTPStatus(exc.status_code).phrase.lower()
    except ValueError:
        return _reason(exc.message)


def error_type(error: Any) -> str | None:
    """The "type" of an Elasticsearch error object (None for anything else)."""
    if isinstance(error, Mapping) and isinstance(error.get("type"), str):
        return str(error["type"])
    return None


def api_error_type(exc: ApiError) -> str | None:
    """The "type" of the error a whole-request refusal carries, if the server sent JSON."""
    return error_type(exc.body.get("error")) if isinstance(exc.body, Mapping) else None


def _check_whole_request(exc: ApiError) -> None:
    """Refusals no retry and no dead letter can fix: wrong credentials or not Elasticsearch at all."""
    if isinstance(exc, UnsupportedProductError):
        # The helper would report each document as failed with status 200, which reads as success.
        raise StoreError("the server answered but is not Elasticsearch (no X-Elastic-Product header)")
    if api_error_type(exc) in TRANSIENT_ERROR_TYPES:
        return  # a 403 for a write block is the cluster's state, not the credentials: retried
    if exc.status_code in (401, 403):
        raise StoreError(f"Elasticsearch refused the credentials: {exc.status_code} {_api_error_reason(exc)}")


def _item_result(info: Mapping[str, Any]) -> _Result:
    exception = info.get("exception")
    if isinstance(exception, ApiError):
        _check_whole_request(exception)
        return _Result(
            http_status=exception.status_code,
            reason=_api_error_reason(exception),
            error_type=api_error_type(exception),
        )
    status = info.get("status")
    http_status = status if isinstance(status, int) else None
    if http_status is not None and 200 <= http_status < 300:
        return _Result(http_status=http_status, reason=None)
    error = info.get("error", "no status")
    return _Result(http_status=http_status, reason=_error_reason(error), error_type=error_type(error))


def _send_round(
    client: Elasticsearch,
    actions: Sequence[Mapping[str, Any]],
    positions: Sequence[int],
    *,
    chunk_size: int,
    max_chunk_bytes: int,
) -> dict[int, _Result]:
    """One pass of streaming_bulk over `positions`; every position gets a result, even when the
    connection dies half-way (the rest are then connection failures, to be retried)."""
    # Failed items carry no source and the same id may be sent twice: match answers by _id, in order.
    waiting: dict[str, deque[int]] = defaultdict(deque)
    for position in positions:
        waiting[str(actions[position]["_id"])].append(position)
    results: dict[int, _Result] = {}
    try:
        for _ok, item in helpers.streaming_bulk(
            client,
            (dict(actions[position]) for position in positions),
            chunk_size=chunk_size,
            max_chunk_bytes=max_chunk_bytes,
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=0,
        ):
            ((_op, info),) = item.items()
            queue = waiting.get(str(info.get("_id")))
            if queue:
                results[queue.popleft()] = _item_result(info)
        missing = _Result(http_status=None, reason="no answer for this document in the bulk response")
    except (TransportConnectionError, ConnectionTimeout) as exc:
        # The helper turns only HTTP errors into per-item failures; network errors escape it. The
        # client re-raises them without `errors`, so str(exc) is a bare "Connection error".
        missing = _Result(http_status=None, reason=_reason(f"{type(exc).__name__}: {exc.message or exc}"))
    for position in positions:
        results.setdefault(position, missing)
    return results


def _check_bulk_arguments(chunk_size: int, max_chunk_bytes: int) -> None:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if max_chunk_bytes < 1:
        raise ValueError(f"max_chunk_bytes must be at least 1, got {max_chunk_bytes}")


def _outcome(
    doc_id: str, status: OutcomeStatus, result: _Result, attempts: int, elapsed: float
) -> BulkOutcome:
    return BulkOutcome(
        id=doc_id,
        status=status,
        http_status=result.http_status,
        reason=result.reason,
        attempts=attempts,
        elapsed_s=elapsed,
    )


def _invalid_id(doc_id: str) -> str | None:
    """Why Elasticsearch would refuse this id, or None; such ids are rejected here, unsent."""
    if not doc_id:
        return "invalid _id: empty"
    size = len(doc_id.encode("utf-8"))
    if size > MAX_ID_BYTES:
        return f"invalid _id: {size} bytes, Elasticsearch allows at most {MAX_ID_BYTES}"
    return None


def bulk_write(
    client: Elasticsearch,
    index: str,
    docs: Sequence[tuple[str, Mapping[str, Any] | bytes]],
    *,
    op_type: Literal["create", "index"] = "create",
    retry: RetryPolicy = DEFAULT_RETRY,
    chunk_size: int = 500,
    max_chunk_bytes: int = 10 * 1024 * 1024,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> list[BulkOutcome]:
    """Write `docs` (id, source) to `index`; exactly one outcome per doc, in input order. A source
    is a mapping or its JSON, already encoded (sent as it is).

    Transient refusals (429, 5xx, write blocks, refused connections, timeouts, whole or per item)
    are re-sent, only those documents, with backoff until the policy runs out; then they are
    retry_exhausted.
    Raises StoreError only for what no retry fixes: rejected credentials, a server that is not
    Elasticsearch.
    """
    _check_bulk_arguments(chunk_size, max_chunk_bytes)
    actions = [
        {
            "_op_type": op_type,
            "_index": index,
            "_id": doc_id,
            "_source": source if isinstance(source, bytes) else dict(source),
        }
        for doc_id, source in docs
    ]
    return _bulk(
        client,
        actions,
        op_type=op_type,
        retry=retry,
        chunk_size=chunk_size,
        max_chunk_bytes=max_chunk_bytes,
        sleep=sleep,
        clock=clock,
        rng=rng,
    )


@dataclass(frozen=True)
class PartialUpdate:
    """Fields to write into one stored document, provided it is still the version that was read."""

    id: str
    index: str  # the concrete index holding it: behind an alias, after a rollover, there are several
    doc: Mapping[str, Any]  # merged like any partial update: objects key by key, lists replaced
    seq_no: int
    primary_term: int


def bulk_update(
    client: Elasticsearch,
    updates: Sequence[PartialUpdate],
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    chunk_size: int = 500,
    max_chunk_bytes: int = 10 * 1024 * 1024,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> list[BulkOutcome]:
    """Conditional partial updates (`if_seq_no`/`if_primary_term`, no script: the local distribution
    has none); exactly one outcome per update, in input order.

    `updated`; `conflict` when another writer changed the document since it was read (read it
    again and decide anew: a retried update that had in fact been applied also ends here);
    `rejected` for a refusal such as 404 (the document is gone). Transient refusals are retried
    as in bulk_write.
    """
    _check_bulk_arguments(chunk_size, max_chunk_bytes)
    actions = [
        {
            "_op_type": "update",
            "_index": u.index,
            "_id": u.id,
            "if_seq_no": u.seq_no,
            "if_primary_term": u.primary_term,
            "doc": dict(u.doc),
        }
        for u in updates
    ]
    return _bulk(
        client,
        actions,
        op_type="update",
        retry=retry,
        chunk_size=chunk_size,
        max_chunk_bytes=max_chunk_bytes,
        sleep=sleep,
        clock=clock,
        rng=rng,
    )


def _bulk(
    client: Elasticsearch,
    actions: Sequence[Mapping[str, Any]],
    *,
    op_type: str,
    retry: RetryPolicy,
    chunk_size: int,
    max_chunk_bytes: int,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    rng: random.Random | None,
) -> list[BulkOutcome]:
    """Send `actions` (all of `op_type`) until each has an outcome; the retry loop of bulk_write and
    bulk_update."""
    rng = rng if rng is not None else random.Random()
    started = clock()
    outcomes: dict[int, BulkOutcome] = {}
    pending: list[int] = []
    for position, action in enumerate(actions):
        doc_id = str(action["_id"])
        problem = _invalid_id(doc_id)
        if problem is None:
            pending.append(position)
        else:
            outcomes[position] = BulkOutcome(id=doc_id, status="rejected", reason=problem)
    attempt = 0
    while pending:
        attempt += 1
        results = _send_round(
            client, actions, pending, chunk_size=chunk_size, max_chunk_bytes=max_chunk_bytes
        )
        elapsed = max(0.0, clock() - started)
        retry_later: list[int] = []
        for position in pending:
            verdict = classify(results[position].http_status, op_type, results[position].error_type)
            if verdict == "retry":
                retry_later.append(position)
            else:
                outcomes[position] = _outcome(
                    str(actions[position]["_id"]), verdict, results[position], attempt, elapsed
                )
        pending = retry_later
        if not pending:
            break
        delay = retry.delay(attempt, rng)
        last = results[pending[-1]]
        if attempt >= retry.max_attempts or elapsed + delay > retry.max_elapsed_s:
            for position in pending:
                outcomes[position] = _outcome(
                    str(actions[position]["_id"]), "retry_exhausted", results[position], attempt, elapsed
                )
            break
        _log.warning(
            "Elasticsearch bulk: retrying %d of %d documents in %.1f s (attempt %d of %d failed: %s %s)",
            len(pending),
            len(actions),
            delay,
            attempt,
            retry.max_attempts,
            last.http_status if last.http_status is not None else "no response",
            last.reason,
        )
        sleep(delay)
    return [outcomes[position] for position in range(len(actions))]


class BulkRetryExhaustedError(StoreError):
    """Elasticsearch stayed unavailable or throttling past the retry policy; a StoreError (and so a
    RuntimeError) so the CLI reports it like any other store failure."""

    def __init__(self, message: str, outcomes: Sequence[BulkOutcome]) -> None:
        super().__init__(message)
        self.outcomes = tuple(outcomes)


def _last_failure(outcome: BulkOutcome) -> str:
    if outcome.http_status is None:
        return outcome.reason or "no response"
    return f"{outcome.http_status} {outcome.reason or ''}".strip()


def raise_if_exhausted(outcomes: Sequence[BulkOutcome], settings_or_url: EsSettings | str) -> None:
    """Raise BulkRetryExhaustedError (one line, no secrets) when any document ran out of retries."""
    exhausted = [o for o in outcomes if o.status == "retry_exhausted"]
    if not exhausted:
        return
    if isinstance(settings_or_url, EsSettings):
        url = settings_or_url.url
    else:
        url = _split_userinfo(settings_or_url)[0]
    attempts = max(o.attempts for o in exhausted)
    elapsed = max(o.elapsed_s for o in exhausted)
    documents = "document" if len(exhausted) == 1 else "documents"
    message = one_line(
        f"Elasticsearch at {url} did not accept {len(exhausted)} {documents} after {attempts} "
        f"attempt{'' if attempts == 1 else 's'} over {elapsed:.0f} s (last: {_last_failure(exhausted[-1])})"
    )
    if isinstance(settings_or_url, EsSettings):
        message = redact(message, settings_or_url)
    raise BulkRetryExhaustedError(_scrub(message), exhausted)
