"""`wirewatch retag`: apply the current actor registry and topic taxonomy to the articles already
stored, so that an edit to the registry reaches the back catalogue."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from connectors.progress import ProgressLog
from connectors.retag import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, RetagRequest
from pipelines import cli_tag
from pipelines.console import print_json
from pipelines.stores import open_existing_store
from schemas.errors import ConfigError
from schemas.store import RetagSummary

_log = logging.getLogger(__name__)


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    retag = commands.add_parser(
        "retag",
        help="Re-tag the stored articles with the current actor registry and topic taxonomy.",
        description="Re-tag every stored article from its title and body with the current registry and "
        "taxonomy (after editing them), writing only the tags and the two versions. Articles whose tags "
        "are already current are left alone. Exit 1 if any article could not be re-tagged.",
        parents=[common, cli_tag.registry_flags()],
    )
    cli_tag.add_topics_flag(retag)
    retag.add_argument(
        "--force", action="store_true", help="rewrite every article, even those already current"
    )
    retag.add_argument("--dry-run", action="store_true", help="count what would change, write nothing")
    retag.add_argument("--limit", type=int, help="re-tag at most this many articles (default: all)")
    retag.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"articles read and written per batch (default {DEFAULT_BATCH_SIZE})",
    )


def _check_flags(args: argparse.Namespace) -> None:
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    if not 1 <= args.batch_size <= MAX_BATCH_SIZE:
        raise ConfigError(f"--batch-size must be between 1 and {MAX_BATCH_SIZE}, got {args.batch_size}")


def run_retag(args: argparse.Namespace) -> int:
    from pipelines.tag_fields import tag_document  # the matcher loads only for the commands that tag

    _check_flags(args)
    tagger = cli_tag.load_tagger(args.actors, args.topics)
    store = open_existing_store(es_url=args.es_url, store=args.store, es_prefix=args.es_index_prefix)
    progress = ProgressLog(_log, "articles", done="scanned")
    request = RetagRequest(
        tag=lambda title, body: tag_document(tagger.tag(title, body)),
        force=args.force,
        dry_run=args.dry_run,
        limit=args.limit,
        batch_size=args.batch_size,
        progress=progress.add,
    )
    versions = f"registry {tagger.registry_version}, taxonomy {tagger.taxonomy_version}"
    _log.info("re-tagging the articles in %s with %s", store.location, versions)
    try:
        summary = store.retag_articles(request)
    finally:
        store.close()
    if args.json:
        print_json(
            {
                **summary.model_dump(mode="json"),
                "registry_version": tagger.registry_version,
                "taxonomy_version": tagger.taxonomy_version,
            }
        )
    else:
        for failure in summary.failures:
            print(f"wirewatch: retag: {failure.id}: {failure.reason}", file=sys.stderr)
        if summary.failed > len(summary.failures):
            print(f"wirewatch: retag: … and {summary.failed - len(summary.failures)} more", file=sys.stderr)
        print(_summary_line(summary, versions))
    return 1 if summary.failed else 0


def _summary_line(summary: RetagSummary, versions: str) -> str:
    changed = f"would change {summary.changed}" if summary.dry_run else f"changed {summary.changed}"
    prefix = "dry run, nothing written" if summary.dry_run else "retag"
    return (
        f"{prefix} ({versions}): scanned {summary.scanned}, {changed}, unchanged {summary.unchanged}, "
        f"failed {summary.failed}, elapsed {summary.elapsed_s:.1f}s"
    )
