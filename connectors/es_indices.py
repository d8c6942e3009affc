"""Elasticsearch index layout: names, composable templates, write aliases and the documents written."""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import elastic_transport
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    BadRequestError,
    Elasticsearch,
    NotFoundError,
    UnsupportedProductError,
)

from connectors.es_mapping_check import index_problem
from connectors.store import StoreError
from schemas.records import Article, DeadLetter, one_line

TEMPLATE_FOLDER = "elasticsearch_templates"  # package data of `connectors`
PLACEHOLDER = "{{prefix}}"
# Lucene refuses a whole document when one indexed term is longer than this many UTF-8 bytes.
MAX_TERM_BYTES = 32766
# The cluster is refusing service (overloaded, disk flood stage, no master), not this request.
_UNAVAILABLE = (429, 503)

TemplateKind = Literal["component", "index"]
_PREFIX = re.compile(r"^[a-z][a-z0-9-]*$")
# (name suffix, kind, file): components first, because an index template must find its parts.
_TEMPLATES: tuple[tuple[str, TemplateKind, str], ...] = (
    ("settings", "component", "settings.component.json"),
    ("articles-mappings", "component", "articles-mappings.component.json"),
    ("deadletters-mappings", "component", "deadletters-mappings.component.json"),
    ("alerts-mappings", "component", "alerts-mappings.component.json"),
    ("articles", "index", "articles.index-template.json"),
    ("deadletters", "index", "deadletters.index-template.json"),
    ("alerts", "index", "alerts.index-template.json"),
)


@dataclass(frozen=True)
class IndexNames:
    """Every Elasticsearch name Wirewatch uses, derived from one prefix so test runs never collide."""

    prefix: str = "wirewatch"

    def __post_init__(self) -> None:
        # Index names must be lowercase; a leading letter keeps clear of `-`, `_` and `+` (refused
        # or reserved by Elasticsearch) and of hidden `.` indices.
        if not _PREFIX.match(self.prefix) or len(self.prefix) > 100:
            raise ValueError(
                f"index prefix must be 1-100 characters of a-z, 0-9 and '-', starting with a letter; "
                f"got {self.prefix!r}"
            )

    @property
    def articles_alias(self) -> str:
        return f"{self.prefix}-articles"

    @property
    def articles_first_index(self) -> str:
        return f"{self.prefix}-articles-000001"

    @property
    def deadletters_alias(self) -> str:
        return f"{self.prefix}-deadletters"

    @property
    def deadletters_first_index(self) -> str:
        return f"{self.prefix}-deadletters-000001"

    @property
    def alerts_alias(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def alerts_first_index(self) -> str:
        return f"{self.prefix}-alerts-000001"

    @property
    def feedstate_index(self) -> str:
        """One small index of per-feed polling state (validators, schedule, health); no rollover."""
        return f"{self.prefix}-feedstate"

    @property
    def component_templates(self) -> tuple[str, ...]:
        return tuple(f"{self.prefix}-{suffix}" for suffix, kind, _ in _TEMPLATES if kind == "component")

    @property
    def index_templates(self) -> tuple[str, ...]:
        return tuple(f"{self.prefix}-{suffix}" for suffix, kind, _ in _TEMPLATES if kind == "index")

    @property
    def aliases(self) -> tuple[tuple[str, str], ...]:
        """(alias, first index) pairs, articles first."""
        return (
            (self.articles_alias, self.articles_first_index),
            (self.deadletters_alias, self.deadletters_first_index),
            (self.alerts_alias, self.alerts_first_index),
        )

    @property
    def mapping_components(self) -> tuple[tuple[str, str], ...]:
        """(alias, the component template holding the mappings of its indices) pairs."""
        return (
            (self.articles_alias, f"{self.prefix}-articles-mappings"),
            (self.deadletters_alias, f"{self.prefix}-deadletters-mappings"),
            (self.alerts_alias, f"{self.prefix}-alerts-mappings"),
        )


# --- templates ------------------------------------------------------------------------------


@functools.cache
def _template_text(filename: str) -> str:
    return (resources.files("connectors") / TEMPLATE_FOLDER / filename).read_text(encoding="utf-8")


def _specs(names: IndexNames) -> Iterator[tuple[str, TemplateKind, dict[str, Any]]]:
    """(name, kind, body) of every template, components before the index templates using them."""
    for suffix, kind, filename in _TEMPLATES:
        # The prefix is validated to [a-z0-9-], so plain substitution cannot break the JSON.
        text = _template_text(filename).replace(PLACEHOLDER, names.prefix)
        yield f"{names.prefix}-{suffix}", kind, json.loads(text)


def load_templates(names: IndexNames) -> dict[str, dict[str, Any]]:
    """Template name -> request body, components before the index templates that compose them."""
    return {name: body for name, _, body in _specs(names)}


def template_version(body: Mapping[str, Any]) -> int:
    """The version a template body carries in `_meta`; 0 for one without (always older than ours)."""
    version = body.get("_meta", {}).get("template_version", 0)
    return version if isinstance(version, int) else 0


def _installed_template(client: Elasticsearch, name: str, kind: TemplateKind) -> dict[str, Any] | None:
    """The body of an installed template, or None when there is none by that name."""
    try:
        if kind == "component":
            found = client.cluster.get_component_template(name=name)["component_templates"]
            return dict(found[0]["component_template"]) if found else None
        found = client.indices.get_index_template(name=name)["index_templates"]
        return dict(found[0]["index_template"]) if found else None
    except NotFoundError:
        return None


def _put_template(
    client: Elasticsearch, name: str, kind: TemplateKind, body: dict[str, Any], *, create: bool
) -> None:
    if kind == "component":
        client.cluster.put_component_template(name=name, body=body, create=create)
    else:
        client.indices.put_index_template(name=name, body=body, create=create)


def _ensure_template(client: Elasticsearch, name: str, kind: TemplateKind, body: dict[str, Any]) -> bool:
    """Install a template unless the same or a newer version is there; True if this call put it.

    A missing template is created with `create=true`, so when workers race exactly one wins and
    the others see "already exists", which is success. A newer installed version is left alone:
    an older worker must never downgrade what a newer deployment installed.
    """
    installed = _installed_template(client, name, kind)
    if installed is not None and template_version(installed) >= template_version(body):
        return False
    try:
        _put_template(client, name, kind, body, create=installed is None)
    except BadRequestError as exc:
        if installed is None and "already exists" in _reason(exc):
            return False
        raise StoreError(f"Elasticsearch refused the {kind} template {name}: {_reason(exc)}") from exc
    return True


# --- aliases and indices --------------------------------------------------------------------


def _alias_exists(client: Elasticsearch, alias: str) -> bool:
    return bool(client.indices.exists_alias(name=alias))


def _ensure_write_alias(client: Elasticsearch, alias: str, first_index: str) -> bool:
    """Create the first index with `alias` as its write alias unless the alias exists; True if created.

    Index and alias are created in one cluster-state update, so a worker that loses the race finds
    both in place and `resource_already_exists_exception` means success.
    """
    if _alias_exists(client, alias):
        return False
    try:
        client.indices.create(index=first_index, aliases={alias: {"is_write_index": True}})
    except BadRequestError as exc:
        if exc.error == "resource_already_exists_exception" and _alias_exists(client, alias):
            return False
        if exc.error == "resource_already_exists_exception":
            raise StoreError(
                f"index {first_index} exists without the alias {alias}: add the alias "
                f"(POST _aliases) or delete the index, then retry"
            ) from exc
        # Typically an index named like the alias, auto-created by a write before setup ran.
        hint = (
            " (delete or rename that index, then retry)"
            if exc.error == "invalid_alias_name_exception"
            else ""
        )
        raise StoreError(f"cannot create {first_index} with alias {alias}: {_reason(exc)}{hint}") from exc
    return True


def ensure_indices(client: Elasticsearch, names: IndexNames) -> bool:
    """Install the templates and the write aliases; idempotent, and safe when several workers race.

    Returns True if this call created or upgraded anything. An upgraded template shapes the next
    index (after a rollover); the indices already behind an alias get the new fields added to
    their mapping (see _upgrade_mappings).
    """
    created = False
    with server_errors(server_url(client)):
        specs = list(_specs(names))
        for name, kind, body in specs:
            created |= _ensure_template(client, name, kind, body)
        for alias, first_index in names.aliases:
            created |= _ensure_write_alias(client, alias, first_index)
        bodies = {name: body for name, _, body in specs}
        for alias, component in names.mapping_components:
            created |= _upgrade_mappings(client, alias, bodies[component])
        created |= _ensure_feedstate_index(client, names.feedstate_index)
    return created


def mapping_problems(client: Elasticsearch, names: IndexNames) -> list[str]:
    """One line per index behind the aliases whose fields are mapped unlike the shipped templates
    (see connectors.es_mapping_check); empty when all fit or nothing exists yet.

    `wirewatch es setup` and `es status` report them; ensure_indices (which the sink runs too)
    does not refuse such an index: its owner may mean it, and documents it refuses become dead
    letters."""
    bodies = load_templates(names)
    problems: list[str] = []
    for alias, component in names.mapping_components:
        try:
            with server_errors(server_url(client)):
                found = client.indices.get_mapping(index=alias)
        except NotFoundError:
            continue
        shipped = bodies[component]["template"]["mappings"]
        for index, entry in sorted(found.body.items()):
            problem = index_problem(index, entry["mappings"], shipped)
            if problem is not None:
                problems.append(problem)
    return problems


def _managed_version(mappings: Mapping[str, Any]) -> int | None:
    """The template version an index's mapping records, None for an index this code did not build."""
    meta = mappings.get("_meta", {})
    version = meta.get("template_version")
    return version if meta.get("managed_by") == "wirewatch" and isinstance(version, int) else None


def _upgrade_mappings(client: Elasticsearch, alias: str, component: Mapping[str, Any]) -> bool:
    """Add the mapping of `component` to the indices behind `alias` built from an older version of
    it; True if any index was changed. An index without Wirewatch's `_meta` was made by someone
    else on purpose and is left as it is (documents it refuses become dead letters).

    Mappings only grow: put_mapping adds the new fields, leaves identical ones as they are (and
    unindexed objects as the index has them, see _addable), and
    replaces the mapping `_meta` so the index records the version it now has (a field mapped
    differently is refused: StoreError). Documents written before keep their old indexing until
    updated. Racing workers put the same body, which is harmless; an index at this version or a
    newer one is left alone. (Should an older deployment race a newer one, `_meta` may end up
    with the older version; the newer one's next call then adds its fields again.)
    """
    mappings = component["template"]["mappings"]
    shipped = template_version(mappings)
    try:
        found = client.indices.get_mapping(index=alias)
    except NotFoundError:
        return False
    versions = {index: _managed_version(entry["mappings"]) for index, entry in found.body.items()}
    stale = sorted(index for index, version in versions.items() if version is not None and version < shipped)
    if not stale:
        return False
    try:
        client.indices.put_mapping(
            index=stale,
            properties=_addable(mappings["properties"]),
            meta=mappings["_meta"],
            dynamic=mappings["dynamic"],
        )
    except BadRequestError as exc:
        raise StoreError(
            f"cannot upgrade the mapping of {', '.join(stale)} to template version {shipped}: {_reason(exc)}"
        ) from exc
    return True


def _addable(properties: Mapping[str, Any]) -> dict[str, Any]:
    """`properties` without the objects it does not index (`enabled: false`): an index built before
    keeps indexing those as it did, since Elasticsearch cannot turn an object's indexing off (the
    evidence spans, indexed up to template version 6)."""
    return {
        name: {**spec, "properties": _addable(spec["properties"])} if "properties" in spec else spec
        for name, spec in properties.items()
        if spec.get("enabled") is not False
    }


_FEEDSTATE_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "feed_url": {"type": "keyword"},
        "next_poll_at": {"type": "date"},
        "last_polled_at": {"type": "date"},
        "disabled": {"type": "boolean"},
        "consecutive_failures": {"type": "integer"},
    },
}


def _ensure_feedstate_index(client: Elasticsearch, index: str) -> bool:
    if client.indices.exists(index=index):
        return False
    try:
        client.indices.create(
            index=index,
            mappings=_FEEDSTATE_MAPPINGS,
            settings={"number_of_shards": 1, "number_of_replicas": 0},
        )
    except BadRequestError as exc:
        if exc.error == "resource_already_exists_exception":
            return False
        raise StoreError(f"cannot create {index}: {_reason(exc)}") from exc
    return True


def _alias_indices(client: Elasticsearch, alias: str) -> dict[str, bool]:
    """Index name -> is it the write index, for every index behind `alias` (empty when none)."""
    try:
        found = client.indices.get_alias(name=alias)
    except NotFoundError:
        return {}
    return {
        index: bool(entry["aliases"][alias].get("is_write_index", False))
        for index, entry in sorted(found.body.items())
    }


# Article ids are unique within an index; after a rollover an article re-ingested into the new
# write index exists twice, so the index name breaks the tie and search_after never skips a hit.
ARTICLE_ORDER = [{"id": "asc"}, {"_index": "asc"}]


def search_pages(
    client: Elasticsearch,
    index: str,
    query: Mapping[str, Any],
    page_size: int | Callable[[], int],
    **request: Any,
) -> Iterator[list[dict[str, Any]]]:
    """Every hit of `query`, page after page in ARTICLE_ORDER (search_after): documents rewritten
    meanwhile keep their sort values, so none is skipped or repeated. A missing index has none;
    partial results are refused (a failed shard raises instead of leaving hits unvisited).
    `page_size` may be a callable giving each page's size, 0 to stop early."""
    search_after: list[Any] | None = None
    while (size := page_size() if callable(page_size) else page_size) > 0:
        try:
            response = client.search(
                index=index,
                query=dict(query),
                sort=ARTICLE_ORDER,
                size=size,
                track_total_hits=False,
                allow_partial_search_results=False,
                search_after=search_after,  # None (the first page) is left out of the request
                **request,
            )
        except NotFoundError:
            return
        hits: list[dict[str, Any]] = response["hits"]["hits"]
        if hits:
            yield hits
        if len(hits) < size:
            return
        search_after = list(hits[-1]["sort"])


def alias_indices(client: Elasticsearch, alias: str) -> list[str]:
    """The indices behind `alias`, the write index first, then the others newest first (by name:
    rollover numbers them); empty when the alias does not exist."""
    indices = _alias_indices(client, alias)
    write = [index for index, is_write in indices.items() if is_write]
    return write + sorted((index for index in indices if not indices[index]), reverse=True)


def _count(client: Elasticsearch, alias: str) -> int:
    try:
        return int(client.count(index=alias)["count"])
    except NotFoundError:
        return 0


def _mapping_version(client: Elasticsearch, index: str) -> int | None:
    """The template version an index was created with (its mapping `_meta`)."""
    mappings = client.indices.get_mapping(index=index)[index]["mappings"]
    version = mappings.get("_meta", {}).get("template_version")
    return version if isinstance(version, int) else None


def _alias_status(client: Elasticsearch, alias: str) -> dict[str, Any]:
    indices = _alias_indices(client, alias)
    write_index = next((index for index, is_write in indices.items() if is_write), None)
    return {
        "alias": alias,
        "write_index": write_index,
        "indices": list(indices),
        "documents": _count(client, alias),
        "mapping_version": _mapping_version(client, write_index) if write_index else None,
    }


def index_status(client: Elasticsearch, names: IndexNames) -> dict[str, Any]:
    """What `wirewatch es status` shows: cluster health, each alias, and template versions.

    Template versions are given as installed and as shipped with this code, so a stale cluster
    (installed < shipped: run `wirewatch es setup`) is visible at a glance.
    """
    with server_errors(server_url(client)):
        health = client.cluster.health()
        specs = list(_specs(names))
        installed = {name: _installed_template(client, name, kind) for name, kind, _ in specs}
        return {
            "health": health["status"],
            "nodes": health["number_of_nodes"],
            "articles": _alias_status(client, names.articles_alias),
            "deadletters": _alias_status(client, names.deadletters_alias),
            "templates_installed": {
                name: template_version(body) if body is not None else None for name, body in installed.items()
            },
            "templates_shipped": {name: template_version(body) for name, _, body in specs},
            "mapping_problems": mapping_problems(client, names),
        }


def reset_indices(client: Elasticsearch, names: IndexNames) -> list[str]:
    """Delete every index behind both aliases, then the templates; returns the names deleted."""
    deleted: list[str] = []
    with server_errors(server_url(client)):
        for alias, _ in names.aliases:
            indices = list(_alias_indices(client, alias))
            if indices:
                client.indices.delete(index=indices)
                deleted.extend(indices)
        with contextlib.suppress(NotFoundError):
            client.indices.delete(index=names.feedstate_index)
            deleted.append(names.feedstate_index)
        # Index templates first: a component template in use cannot be deleted.
        for name in names.index_templates:
            with contextlib.suppress(NotFoundError):
                client.indices.delete_index_template(name=name)
                deleted.append(name)
        for name in names.component_templates:
            with contextlib.suppress(NotFoundError):
                client.cluster.delete_component_template(name=name)
                deleted.append(name)
    return deleted


# --- documents ------------------------------------------------------------------------------


def truncate_utf8(value: str, limit: int = MAX_TERM_BYTES) -> str:
    """`value` cut to at most `limit` UTF-8 bytes, never in the middle of a character."""
    encoded = value.encode("utf-8")
    if len(encoded) <= limit:
        return value
    # A cut inside a multi-byte sequence leaves only an incomplete tail, which "ignore" drops.
    return encoded[:limit].decode("utf-8", "ignore")


KeywordTree = dict[str, "KeywordTree | None"]


def _keyword_tree(properties: Mapping[str, Any]) -> KeywordTree:
    """The keyword fields of a mapping as a tree: None marks a keyword leaf, a dict an object."""
    tree: KeywordTree = {}
    for field, spec in properties.items():
        # Doc values have the same limit as the index, so even an unindexed keyword counts.
        if spec.get("type") == "keyword":
            tree[field] = None
        elif "properties" in spec:
            tree[field] = _keyword_tree(spec["properties"])
    return tree


@functools.cache
def _keyword_fields(filename: str) -> KeywordTree:
    mappings = json.loads(_template_text(filename))["template"]["mappings"]
    return _keyword_tree(mappings["properties"])


def _truncate_keywords(value: Any, tree: KeywordTree | None) -> Any:
    """A copy of `value` with every keyword string cut to the term limit (lists and objects walked)."""
    if isinstance(value, list):
        return [_truncate_keywords(item, tree) for item in value]
    if tree is None:
        return truncate_utf8(value) if isinstance(value, str) else value
    if isinstance(value, dict):
        return {
            key: _truncate_keywords(item, tree[key]) if key in tree else item for key, item in value.items()
        }
    return value


def article_document(article: Article) -> dict[str, Any]:
    """The JSON document indexed for an article.

    A keyword value over Lucene's term limit would make the server reject the whole article; a
    truncated URL or name is worth more than a dead letter, so keyword values are cut instead.
    """
    doc: dict[str, Any] = _truncate_keywords(
        article.model_dump(mode="json"), _keyword_fields("articles-mappings.component.json")
    )
    return doc


def article_fields_document(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Some fields of an article document (JSON values, as for a partial update), keyword values
    cut like article_document's."""
    doc: dict[str, Any] = _truncate_keywords(
        dict(fields), _keyword_fields("articles-mappings.component.json")
    )
    return doc


def dead_letter_document(letter: DeadLetter) -> dict[str, Any]:
    """The JSON document indexed for a dead letter (keyword values cut like an article's)."""
    doc: dict[str, Any] = _truncate_keywords(
        letter.model_dump(mode="json"), _keyword_fields("deadletters-mappings.component.json")
    )
    return doc


# --- errors ---------------------------------------------------------------------------------


def server_url(client: Elasticsearch) -> str:
    """The node URLs a client talks to, for messages (node configs hold no credentials)."""
    return ", ".join(node.base_url for node in client.transport.node_pool.all()) or "(no node)"


def _reason(exc: ApiError) -> str:
    """The server's own explanation of a refusal, on one line."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        return one_line(f"{error.get('type', exc.error)}: {error.get('reason', '')}")
    return one_line(str(error or exc.message))


def _root_cause(exc: ApiError) -> str:
    """The first shard's reason of a failed search ("all shards failed" says nothing)."""
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    causes = error.get("root_cause") if isinstance(error, dict) else None
    if isinstance(causes, list) and causes and isinstance(causes[0], dict):
        return one_line(str(causes[0].get("reason", "")), 200)
    return one_line(_reason(exc), 200)


@contextlib.contextmanager
def server_errors(location: str) -> Iterator[None]:
    """Turn failures a user must fix (unreachable, not Elasticsearch, credentials, a full or down
    cluster, a query the indices' mappings cannot answer) into StoreError.

    Anything else (a 400 for a request this code built, a 500) is a bug and propagates unchanged.
    """
    try:
        yield
    except (elastic_transport.ConnectionError, elastic_transport.ConnectionTimeout) as exc:
        raise StoreError(f"cannot reach Elasticsearch at {location}: {one_line(str(exc))}") from exc
    except UnsupportedProductError as exc:
        # Raised by es_transport with a short reason: the status and the page's title, not the page.
        raise StoreError(
            f"{location} is not Elasticsearch ({one_line(exc.message, 200)}): check --es-url or "
            "ELASTICSEARCH_URL (Elasticsearch's port is 9200 unless set otherwise)"
        ) from exc
    except AuthenticationException as exc:
        raise StoreError(
            f"Elasticsearch at {location} refused the credentials (401): {_reason(exc)}; set "
            "ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD, or ELASTICSEARCH_API_KEY"
        ) from exc
    except AuthorizationException as exc:
        if _reason(exc).startswith("cluster_block_exception"):
            # A 403 for a read-only block is the cluster's state, not a privilege: callers retry it.
            raise StoreError(f"Elasticsearch at {location} is blocked: {_reason(exc)}") from exc
        raise StoreError(
            f"Elasticsearch at {location} refused the request (403, a missing privilege): {_reason(exc)}"
        ) from exc
    except BadRequestError as exc:
        if exc.error != "search_phase_execution_exception":
            raise
        # A query this code built failed on the index itself: typically an index mapping a field
        # otherwise (`id` as text cannot sort), which `wirewatch es status` names.
        raise StoreError(
            f"Elasticsearch at {location} cannot run the query on these indices ({_root_cause(exc)}): "
            "`wirewatch es status` lists fields mapped unlike Wirewatch"
        ) from exc
    except ApiError as exc:
        if exc.status_code in _UNAVAILABLE:
            raise StoreError(f"Elasticsearch at {location} is unavailable: {_reason(exc)}") from exc
        raise
