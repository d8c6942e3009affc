"""The web app of `wirewatch serve`: four read-only pages over one open store.

Search (`/`) takes the CLI's query language and filters (pipelines/search_query.py) and shows the
store's own counts for the query (facets, articles per day); an article page (`/article/ID`)
shows the text with every tag's evidence marked; `/alerts` and `/feeds` show what the pipeline
keeps about alert rules and feeds. Every value is escaped by Jinja; no page runs a script, and
the Content-Security-Policy says so.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, render_template, request
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from pipelines.alert_query import QueryError
from pipelines.cli_search import resolve_actor, resolve_country, resolve_topic
from pipelines.console import parse_moment
from pipelines.search_query import Filters, search_request
from pipelines.stores import Store
from pipelines.web.evidence import marks_of, paragraphs, runs
from schemas.errors import ConfigError
from schemas.feeds import FeedSpec

PAGE_SIZE = 20
FEED_DAYS = 7  # the feeds page's items per day: over the last week
# No script at all, styles only from our own file, nothing framed, forms only back to us.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# The filters of the search page: URL parameter → (Filters field, how a value is checked).
FILTERS: dict[str, tuple[str, Callable[[str], str]]] = {
    "actor": ("actors", resolve_actor),
    "topic": ("topics", resolve_topic),
    "country": ("countries", resolve_country),
    "outlet": ("outlets", str),
    "lang": ("languages", str.lower),
}

_log = logging.getLogger("wirewatch")


def create_app(store: Store, feeds: Callable[[], tuple[FeedSpec, ...]]) -> Flask:
    """The app over `store` (already open; the app never writes to it). `feeds` gives the catalog's
    feeds for the feeds page (read on each visit, so an edit shows)."""
    app = Flask(__name__)
    lock = threading.Lock()  # one store connection: one request reads it at a time
    app.add_template_filter(_snippet, "snippet")
    app.jinja_env.globals["names"] = _actor_names()

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.errorhandler(Exception)
    def _failed(exc: Exception) -> tuple[str, int]:
        if isinstance(exc, HTTPException):
            return render_template("error.html", message=exc.description, status=exc.code), exc.code or 500
        _log.exception("serve: a page failed")
        return render_template("error.html", message=f"{type(exc).__name__}: {exc}", status=500), 500

    @app.get("/")
    def search() -> str:
        params = request.args
        page = max(_int(params.get("page"), 1), 1)
        chosen = {name: params.getlist(name) for name in FILTERS}
        form = {"q": params.get("q", ""), "since": params.get("since", ""), "until": params.get("until", "")}
        all_copies = params.get("all") == "1"
        try:
            filters = _filters(chosen, form["since"], form["until"], all_copies)
            query = search_request(
                form["q"], filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, everything=True
            )
        except (ConfigError, QueryError) as exc:
            return render_template(
                "search.html", error=str(exc), form=form, chosen=chosen, hits=(), facets=None
            )
        with lock:
            hits = store.search(query)
            facets = store.search_facets(query)
        return render_template(
            "search.html",
            error=None,
            form=form,
            chosen=chosen,
            all_copies=all_copies,
            hits=hits,
            facets=facets,
            page=page,
            pages=max(1, -(-facets.total // PAGE_SIZE)),
            chart=_chart(facets.per_day),
            link=lambda **change: _link(params, **change),
        )

    @app.get("/article/<article_id>")
    def article(article_id: str) -> str:
        with lock:
            doc = store.get(article_id)
        if doc is None:
            abort(404, f"no stored article has the id {article_id}")
        title = doc.get("title") or ""
        spans = marks_of(doc)
        return render_template(
            "article.html",
            doc=doc,
            title_runs=runs(title, spans),
            body=paragraphs(doc.get("body") or "", spans, len(title) + 2),
            registry=(doc.get("pipeline") or {}).get("registry_version"),
            taxonomy=(doc.get("pipeline") or {}).get("taxonomy_version"),
        )

    @app.get("/alerts")
    def alerts() -> str:
        with lock:
            recent = store.alerts(limit=200)
        by_rule: dict[str, list[Any]] = {}
        for alert in recent:
            by_rule.setdefault(alert.rule_id, []).append(alert)
        return render_template("alerts.html", by_rule=by_rule)

    @app.get("/feeds")
    def feeds_page() -> str:
        catalog = feeds()
        week = search_request(
            "",
            Filters(since=dt.datetime.now(dt.UTC) - dt.timedelta(days=FEED_DAYS), all_copies=True),
            everything=True,
        )
        with lock:
            states = store.feed_states([feed.url for feed in catalog])
            stored = dict(store.search_facets(week, size=1000).feeds)
        rows = [(feed, states.get(feed.url), stored.get(feed.url, 0) / FEED_DAYS) for feed in catalog]
        return render_template("feeds.html", rows=rows, days=FEED_DAYS)

    return app


def _snippet(text: str) -> Markup:
    """A search snippet with its matches (between [[ and ]]) in bold: escaped first, so only the
    markers become markup."""
    return Markup(str(escape(text)).replace("[[", "<b>").replace("]]", "</b>"))


def _actor_names() -> dict[str, str]:
    """QID → name for the actor facet (it filters by QID, which survives renames)."""
    from schemas.actors import load_registry

    return {actor.id: actor.name for actor in load_registry().actors}


def _filters(chosen: Mapping[str, list[str]], since: str, until: str, all_copies: bool) -> Filters:
    now = dt.datetime.now(dt.UTC)
    values = {field: tuple(check(v) for v in chosen[name] if v) for name, (field, check) in FILTERS.items()}
    return Filters(
        **values,
        since=parse_moment("since", since, now) if since else None,
        until=parse_moment("until", until, now) if until else None,
        all_copies=all_copies,
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _link(
    params: Any, *, add: tuple[str, str] | None = None, drop: tuple[str, str] | None = None, **values: Any
) -> str:
    """The search page's URL with a filter added or dropped, or parameters set (None: removed);
    back to page 1 unless `page` is given."""
    pairs = [(k, v) for k in params for v in params.getlist(k) if k != "page" and k not in values]
    if drop is not None:
        pairs = [pair for pair in pairs if pair != drop]
    if add is not None and add not in pairs:
        pairs.append(add)
    pairs += [(k, str(v)) for k, v in values.items() if v is not None]
    return "/?" + urlencode(pairs)


CHART_HEIGHT = 60


def _chart(per_day: tuple[tuple[str, int], ...]) -> list[dict[str, Any]]:
    """Bars for the articles-per-day chart: SVG geometry, no script and no inline style."""
    if not per_day:
        return []
    top = max(count for _, count in per_day) or 1
    width = 600 // max(len(per_day), 1)
    return [
        {
            "day": day,
            "count": count,
            "x": n * width,
            "width": max(width - 2, 1),
            "height": max(round(CHART_HEIGHT * count / top), 1),
            "y": CHART_HEIGHT - max(round(CHART_HEIGHT * count / top), 1),
        }
        for n, (day, count) in enumerate(per_day)
    ]
