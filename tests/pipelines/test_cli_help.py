"""Every command's --help lists every flag it accepts, from the definitions the parsers use."""

from __future__ import annotations

import argparse
import pathlib
import re

import pytest

from pipelines.cli import _parser
from pipelines.options import WirewatchOptions, check_known_flags


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _flags_in(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9_-]*", text))


def _accepted(parser: argparse.ArgumentParser) -> set[str]:
    flags = {flag for action in parser._actions for flag in action.option_strings if flag.startswith("--")}
    for action in parser._actions:  # `feeds ACTION --flag`: the actions' own parsers
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags |= _accepted(sub)
    return flags


def _help(parser: argparse.ArgumentParser) -> str:
    text = parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            text += "".join(_help(sub) for sub in action.choices.values())
    return text


@pytest.mark.parametrize("name", sorted(_commands()))
def test_the_help_lists_every_flag_the_command_takes(name: str) -> None:
    parser = _commands()[name]
    listed = _flags_in(_help(parser))  # formatting the help may add the pipeline's flags
    assert _accepted(parser) <= listed, _accepted(parser) - listed


@pytest.mark.parametrize(
    ("name", "elsewhere"),
    [("run", {"--poll-tick", "--poll-interval"}), ("stream", {"--seeds", "--max-seed-bytes"})],
)
def test_run_and_stream_list_the_pipelines_own_flags(name: str, elsewhere: set[str]) -> None:
    staging = argparse.ArgumentParser(add_help=False)
    WirewatchOptions._add_argparse_args(staging)  # type: ignore[arg-type]
    pipeline = {flag for action in staging._actions for flag in action.option_strings}
    listed = _flags_in(_commands()[name].format_help())
    assert pipeline - elsewhere <= listed, (pipeline - elsewhere) - listed
    assert not elsewhere & (listed - {"--seeds"} if name == "run" else listed)
    for flag in listed - {"--help", "--json", "--verbose", "--quiet"}:
        check_known_flags([flag])  # nothing the help offers is refused


def test_tag_offers_no_store_flags() -> None:
    listed = _flags_in(_commands()["tag"].format_help())
    assert not listed & {"--store", "--es-url", "--es-index-prefix"}
    assert {"--json", "--actors", "--topics"} <= listed


def test_the_readme_names_every_flag() -> None:
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    named = _flags_in(readme)
    for name, parser in _commands().items():
        parser.format_help()  # run and stream: adds the pipeline's flags
        for action in parser._actions:
            long = [flag for flag in action.option_strings if flag.startswith("--")]
            short = [flag for flag in action.option_strings if not flag.startswith("--")]
            if long and long[0] != "--help":
                spelled = any(re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", readme) for s in short)
                assert set(long) & named or spelled, (name, long)
