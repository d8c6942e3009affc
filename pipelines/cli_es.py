"""`wirewatch es setup|status|reset`: manage the Elasticsearch templates, aliases and indices."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from connectors.store import StoreError
from pipelines.console import print_json
from pipelines.store_location import es_index_prefix
from schemas.errors import ConfigError


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    es = commands.add_parser(
        "es",
        help="Manage Elasticsearch indices (setup, status, reset).",
        description="Manage the Elasticsearch index templates, aliases and indices Wirewatch writes to.",
        parents=[common],
    )
    es.add_argument("action", choices=["setup", "status", "reset"])
    es.add_argument("--yes", action="store_true", help="reset without asking")


def run_es(args: argparse.Namespace) -> int:
    # The client library loads only for this command and for stores that need it.
    from connectors.es_client import make_client, settings_from_env
    from connectors.es_indices import (
        IndexNames,
        ensure_indices,
        index_status,
        mapping_problems,
        reset_indices,
    )
    from connectors.es_mapping_check import fix_hint

    settings = settings_from_env(args.es_url, os.environ)
    if settings is None:
        raise ConfigError("wirewatch es needs --es-url or $ELASTICSEARCH_URL")
    names = IndexNames(es_index_prefix(args.es_index_prefix, os.environ))
    client = make_client(settings)
    try:
        if args.action == "setup":
            created = ensure_indices(client, names)
            # Setup leaves an index it did not build as it is; one mapping our fields otherwise
            # takes writes whose searches then fail ("No mapping found for [id]"): say so now.
            problems = mapping_problems(client, names)
            if problems:
                raise StoreError(f"{'; '.join(problems)}: {fix_hint(names.prefix)}")
            _report(
                args,
                {"url": settings.url, "alias": names.articles_alias, "created": created},
                f"{'installed' if created else 'already in place'}: templates and aliases "
                f"{names.articles_alias}, {names.deadletters_alias}, {names.alerts_alias} at {settings.url}",
            )
        elif args.action == "status":
            status = index_status(client, names)
            if args.json:
                print_json(status)
            else:
                for line in status_lines(status, settings.url):
                    print(line)
            if status["mapping_problems"]:  # searches on such an index fail: say so, exit 1
                for problem in status["mapping_problems"]:
                    print(f"wirewatch: {problem}", file=sys.stderr)
                print(f"wirewatch: {fix_hint(names.prefix)}", file=sys.stderr)
                return 1
        else:
            if not args.yes and not _confirm(names, settings.url):
                print("wirewatch: reset cancelled", file=sys.stderr)
                return 1
            deleted = reset_indices(client, names)
            _report(args, {"deleted": deleted}, f"deleted: {', '.join(deleted) or 'nothing'}")
    finally:
        client.close()
    return 0


def _confirm(names: Any, url: str) -> bool:
    if not sys.stdin.isatty():
        raise ConfigError("wirewatch es reset deletes data: pass --yes to confirm when not on a terminal")
    answer = input(
        f"Delete every index behind {names.articles_alias}, {names.deadletters_alias} and "
        f"{names.alerts_alias} at {url}? [y/N] "
    )
    return answer.strip().lower() in ("y", "yes")


def _report(args: argparse.Namespace, data: dict[str, Any], line: str) -> None:
    if args.json:
        print_json(data)
    else:
        print(line)


def status_lines(status: dict[str, Any], url: str) -> list[str]:
    """`es status` as text: the cluster, each alias with its indices and documents, and whether the
    installed templates are the ones this version ships."""
    nodes = status["nodes"]
    lines = [f"cluster          {url}: {status['health']}, {nodes} node{'s' if nodes != 1 else ''}"]
    for name in ("articles", "deadletters"):
        alias = status[name]
        if alias["write_index"] is None:
            lines.append(
                f"{name:<16} {alias['alias']}: not created yet (`wirewatch es setup`, or the first run)"
            )
            continue
        indices = ", ".join(alias["indices"])
        lines.append(
            f"{name:<16} {alias['alias']}: {alias['documents']:,} documents in {indices} "
            f"(writes to {alias['write_index']}, mapping version {alias['mapping_version']})"
        )
    shipped, installed = status["templates_shipped"], status["templates_installed"]
    stale = [name for name in shipped if installed.get(name) != shipped[name]]
    if all(installed.get(name) is None for name in shipped):
        lines.append("templates        not installed; run `wirewatch es setup`")
    elif stale:
        found = ", ".join(
            f"{name} {installed.get(name) or 'missing'} (ships {shipped[name]})" for name in stale
        )
        lines.append(f"templates        out of date: {found}; run `wirewatch es setup`")
    else:
        lines.append(f"templates        {len(shipped)} installed, all at the shipped versions")
    return lines
