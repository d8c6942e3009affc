"""What the generated actor files' generators share (`pipelines.actors_officeholders`,
`pipelines.actors_parties`): the committed CSV extract they build from, reading snapshots with git,
folding diacritics, and one command line — `--extract DIR` re-reads the extract from snapshots,
the default rewrites the JSON from the extract, `--check` exits 1 when the committed JSON is stale.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from schemas.actors import DEFAULT_FOLDER, actors_outside, normalize_alias


class ExtractError(RuntimeError):
    """A snapshot is missing, or a table in it or the extract is not of the expected shape."""


def git(git_dir: Path, *args: str) -> str:
    """The output of `git -C git_dir ARGS`; an ExtractError naming the command when it fails."""
    done = subprocess.run(["git", "-C", str(git_dir), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise ExtractError(f"{git_dir}: git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def ascii_fold(text: str) -> str:
    """`Erdoğan` -> `Erdogan`: Latin-script text without its diacritics. Other scripts are left alone:
    there a mark is part of the letter (Cyrillic `й` is not `и`)."""
    if any(c.isalpha() and ord(c) > 0x24F for c in text):
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def taken_by_others(folder: Path, output_file: str) -> tuple[set[str], set[str]]:
    """The ids and the normalized aliases (surnames included) of every actor in `folder` outside the
    generated `output_file`: a generator leaves those actors to their own entries, and drops its
    aliases that they already claim."""
    others = actors_outside(folder, output_file)
    keys = {alias.key for a in others for alias in a.all_aliases}
    keys |= {normalize_alias(s) for a in others for s in a.surnames}
    return {a.id for a in others}, keys


def about_lines(header: str) -> list[str]:
    """A generated file's `about` lines: its header comment without the comment marks."""
    return [line.removeprefix("# ").removeprefix("#") for line in header.splitlines()]


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue(), encoding="utf-8")


def read_csv(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    """The rows of an extract, refused (ExtractError) unless its header is exactly `columns`."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != tuple(columns):
            raise ExtractError(f"{path}: expected columns {','.join(columns)}")
        return list(reader)


def generator_main(
    argv: list[str] | None,
    *,
    module: str,
    description: str,
    output_file: str,
    extract: Callable[[Path, Path], None],
    build: Callable[[Path], tuple[str, dict[str, int]]],
) -> int:
    """The command line of one generator: `extract(snapshots, registry folder)` writes the extract,
    `build(registry folder)` makes the JSON text and its summary figures from it."""
    name = module.rpartition(".")[2]
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed file is stale")
    parser.add_argument(
        "--extract", metavar="DIR", type=Path, help="re-read the extract from snapshots in DIR"
    )
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="the registry folder")
    args = parser.parse_args(argv)
    folder: Path = args.folder
    try:
        if args.extract is not None:
            extract(args.extract, folder)
        text, stats = build(folder)
    except (ExtractError, OSError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    target = folder / output_file
    summary = ", ".join(f"{k} {v}" for k, v in stats.items())
    if args.check:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            print(f"{target} is stale: run python -m {module} ({summary})", file=sys.stderr)
            return 1
        print(f"{target} is up to date ({summary})")
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target} ({summary})")
    return 0
