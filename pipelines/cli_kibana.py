"""`wirewatch kibana import`: Wirewatch's data views, searches, visualizations and dashboard into Kibana."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from connectors.es_indices import IndexNames
from connectors.kibana import (
    DEFAULT_KIBANA_URL,
    KIBANA_URL_ENV,
    ImportSummary,
    KibanaError,
    check_space,
    import_saved_objects,
    kibana_settings,
    with_index_prefix,
)
from pipelines.console import print_json
from pipelines.store_location import es_index_prefix
from schemas.errors import ConfigError

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "deploy" / "kibana" / "wirewatch.ndjson"
EXIT_OK, EXIT_FAILED = 0, 1


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    kibana = commands.add_parser(
        "kibana",
        help="Kibana saved objects (import).",
        description="Kibana data views, saved searches, visualizations and the Wirewatch overview dashboard.",
    )
    actions = kibana.add_subparsers(dest="action", required=True, metavar="ACTION")
    load = actions.add_parser(
        "import",
        help="import the saved objects through Kibana's import API",
        description=(
            "Import deploy/kibana/wirewatch.ndjson (or --file) into Kibana. Credentials come from "
            "ELASTICSEARCH_API_KEY, or ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD (or the files "
            "named by their _FILE variables, or the Secret Manager versions named by their _SECRET "
            "variables). With an "
            "index prefix other than wirewatch (--es-index-prefix, $WIREWATCH_ES_INDEX_PREFIX) the "
            "data views point at that prefix's indices, and ids and titles carry it."
        ),
        parents=[common],
    )
    load.add_argument(
        "--kibana-url", help=f"Kibana's URL (default: ${KIBANA_URL_ENV} or {DEFAULT_KIBANA_URL})"
    )
    load.add_argument("--space", help="Kibana space id (default: the default space)")
    load.add_argument(
        "--overwrite",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="replace objects that already exist (default); --no-overwrite reports them as errors",
    )
    load.add_argument(
        "--file", help="saved objects NDJSON (default: the repository's deploy/kibana/wirewatch.ndjson)"
    )


def run_kibana(args: argparse.Namespace) -> int:
    # Only `import` exists; argparse has refused anything else.
    space = check_space(args.space)
    settings = kibana_settings(args.kibana_url, os.environ)
    prefix = IndexNames(es_index_prefix(args.es_index_prefix, os.environ)).prefix
    path = Path(args.file) if args.file else DEFAULT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--file: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        ndjson = with_index_prefix(text, prefix)
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise ConfigError(f"--file: {path} is not a saved objects NDJSON file: {exc}") from None
    filename = path.name if path.name.endswith(".ndjson") else "wirewatch.ndjson"  # Kibana checks it
    try:
        summary = import_saved_objects(
            settings, ndjson.encode("utf-8"), space=space, overwrite=args.overwrite, filename=filename
        )
    except KibanaError as exc:
        print(f"wirewatch: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print_json({**summary.model_dump(mode="json"), "success": summary.success, "file": str(path)})
    else:
        _print_summary(summary, path)
    return EXIT_OK if summary.success else EXIT_FAILED


def _print_summary(summary: ImportSummary, path: Path) -> None:
    where = f"Kibana at {summary.url} (space {summary.space})"
    kinds = Counter(kind for kind, _ in summary.imported)
    detail = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    total = summary.imported_count + len(summary.errors)
    print(
        f"imported {summary.imported_count} of {total} saved objects from {path.name} into {where}"
        + (f": {detail}" if detail else "")
    )
    for warning in summary.warnings:
        print(f"  warning: {warning}")
    if summary.errors:
        print(f"{len(summary.errors)} not imported:")
        for error in summary.errors:
            title = f" ({error.title})" if error.title else ""
            print(f"  {error.type} {error.id}{title}: {error.reason}")
