"""`wirewatch tag` and `wirewatch actors list|show|validate|gaps`: see why a text gets its tags,
inspect or check the actor registry, and find the names the stored articles mention that it lacks."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING, Any

from pipelines.console import parse_since, print_json
from schemas.actors import (
    DEFAULT_FOLDER,
    Actor,
    Registry,
    RegistryError,
    load_registry,
    normalize_alias,
    validate_folder,
)
from schemas.errors import ConfigError
from schemas.topics import DEFAULT_FILE

if TYPE_CHECKING:
    from pipelines.tag_match import Tagger

KINDS = ("person", "country", "territory", "organisation", "armed_group")


def registry_flags() -> argparse.ArgumentParser:
    """--actors: the registry folder, for every command that reads it (tag, actors, retag)."""
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "--actors", default=str(DEFAULT_FOLDER), help="actor registry folder (default: seeds/actors)"
    )
    return flags


def add_topics_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--topics", default=str(DEFAULT_FILE), help="topic taxonomy (default: seeds/topics.yaml)"
    )


def load_tagger(actors: str, topics: str) -> Tagger:
    """The matcher over this registry and taxonomy; one ConfigError line when either cannot load."""
    from pipelines.tag_match import Tagger  # the matcher loads only for the commands that tag

    try:
        return Tagger.from_files(actors, topics)
    except (RegistryError, ValueError) as exc:
        raise ConfigError(f"cannot load the registry or taxonomy: {exc}") from exc


def add_parsers(commands: Any, common: argparse.ArgumentParser, output: argparse.ArgumentParser) -> None:
    """`tag` reads no store, so it takes the output flags only; `actors gaps` reads one."""
    registry = registry_flags()
    tag = commands.add_parser(
        "tag",
        help="Tag a text and show the actors and topics found, with their evidence.",
        description="Tag a text (a file, or - for standard input): its first line is the title, the "
        "rest the body. Prints every actor and topic with the evidence that produced it.",
        parents=[output, registry],
    )
    tag.add_argument("file", nargs="?", default="-", help="text file, or - for standard input (default)")
    add_topics_flag(tag)
    actors = commands.add_parser(
        "actors",
        help="List, show or validate the actor registry, or find the names it lacks.",
        description="Inspect the actor registry (seeds/actors/): list actors, show one, validate it, "
        "or list the names the stored articles mention most that no actor covers (gaps; "
        "the store flags are for gaps).",
        parents=[common, registry],
    )
    actors.add_argument("action", choices=["list", "show", "validate", "gaps"])
    actors.add_argument("id", nargs="?", help="show: a Wikidata id (Q7747) or any alias (Putin's full name)")
    actors.add_argument("--kind", choices=KINDS, help="list: only actors of this kind")
    actors.add_argument(
        "--since", default="all", help="gaps: articles of the last 7d, 30d, 12h … or 'all' (default)"
    )
    actors.add_argument("--limit", type=int, default=30, help="gaps: how many names (default 30)")
    actors.add_argument(
        "--min-articles",
        type=int,
        default=2,
        help="gaps: names seen in at least this many articles (default 2)",
    )


def _read_text(path: str) -> tuple[str, str]:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    title, _, body = text.strip().partition("\n")
    return title.strip(), body.strip()


def run_tag(args: argparse.Namespace) -> int:
    title, body = _read_text(args.file)
    if not title:
        raise ConfigError(f"{args.file}: no text to tag")
    tagger = load_tagger(args.actors, args.topics)
    result = tagger.tag(title, body)
    if args.json:
        print_json(result.to_dict())
        return 0
    print(f"registry {result.registry_version}, taxonomy {result.taxonomy_version}")
    print(f"\nActors ({len(result.actors)}):")
    for actor in result.actors:
        seen = ", ".join(f"{s.text!r}@{s.start}" for s in actor.spans[:5])
        print(
            f"  {actor.id:<10} {actor.name:<32} {actor.kind:<12} mentions {actor.mentions:<3} "
            f"salience {actor.salience:.2f}  {seen}"
        )
    print(f"\nTopics ({len(result.topics)}):")
    for topic in result.topics:
        seen = ", ".join(f"{s.text!r}" for s in topic.spans[:5])
        print(f"  {topic.id:<26} {topic.score:.2f}  {seen}")
    print(f"\ncountries: {', '.join(result.countries) or '-'}")
    return 0


def run_actors(args: argparse.Namespace) -> int:
    if args.action == "validate":
        problems = validate_folder(args.actors)
        if args.json:
            print_json({"problems": problems})
        else:
            for problem in problems:
                print(problem)
            print(f"{len(problems)} problem(s) in {args.actors}", file=sys.stderr)
        return 1 if problems else 0
    try:
        registry = load_registry(args.actors)
    except RegistryError as exc:
        raise ConfigError(f"cannot load the registry: {exc}") from exc
    if args.action == "gaps":
        return _gaps(args, registry)
    if args.action == "list":
        actors = registry.of_kind(args.kind) if args.kind else list(registry.actors)
        if args.json:
            print_json([_summary(a) for a in actors])
        else:
            for actor in actors:
                print(f"{actor.id:<10} {actor.kind:<12} {actor.country or '-':<4} {actor.name}")
            print(f"{len(actors)} actors, registry {registry.version}", file=sys.stderr)
        return 0
    if not args.id:
        raise ConfigError("actors show needs an id or a name, e.g. `wirewatch actors show Q7747`")
    actor = find_actor(registry, args.id)
    if args.json:
        print_json(actor.model_dump(mode="json"))
        return 0
    print(f"{actor.name} ({actor.id}, {actor.kind}, {actor.country or '-'})")
    if actor.wikipedia:
        print(f"  wikipedia: {actor.wikipedia}")
    print(f"  aliases:   {', '.join(a.text for a in actor.all_aliases)}")
    if actor.surnames:
        print(f"  surnames:  {', '.join(actor.surnames)} (only after the full name)")
    for role in actor.roles:
        print(f"  role:      {role.title} ({role.start or '?'} – {role.end or 'now'})")
    if actor.source:
        print(f"  source:    {actor.source}")
    return 0


def _gaps(args: argparse.Namespace, registry: Registry) -> int:
    from pipelines.actor_gaps import find_gaps, registry_keys
    from pipelines.stores import open_existing_store

    if args.limit < 1 or args.min_articles < 1:
        raise ConfigError("--limit and --min-articles must be at least 1")
    since = parse_since(args.since, dt.datetime.now(dt.UTC))
    store = open_existing_store(es_url=args.es_url, store=args.store, es_prefix=args.es_index_prefix)

    def progress(scanned: int) -> None:
        if scanned % 10_000 == 0 and not args.quiet:
            print(f"scanned {scanned:,} articles …", file=sys.stderr)

    try:
        gaps, scanned = find_gaps(store.articles_since(since), registry_keys(registry), progress=progress)
    finally:
        store.close()
    shown = [gap for gap in gaps if len(gap.article_ids) >= args.min_articles][: args.limit]
    if args.json:
        print_json(
            {"scanned": scanned, "registry_version": registry.version, "gaps": [g.as_json() for g in shown]}
        )
        return 0
    print(f"{'articles':>8} {'mentions':>8}  name (an example)")
    for gap in shown:
        article, context = gap.examples[0]
        print(f"{len(gap.article_ids):>8,} {gap.mentions:>8,}  {gap.name}  ({article[:8]}: {context})")
    print(
        f"{len(shown)} of {len(gaps):,} names no actor covers, in {scanned:,} articles "
        f"({'since ' + since.date().isoformat() if since else 'all'}; registry {registry.version})",
        file=sys.stderr,
    )
    return 0


def find_actor(registry: Registry, query: str) -> Actor:
    """By id, else by any alias, else by a part of the name when only one actor has it."""
    found = registry.get(query) or registry.get(registry.alias_owner.get(normalize_alias(query), ""))
    if found is not None:
        return found
    key = normalize_alias(query)
    matches = [a for a in registry.actors if key in normalize_alias(a.name) or key in a.surnames]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(f"{a.name} ({a.id})" for a in matches[:10])
        raise ConfigError(f"{query!r} could be {len(matches)} actors: {names}")
    raise ConfigError(f"no actor {query!r} in the registry")


def _summary(actor: Actor) -> dict[str, Any]:
    return {"id": actor.id, "kind": actor.kind, "name": actor.name, "country": actor.country}
