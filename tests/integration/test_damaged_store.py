"""A damaged embedded store (issue 15, item 4): pages of the SQLite file garbled after a real run.
Once, `stats` said all was well, `run` wrote into it and `search` died with a 14-line traceback;
now every command exits 1 with one line naming the file and what to do."""

from __future__ import annotations

import json
import pathlib
import re
import sqlite3

import pytest

from connectors.localstore import LocalStore
from connectors.localstore_health import StoreDamagedError
from tests.conftest import SEEDS
from tests.integration.test_cli import wirewatch

pytestmark = pytest.mark.integration

PAGE = 4096  # SQLite's default page size, which the store keeps


def _seed_folder(folder: pathlib.Path, count: int) -> None:
    """`count` distinct articles made of the repository's seed paragraphs, each with a line of its own."""
    folder.mkdir()
    paragraphs = []
    for seed in sorted(SEEDS.glob("*.txt")):
        paragraphs += seed.read_text(encoding="utf-8").split(" ", 2)[2].split("\n\n")
    for i in range(count):
        shifted = paragraphs[i % len(paragraphs) :] + paragraphs[: i % len(paragraphs)]
        body = f"Dispatch number {i} from the desk.\n\n" + "\n\n".join(shifted)
        (folder / f"{i:04d}.txt").write_text(f"date 2024-03-{1 + i % 28:02d} {body}", encoding="utf-8")


def _garble_middle_pages(path: pathlib.Path, pages: int) -> None:
    """Overwrite `pages` whole pages in the middle of the file, as a bad disk or a stray write would."""
    size = path.stat().st_size
    assert size % PAGE == 0
    assert size // PAGE > 4 * pages
    with path.open("r+b") as handle:
        handle.seek((size // PAGE // 2) * PAGE)
        handle.write(b"\xff" * PAGE * pages)


@pytest.fixture
def damaged(tmp_path: pathlib.Path) -> pathlib.Path:
    seeds = tmp_path / "seeds"
    _seed_folder(seeds, 120)
    store = tmp_path / "w.db"
    made = wirewatch(
        "run", "--seeds", str(seeds), "--store", str(store), "--no-dedup", "--json", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["written"] == 120
    _garble_middle_pages(store, 8)
    return store


def test_every_command_on_a_damaged_store_fails_with_one_line(damaged: pathlib.Path, tmp_path: pathlib.Path):
    before = damaged.read_bytes()
    for args in (
        ["stats"],
        ["search", "Putin"],
        ["show", "0000000000"],
        ["deadletters"],
        ["feeds", "list", "--feeds", str(SEEDS / "feeds.yaml")],
        ["run", "--seeds", str(SEEDS)],
    ):
        result = wirewatch(*args, "--store", str(damaged), "-q", cwd=tmp_path)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, lines)
        assert lines[0].startswith(("wirewatch: the store at ", "wirewatch: run failed: the store at ")), (
            lines
        )
        assert f"{damaged} is damaged (" in lines[0], lines[0]
        assert f"sqlite3 {damaged} .recover" in lines[0], lines[0]
    # The run refused before writing: the damaged file is as it was.
    assert damaged.read_bytes() == before


def test_damage_met_after_opening_is_the_same_error(damaged: pathlib.Path):
    """Workers open the store without the check: what they meet later is StoreDamagedError too."""
    with sqlite3.connect(damaged) as db:  # the schema (page 1) is intact
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'articles'").fetchone()
    with damaged.open("r+b") as handle:  # and now the articles table's root page is not
        handle.seek((root - 1) * PAGE)
        handle.write(b"\xff" * PAGE)
    store = LocalStore(str(damaged))  # no integrity check
    try:
        expected = rf"^the store at {re.escape(str(damaged))} is damaged \(.+\): restore it"
        with pytest.raises(StoreDamagedError, match=expected):
            list(store.articles_since(None))  # a generator method: the error comes while iterating
    finally:
        store.close()


def test_run_checks_the_file_once_within_its_budget(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    """`run` checks the store before it writes, for RUN_INTEGRITY_BUDGET_S; reading its dead letters
    afterwards checked the whole file again for INTEGRITY_BUDGET_S (2 s per run on a big store)."""
    from connectors import localstore, localstore_health
    from pipelines import stores
    from pipelines.cli import main

    budgets: list[float] = []
    check = localstore_health.check_integrity

    def spy(db: sqlite3.Connection, path: str, budget_s: float = float("inf")) -> None:
        budgets.append(budget_s)
        check(db, path, budget_s)

    monkeypatch.setattr(localstore, "check_integrity", spy)
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)  # the embedded store, whatever CI sets
    seeds = tmp_path / "seeds"
    _seed_folder(seeds, 5)
    store = tmp_path / "w.db"
    LocalStore(str(store)).close()  # an existing store, as on every run after the first
    assert main(["run", "--seeds", str(seeds), "--store", str(store), "--no-dedup", "--json"]) == 0
    assert budgets == [stores.RUN_INTEGRITY_BUDGET_S]
    assert main(["stats", "--store", str(store)]) == 0
    assert budgets == [stores.RUN_INTEGRITY_BUDGET_S, stores.INTEGRITY_BUDGET_S]
