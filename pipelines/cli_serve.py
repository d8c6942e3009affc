"""`wirewatch serve`: the read-only web app (pipelines/web) on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
from typing import Any

from connectors.feed_catalog import load_catalog
from pipelines.store_location import resolve_catalog_path
from pipelines.stores import open_existing_store
from schemas.errors import ConfigError
from schemas.feeds import FeedSpec

_log = logging.getLogger("wirewatch")
DEFAULT_PORT = 8080


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve",
        help="Serve a web page to search and read the stored articles (read-only).",
        description="Serve a read-only web app over the store: search with facets, articles with the "
        "evidence of every tag, alerts and feed health. Ctrl-C stops it.",
        parents=[common],
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument(
        "--feeds", help="feed catalog for the feeds page (default: $WIREWATCH_FEEDS, else your catalog)"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_serve(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from pipelines.web.app import create_app

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, got {args.port}")
    catalog_path = resolve_catalog_path(args.feeds, os.environ)

    def feeds() -> tuple[FeedSpec, ...]:
        return load_catalog(catalog_path).feeds

    feeds()  # a broken catalog is one line now, not an error page later
    store = open_existing_store(es_url=args.es_url, store=args.store, es_prefix=args.es_index_prefix)
    try:
        store.prepare_search()  # an embedded store's search indexes, before the first page waits for them
        app = create_app(store, feeds)
        if not _is_loopback(args.host):
            _log.warning(
                "serving on %s: anyone who can reach this address reads the whole store (there is no "
                "login); the default, 127.0.0.1, serves this machine only",
                args.host,
            )
        try:
            # One request at a time: the store has one connection, and one analyst is the user.
            server = make_server(args.host, args.port, app, threaded=False)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
        if not args.verbose:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request only with -v
        shown = f"[{args.host}]" if ":" in args.host else args.host
        print(f"Wirewatch serving {store.location} on http://{shown}:{args.port}/ (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped")
        finally:
            server.server_close()
    finally:
        store.close()
    return 0
