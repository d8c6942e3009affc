"""The `wirewatch` command line: run the pipeline, then search and inspect what it stored."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from connectors.store import StoreError
from pipelines import (
    __version__,
    cli_alerts,
    cli_es,
    cli_feeds,
    cli_kibana,
    cli_retag,
    cli_search,
    cli_serve,
    cli_show,
    cli_tag,
)
from pipelines.console import print_json
from pipelines.stats_view import feed_health, stats_lines
from pipelines.store_location import resolve_catalog_path
from pipelines.stores import INTEGRITY_BUDGET_S, Store, open_existing_store
from schemas.errors import ConfigError
from schemas.records import DeadLetter, one_line

if TYPE_CHECKING:
    from pipelines.ingest import RunSummary

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# `run` completed but every source failed (each feed failed, no seed file read): nothing was ingested
# for a reason outside the run, which a cron job or a scheduler must see.
EXIT_NO_SOURCE = 3
_log = logging.getLogger("wirewatch")


@runtime_checkable
class _RefreshableStore(Protocol):
    def refresh(self) -> None: ...


class UserError(Exception):
    """Something the user can fix; printed as one line, exit code 2."""


def _open_store(args: argparse.Namespace, *, check: bool = True) -> Store:
    """Elasticsearch when --es-url or $ELASTICSEARCH_URL is set, else the embedded store (its file
    checked first unless `check` is false)."""
    return open_existing_store(
        es_url=args.es_url,
        store=args.store,
        es_prefix=args.es_index_prefix,
        integrity_budget_s=INTEGRITY_BUDGET_S if check else None,
    )


# --- run -------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace, beam_args: list[str]) -> int:
    # Beam is imported only here: search, show and stats start in a fraction of the time.
    from connectors.es_client import move_url_credentials
    from pipelines.ingest import run
    from pipelines.options import check_known_flags

    check_known_flags(beam_args)
    # user:password@ goes to the environment (workers we start inherit it), never into the job.
    args.es_url = move_url_credentials(args.es_url, os.environ)
    for flag, value in (
        ("--seeds", args.seeds),
        ("--feeds", args.feeds),
        ("--store", args.store),
        ("--es-url", args.es_url),
        ("--es-index-prefix", args.es_index_prefix),
    ):
        if value:
            beam_args += [flag, value]
    runner = _flag_value(beam_args, "--runner") or "DirectRunner"
    _log.info("starting run on %s (Beam flags: %s)", runner, " ".join(beam_args) or "none")
    if args.json and _flag_value(beam_args, "--alert-lines") is None:
        beam_args += ["--alert-lines", "stderr"]  # alert lines must not mix into the JSON
    try:
        summary = run(beam_args)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001  (the CLI boundary: any pipeline failure → one line)
        _log.debug("run failed", exc_info=True)
        hint = "" if args.verbose else " (-v shows the details)"
        print(f"wirewatch: run failed: {_cause(exc)}{hint}", file=sys.stderr)
        return EXIT_FAILED
    # The run checked the file before it wrote (pipelines.ingest); a second check here cost a big
    # store up to 2 s per run for reading a few dead letters. Damage met by the read still counts.
    store = _open_store(args, check=False)
    try:
        if isinstance(store, _RefreshableStore):
            store.refresh()  # so that a search right after the run sees what it wrote
        rejected = store.dead_letters(limit=1000, run_id=summary.run_id)
    finally:
        store.close()
    if args.json:
        print_json({**summary.model_dump(mode="json"), "rejected": [_dl_json(d) for d in rejected]})
    else:
        _print_summary(summary, runner, rejected)
    return _report_failed_feeds(summary)


def _report_failed_feeds(summary: RunSummary) -> int:
    """One line on stderr naming the feeds that failed; EXIT_NO_SOURCE when every source failed."""
    if not summary.failed_feeds:
        return EXIT_OK
    listed = "; ".join(
        f"{f.url} ({'disabled after ' + str(f.failures_in_a_row) + ' failures: ' if f.disabled else ''}"
        f"{one_line(f.error, 100)})"
        for f in summary.failed_feeds
    )
    if summary.every_source_failed:
        print(f"wirewatch: every source failed, nothing was read: {listed}", file=sys.stderr)
        return EXIT_NO_SOURCE
    count = len(summary.failed_feeds)
    print(f"wirewatch: warning: {count} feed{'s' if count > 1 else ''} failed: {listed}", file=sys.stderr)
    return EXIT_OK


def _cmd_stream(args: argparse.Namespace, beam_args: list[str]) -> int:
    from connectors.es_client import move_url_credentials
    from pipelines.options import check_known_flags
    from pipelines.stream import run_stream

    check_known_flags(beam_args)
    args.es_url = move_url_credentials(args.es_url, os.environ)
    beam_args += ["--feeds", resolve_catalog_path(args.feeds, os.environ)]
    for flag, value in (
        ("--store", args.store),
        ("--es-url", args.es_url),
        ("--es-index-prefix", args.es_index_prefix),
    ):
        if value:
            beam_args += [flag, value]
    live = sys.stderr.isatty()
    last_logged = [0.0]

    def on_status(totals: dict[str, int], elapsed: float) -> None:
        line = _status_line(totals, elapsed)
        if live:
            print(f"\r{line}\033[K", end="", file=sys.stderr, flush=True)
        elif elapsed - last_logged[0] >= 30:  # a log file gets a line every 30 s, not a flood
            last_logged[0] = elapsed
            _log.info("%s", line)

    _log.info("streaming; Ctrl-C stops (items in flight are fetched again on the next start)")
    try:
        totals = run_stream(beam_args, on_status=on_status)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001  (the CLI boundary: any pipeline failure → one line)
        _log.debug("stream failed", exc_info=True)
        print(f"\nwirewatch: stream failed: {_cause(exc)}", file=sys.stderr)
        return EXIT_FAILED
    if live:
        print(file=sys.stderr)
    if args.json:
        print_json(totals)
    else:
        print(f"stopped: {_status_line(totals, None)}")
    return EXIT_OK


def _status_line(totals: dict[str, int], elapsed: float | None) -> str:
    parts = [
        f"polls {totals.get('feeds_polled', 0)}",
        f"unchanged {totals.get('feeds_not_modified', 0)}",
        f"errors {totals.get('feeds_failed', 0)}",
        f"new items {totals.get('records_read', 0)}",
        f"written {totals.get('articles_written', 0)}",
        f"dead letters {totals.get('dead_letters', 0)}",
    ]
    prefix = f"[{int(elapsed) // 60:d}:{int(elapsed) % 60:02d}] " if elapsed is not None else ""
    return prefix + ", ".join(parts)


def _flag_value(argv: Sequence[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _cause(exc: BaseException) -> str:
    """One line saying why a run failed. Beam wraps worker errors in long messages with
    tracebacks; the last 'SomeError: message' line in them is the real cause."""
    while exc.__cause__ is not None and not isinstance(exc, StoreError):
        exc = exc.__cause__
    text = str(exc) or type(exc).__name__
    if isinstance(exc, StoreError):  # already written for the user, whole (it may end with a remedy)
        line = text
    else:
        causes = re.findall(r"^\s*(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$", text, re.M)
        line = f"{causes[-1][0]}: {causes[-1][1]}" if causes else f"{type(exc).__name__}: {text}"
    # Beam appends the step it was running; the message already says what failed.
    line = " ".join(re.sub(r"\s*\[while running '[^']*'\]", "", line).split())
    if isinstance(exc, StoreError):
        return line
    return line if len(line) <= 300 else line[:299] + "…"


def _dl_json(d: DeadLetter) -> dict[str, Any]:
    return d.model_dump(mode="json", exclude={"payload"})


def _print_summary(summary: RunSummary, runner: str, rejected: list[DeadLetter]) -> None:
    rows = [
        ("read", summary.read),
        ("normalized", summary.normalized),
        ("canonical", summary.canonical),
        ("duplicates", summary.duplicates),
        ("  near", summary.near_duplicates),
        ("already stored", summary.already_stored),
        ("read twice", summary.read_twice),
        ("tagged", summary.tagged),
        ("written", summary.written),
        ("alerts fired", summary.alerts_fired),
        ("  updated", summary.alerts_updated),
        ("dead letters", summary.dead_letters),
    ]
    if summary.notifications_failed:
        rows.insert(-1, ("  notify failed", summary.notifications_failed))
    if summary.feeds_polled:
        rows[:0] = [
            ("feeds polled", summary.feeds_polled),
            ("  unchanged", summary.feeds_not_modified),
            ("  failed", summary.feeds_failed),
        ]
    if summary.pages_fetched:
        # After the feeds: pages are fetched for their short items.
        at = 3 if summary.feeds_polled else 0
        rows[at:at] = [("pages fetched", summary.pages_fetched), ("  text used", summary.pages_extracted)]
    print(f"Run {summary.run_id} on {runner}")
    for label, value in rows:
        print(f"  {label:<15}{value:>8}")
    print(f"  {'elapsed':<15}{summary.elapsed_s:>7.1f}s")
    print(f"  {'store':<15}{summary.store}")
    if rejected:
        print(f"\nRejected inputs ({len(rejected)}), see `wirewatch deadletters`:")
        for d in rejected:
            print(f"  {d.stage:<10} {d.source or '-'}: {d.error}")


# --- search / show / stats / deadletters -----------------------------------------------------


def _cmd_show(args: argparse.Namespace) -> int:
    store = _open_store(args)
    try:
        doc = store.get(args.id)
    finally:
        store.close()
    if doc is None:
        raise UserError(cli_show.not_found(args.id))
    if args.json:
        print_json(doc)
        return EXIT_OK
    for line in cli_show.render(doc):
        print(line)
    return EXIT_OK


def _cmd_stats(args: argparse.Namespace) -> int:
    store = _open_store(args)
    try:
        stats, facets, feeds = store.stats(), store.facets(), store.feed_states()
    finally:
        store.close()
    health = feed_health(feeds.values())
    if args.json:
        print_json(
            {**stats.model_dump(mode="json"), "facets": facets.model_dump(mode="json"), "feeds": health}
        )
        return EXIT_OK
    for line in stats_lines(stats, facets, health):
        print(line)
    return EXIT_OK


def _cmd_deadletters(args: argparse.Namespace) -> int:
    store = _open_store(args)
    try:
        letters = store.dead_letters(limit=args.limit, run_id=args.run)
    finally:
        store.close()
    if args.json:
        print_json([d.model_dump(mode="json") for d in letters])
        return EXIT_OK
    if not letters:
        print("No dead letters.")
        return EXIT_OK
    for d in letters:
        print(f"{d.occurred_at:%Y-%m-%d %H:%M:%S}  {d.stage:<10} {d.source or '-'}")
        print(f"    {d.error_type}: {d.error}")
    return EXIT_OK


# --- wiring ----------------------------------------------------------------------------------


class _PipelineParser(argparse.ArgumentParser):
    """`run` and `stream`: their help also lists the pipeline's own flags, from the one definition
    the pipeline parses them with (pipelines.options.WirewatchOptions). That module imports Beam,
    so it is read only when the help is asked for."""

    not_for_this_command: frozenset[str] = frozenset()  # dests of the flags another command takes

    def format_help(self) -> str:
        if not any(group.title == PIPELINE_FLAGS for group in self._action_groups):
            from pipelines.options import WirewatchOptions

            staging = argparse.ArgumentParser(add_help=False)
            WirewatchOptions._add_argparse_args(staging)  # type: ignore[arg-type]
            own = {flag for action in self._actions for flag in action.option_strings}
            group = self.add_argument_group(PIPELINE_FLAGS)
            for action in staging._actions:
                if action.dest not in self.not_for_this_command and not own & set(action.option_strings):
                    group._add_action(action)
        return super().format_help()


PIPELINE_FLAGS = "pipeline flags (and any Beam flag: --runner, --direct_num_workers, --flink_master, …)"


def _parser() -> argparse.ArgumentParser:
    output = argparse.ArgumentParser(add_help=False)  # every command's
    output.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    output.add_argument("-v", "--verbose", action="store_true", help="debug logs on stderr")
    output.add_argument("-q", "--quiet", action="store_true", help="only warnings on stderr")
    common = argparse.ArgumentParser(add_help=False, parents=[output])  # the commands that read a store
    common.add_argument(
        "--store", help="store file or folder (default: $WIREWATCH_HOME, else ~/.local/share/wirewatch)"
    )
    common.add_argument(
        "--es-url",
        help="use Elasticsearch at this URL (default: $ELASTICSEARCH_URL; unset: the embedded store)",
    )
    common.add_argument(
        "--es-index-prefix",
        help="prefix of the Elasticsearch aliases (default: $WIREWATCH_ES_INDEX_PREFIX or wirewatch)",
    )
    parser = argparse.ArgumentParser(
        prog="wirewatch",
        description="News-intelligence ingestion: read, normalize and index articles, then search them.",
    )
    parser.add_argument("--version", action="version", version=f"wirewatch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, parents=[common])

    commands._parser_class = _PipelineParser  # run and stream list the pipeline's flags too
    run_cmd = command("run", "Run the batch pipeline (any Beam flag, e.g. --runner, is passed on).")
    run_cmd.add_argument(
        "--seeds", help="seed folder, glob or file (default: ./seeds/ unless --feeds is given)"
    )
    run_cmd.add_argument("--feeds", help="also fetch every enabled feed of this catalog once")
    stream_cmd = command("stream", "Poll the feeds continuously until Ctrl-C (Beam flags are passed on).")
    stream_cmd.add_argument(
        "--feeds", help="feed catalog (default: $WIREWATCH_FEEDS, else ~/.config/wirewatch/feeds.yaml)"
    )
    commands._parser_class = argparse.ArgumentParser
    run_cmd.not_for_this_command = frozenset({"poll_tick", "poll_interval"})  # type: ignore[attr-defined]
    stream_cmd.not_for_this_command = frozenset({"seeds", "max_seed_bytes"})  # type: ignore[attr-defined]
    cli_search.add_parsers(commands, common)
    show = command("show", "Show one stored article.")
    show.add_argument("id", help="article id (or a unique prefix of at least 6 characters)")
    command("stats", "Count what the store holds.")
    dead = command("deadletters", "List rejected inputs and why they were rejected.")
    dead.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    dead.add_argument("--run", help="only those of this run id")
    cli_es.add_parser(commands, common)
    cli_feeds.add_parser(commands, common)
    cli_tag.add_parsers(commands, common, output)
    cli_retag.add_parser(commands, common)
    cli_alerts.add_parser(commands, common)
    cli_kibana.add_parser(commands, common)
    cli_serve.add_parser(commands, common)
    return parser


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "search": cli_search.run_search,
    "export": cli_search.run_export,
    "show": _cmd_show,
    "stats": _cmd_stats,
    "deadletters": _cmd_deadletters,
    "es": cli_es.run_es,
    "feeds": cli_feeds.run_feeds,
    "tag": cli_tag.run_tag,
    "actors": cli_tag.run_actors,
    "retag": cli_retag.run_retag,
    "alerts": cli_alerts.run_alerts,
    "kibana": cli_kibana.run_kibana,
    "serve": cli_serve.run_serve,
}


class _DropBeamImportNoise(logging.Filter):
    """Beam warns about optional Google Cloud clients on import; local users cannot act on it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


def _configure_logging(verbose: bool, quiet: bool) -> None:
    # force: an early library warning may already have configured the root logger.
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger().handlers[0].addFilter(_DropBeamImportNoise())
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.WARNING)
    ours = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    for name in ("wirewatch", "connectors", "pipelines"):
        logging.getLogger(name).setLevel(ours)
    if not verbose:
        # A failed run ends with one line from us; Beam's worker tracebacks and the client's
        # per-node connection warnings say the same thing at length.
        logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
        logging.getLogger("elastic_transport").setLevel(logging.ERROR)


def _warn_of_password_in_flag(url: str | None) -> None:
    """A password in --es-url works (run moves it out of the job: move_url_credentials) but any
    user of the machine reads it in `ps` and shell history; the README says secrets never go in
    flags. One line on stderr, the password masked, saying where it belongs."""
    if not url:
        return
    parts = urlsplit(url.strip())
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    if not at or not has_password:
        return  # no password: a user name alone is no secret
    masked = urlunsplit((parts.scheme, f"{user}:***@{hostport}", parts.path, "", ""))
    _log.warning(
        "--es-url %s carries a password, visible to every user of this machine in `ps`: set "
        "ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD (or ELASTICSEARCH_PASSWORD_FILE) instead",
        masked,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    _configure_logging(args.verbose, args.quiet)
    _warn_of_password_in_flag(getattr(args, "es_url", None))
    if extra and args.command not in ("run", "stream"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "run":
            return _cmd_run(args, list(extra))
        if args.command == "stream":
            return _cmd_stream(args, list(extra))
        return _COMMANDS[args.command](args)
    except (UserError, ConfigError, StoreError) as exc:
        print(f"wirewatch: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, UserError | ConfigError) else EXIT_FAILED
    except KeyboardInterrupt:
        print("wirewatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
