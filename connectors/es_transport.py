"""The client's transport, refusing every answer that does not come from Elasticsearch.

elasticsearch-py checks the `X-Elastic-Product` header on 2xx answers only. A web server at the
wrong --es-url (nginx, Kibana's port, a proxy's error page) answers 404 with an HTML page: the
client raised NotFoundError carrying the whole page, and the stores read "not found" as "no index
yet", so `wirewatch stats` counted an empty store on a web server. Here every answer without the
header is UnsupportedProductError with one short line (status, reason, the page's title), except
the statuses a proxy in front of a real cluster sends (credentials refused, throttled, gateway
errors): those keep their meaning, retries and messages.
"""

from __future__ import annotations

import html
import http
import re
from typing import Any

from elastic_transport import ApiResponseMeta, Transport, TransportApiResponse
from elasticsearch import UnsupportedProductError

from schemas.records import one_line

PRODUCT_HEADER = "x-elastic-product"
# Answers a proxy or load balancer in front of a real cluster gives without the header.
_FROM_A_PROXY = frozenset({401, 403, 407, 429, 500, 502, 503, 504})
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.I | re.S)
_SUMMARY_CHARS = 80


def page_summary(body: Any) -> str:
    """A few words saying what a non-Elasticsearch body is: an HTML page's title (or its first
    text), else the start of the text; never the whole page."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        body = str(body)
    if "<" in body and ">" in body:
        title = _TITLE.search(body)
        text = title.group(1) if title else _TAG.sub(" ", _HIDDEN.sub(" ", body))
        summary = one_line(html.unescape(text), _SUMMARY_CHARS)
        return f'an HTML page "{summary}"' if summary else "an HTML page"
    summary = one_line(body, _SUMMARY_CHARS)
    return f'"{summary}"' if summary else "an empty body"


def not_elasticsearch_reason(meta: ApiResponseMeta, body: Any) -> str:
    """'404 Not Found, an HTML page "Welcome to nginx!"': what answered instead of Elasticsearch."""
    try:
        phrase = http.HTTPStatus(meta.status).phrase
    except ValueError:
        phrase = "(unknown status)"
    return f"{meta.status} {phrase}, {page_summary(body)}, without the X-Elastic-Product header"


class ElasticsearchOnlyTransport(Transport):
    """A Transport that raises UnsupportedProductError for an answer Elasticsearch did not give."""

    def perform_request(self, method: str, target: str, **kwargs: Any) -> TransportApiResponse:
        meta, body = super().perform_request(method, target, **kwargs)
        if meta.headers.get(PRODUCT_HEADER, "") != "Elasticsearch" and meta.status not in _FROM_A_PROXY:
            raise UnsupportedProductError(message=not_elasticsearch_reason(meta, body), meta=meta, body=body)
        return TransportApiResponse(meta, body)
