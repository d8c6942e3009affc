"""Kibana's saved objects import API, and the rewrite that points Wirewatch's objects at another index prefix.

Plain functions, no Beam. Kibana takes the same credentials as Elasticsearch (an API key, or a user
name and password), so the settings are `connectors.es_client.EsSettings` read from the same
ELASTICSEARCH_* variables; only the URL differs (`--kibana-url`, $KIBANA_URL).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from pydantic import BaseModel

from connectors.es_client import URL_FLAG, EsSettings, redact, settings_from_env
from pipelines import __version__
from schemas.errors import ConfigError
from schemas.records import one_line
from schemas.types import FROZEN

KIBANA_URL_ENV = "KIBANA_URL"
KIBANA_URL_FLAG = "--kibana-url"
DEFAULT_KIBANA_URL = "http://127.0.0.1:5601"
DEFAULT_PREFIX = "wirewatch"  # the prefix the committed saved objects are written for
IMPORT_PATH = "/api/saved_objects/_import"
# Kibana's own rule for space ids: lower-case letters, digits, "_" and "-".
_SPACE_ID = re.compile(r"^[a-z0-9_-]{1,255}$")
_KIBANA_EXAMPLE = "e.g. http://127.0.0.1:5601"


class KibanaError(Exception):
    """Kibana cannot be reached, refused the request, or is not Kibana; one line a user can act on."""


class ObjectError(BaseModel):
    """One saved object Kibana did not import, and why (in words, not Kibana's error type)."""

    model_config = FROZEN

    type: str
    id: str
    title: str | None = None
    reason: str


class ImportSummary(BaseModel):
    """What one import did: the objects imported (type, id) and the ones refused."""

    model_config = FROZEN

    url: str
    space: str
    imported: tuple[tuple[str, str], ...] = ()  # (type, id) of each object Kibana imported
    imported_count: int = 0
    errors: tuple[ObjectError, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def success(self) -> bool:
        return not self.errors


# --- settings ------------------------------------------------------------------------------------


def kibana_settings(url: str | None, env: Mapping[str, str]) -> EsSettings:
    """Where Kibana is (--kibana-url, else $KIBANA_URL, else http://127.0.0.1:5601) and the
    credentials of ELASTICSEARCH_API_KEY, or ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD
    (or user:password@ in the URL; either secret may instead be in the file a ..._FILE variable
    names, or the Secret Manager version a ..._SECRET variable names); TLS from
    ELASTICSEARCH_CA_CERTS / ELASTICSEARCH_VERIFY_CERTS.

    Raises ConfigError with one line naming the flag or variable, never a secret.
    """
    if url and url.strip():
        name, raw = KIBANA_URL_FLAG, url.strip()
    elif env.get(KIBANA_URL_ENV, "").strip():
        name, raw = KIBANA_URL_ENV, env[KIBANA_URL_ENV].strip()
    else:
        name, raw = "the default Kibana URL", DEFAULT_KIBANA_URL
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}: must be an http:// or https:// URL with a host, {_KIBANA_EXAMPLE}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{name}: has an invalid port, {_KIBANA_EXAMPLE}") from None
    if port is None and parts.scheme.lower() == "http":
        raise ConfigError(f"{name}: needs a port, {_KIBANA_EXAMPLE}")
    if parts.query or parts.fragment:  # a base path (Kibana's server.basePath) is fine
        raise ConfigError(f"{name}: must not carry a query string or fragment")
    try:
        settings = settings_from_env(raw, env)
    except ConfigError as exc:  # the shared reader names the Elasticsearch flag for URL problems
        raise ConfigError(str(exc).replace(URL_FLAG, name)) from None
    if settings is None:  # not reachable: a URL was given
        raise ConfigError(f"{name}: no URL")
    return settings


def check_space(space: str | None) -> str | None:
    """None for the default space, else a valid space id (ConfigError naming --space)."""
    if space is None or space == "default":
        return None
    if not _SPACE_ID.match(space):
        raise ConfigError(
            f"--space: a space id is lower-case letters, digits, '_' and '-'; got {space[:40]!r}"
        )
    return space


# --- the prefix rewrite ----------------------------------------------------------------------------


def with_index_prefix(ndjson: str, prefix: str) -> str:
    """The saved objects of `ndjson` for indices named `<prefix>-…` instead of `wirewatch-…`.

    Data view patterns follow the prefix. So do object ids (and every reference to them) and
    titles (suffixed ` [<prefix>]`), so that a second prefix's objects sit beside the first ones in
    a Kibana space instead of replacing them. The default prefix returns `ndjson` unchanged.
    """
    if prefix == DEFAULT_PREFIX:
        return ndjson
    old = f"{DEFAULT_PREFIX}-"
    new = f"{prefix}-"

    def renamed(object_id: str) -> str:
        return new + object_id.removeprefix(old) if object_id.startswith(old) else object_id

    lines = []
    for line in ndjson.splitlines():
        if not line.strip():
            continue
        obj: dict[str, Any] = json.loads(line)
        obj["id"] = renamed(obj["id"])
        for reference in obj.get("references", []):
            reference["id"] = renamed(reference["id"])
        attributes = obj.get("attributes", {})
        label = "title"
        if obj.get("type") == "index-pattern":
            label = "name"  # a data view's title is its index pattern
            pattern = str(attributes.get("title", ""))
            if pattern.startswith(old):
                attributes["title"] = new + pattern.removeprefix(old)
        if isinstance(attributes.get(label), str):
            attributes[label] = f"{attributes[label]} [{prefix}]"
        lines.append(json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


# --- the import ------------------------------------------------------------------------------------


def import_url(settings: EsSettings, space: str | None) -> str:
    base = settings.url.rstrip("/")
    return f"{base}/s/{quote(space, safe='')}{IMPORT_PATH}" if space else f"{base}{IMPORT_PATH}"


def _describe(exc: requests.RequestException) -> str:
    """The innermost reason: requests wraps urllib3's errors in long `Max retries…` messages."""
    inner: object = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    text = str(reason if reason is not None else inner)
    # urllib3 prefixes "<…HTTPConnection object at 0x…>: " or "HTTPConnection(host=…, port=…): ".
    text = re.sub(r"^(<[^<>]*>|\w*Connection\([^()]*\)):\s*", "", text)
    return one_line(text, 300)


def _message(response: requests.Response) -> str:
    """Kibana's explanation of a refusal (`{"statusCode", "error", "message"}`), else the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("message") or body.get("error")):
        return one_line(str(body.get("message") or body.get("error")), 300)
    return f"HTTP {response.status_code} {response.reason or ''}".rstrip()


def _reason(error: Mapping[str, Any]) -> str:
    """Why Kibana refused one object, from its import error (`conflict`, `missing_references`, …)."""
    kind = error.get("type")
    if kind == "conflict":
        return "already exists (import with --overwrite to replace it)"
    if kind == "ambiguous_conflict":
        destinations = ", ".join(str(d.get("id")) for d in error.get("destinations", []))
        return f"matches several existing objects ({destinations}); import into another space"
    if kind == "missing_references":
        missing = ", ".join(f"{r.get('type')} {r.get('id')}" for r in error.get("references", []))
        return f"refers to objects that exist neither in the file nor in Kibana: {missing}"
    if kind == "unsupported_type":
        return "this Kibana does not know the object type (older than 8.11, or the plugin is disabled)"
    message = error.get("message") or error.get("error") or kind or "unknown error"
    status = error.get("statusCode")
    return one_line(f"{message} (HTTP {status})" if status else str(message), 300)


def import_saved_objects(
    settings: EsSettings,
    ndjson: bytes,
    *,
    space: str | None = None,
    overwrite: bool = True,
    filename: str = "wirewatch.ndjson",
    session: requests.Session | None = None,
) -> ImportSummary:
    """POST `ndjson` to Kibana's saved objects import API (multipart, as the UI does).

    Objects Kibana refuses are in the summary's `errors`, one reason each. Raises KibanaError when
    Kibana cannot be reached, refuses the credentials or the request as a whole, or is not Kibana.
    """
    url = import_url(settings, space)
    where = f"Kibana at {settings.url}"
    headers = {"kbn-xsrf": "true", "Accept": "application/json", "User-Agent": f"wirewatch/{__version__}"}
    auth: tuple[str, str] | None = None
    if settings.api_key is not None:
        headers["Authorization"] = f"ApiKey {settings.api_key.get_secret_value()}"
    elif settings.username is not None and settings.password is not None:
        auth = (settings.username, settings.password.get_secret_value())
    verify: bool | str = settings.ca_certs if settings.ca_certs else settings.verify_certs
    http = session or requests.Session()
    try:
        response = http.post(
            url,
            params={"overwrite": "true" if overwrite else "false"},
            files={"file": (filename, ndjson, "application/ndjson")},
            headers=headers,
            auth=auth,
            verify=verify,
            timeout=settings.request_timeout_s,
            allow_redirects=False,
        )
    except requests.Timeout as exc:
        raise KibanaError(f"{where} did not answer within {settings.request_timeout_s:g} s") from exc
    except requests.RequestException as exc:
        raise KibanaError(redact(f"cannot reach {where}: {_describe(exc)}", settings)) from exc
    finally:
        if session is None:
            http.close()
    return _summary(response, settings, space, where)


def _summary(
    response: requests.Response, settings: EsSettings, space: str | None, where: str
) -> ImportSummary:
    status = response.status_code
    if status == 401:
        raise KibanaError(
            redact(
                f"{where} refused the credentials (401): {_message(response)}; set ELASTICSEARCH_USERNAME "
                "and ELASTICSEARCH_PASSWORD, or ELASTICSEARCH_API_KEY",
                settings,
            )
        )
    if status == 403:
        raise KibanaError(
            redact(
                f"{where} refused the import (403, a missing privilege: saved objects management "
                f"and the data view, search, visualize and dashboard features): {_message(response)}",
                settings,
            )
        )
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        raise KibanaError(
            f"{where} redirected the import to {location} (a login page? use ELASTICSEARCH_API_KEY, "
            f"or the URL Kibana itself answers on)"
        )
    if status == 404 and space:
        raise KibanaError(f"{where} has no space {space!r} (404): create it first, or drop --space")
    if status != 200:
        raise KibanaError(redact(f"{where} refused the import ({status}): {_message(response)}", settings))
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        raise KibanaError(f"the server at {settings.url} did not answer like Kibana's import API")
    imported = tuple(
        (str(item.get("type")), str(item.get("destinationId") or item.get("id")))
        for item in body.get("successResults", [])
        if isinstance(item, dict)
    )
    errors = tuple(
        ObjectError(
            type=str(item.get("type")),
            id=str(item.get("id")),
            title=item.get("title") or (item.get("meta") or {}).get("title"),
            reason=_reason(item.get("error") or {}),
        )
        for item in body.get("errors", [])
        if isinstance(item, dict)
    )
    if not body["success"] and not errors:  # never report a failed import as a clean one
        errors = (ObjectError(type="import", id="-", reason="Kibana reported a failure without details"),)
    warnings = tuple(
        one_line(str(w.get("message", w)) if isinstance(w, dict) else str(w), 300)
        for w in body.get("warnings", [])
    )
    count = body.get("successCount")
    return ImportSummary(
        url=settings.url,
        space=space or "default",
        imported=imported,
        imported_count=count if isinstance(count, int) else len(imported),
        errors=errors,
        warnings=warnings,
    )
