"""The whole batch graph on a TestPipeline: seeds in, articles and dead letters out, store filled."""

from __future__ import annotations

import os
import pathlib
import shutil

from apache_beam.testing import test_pipeline, util

from connectors.localstore import LocalStore
from pipelines.ingest import build
from pipelines.options import IngestConfig
from tests.conftest import PIPELINE, RUN_AT, SEEDS, as_canonical, seed_articles


def _config(seeds: pathlib.Path, store: pathlib.Path) -> IngestConfig:
    return IngestConfig(
        seeds=str(seeds),
        store_path=str(store),
        max_seed_bytes=64 * 1024,
        run_id=PIPELINE.run_id,
        started_at=RUN_AT,
        version=PIPELINE.version,
    )


def _broken_seed_folder(tmp_path: pathlib.Path) -> pathlib.Path:
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "no-header.txt").write_text("Kim Jong Un met Vladimir Putin.", encoding="utf-8")
    (folder / "bad-date.txt").write_text(" date 2023-02-30 Kim met Putin.", encoding="utf-8")
    (folder / "latin1.txt").write_bytes(" date 2023-11-09 Caf\xe9 talks.".encode("latin-1"))
    (folder / "too-big.txt").write_text(" date 2023-11-09 " + "word " * 20_000, encoding="utf-8")
    (folder / "folder.txt").mkdir()
    os.symlink(tmp_path / "missing-target", folder / "dangling.txt")
    (folder / "notes.md").write_text("not a seed: ignored by the *.txt pattern", encoding="utf-8")
    return folder


def test_seed_folder_becomes_articles(tmp_path: pathlib.Path):
    store = tmp_path / "w.db"
    # Articles carry the path they were read from, so expect them from the same folder.
    expected = [as_canonical(a) for a in seed_articles(SEEDS)]
    with test_pipeline.TestPipeline() as p:
        out = build(p, _config(SEEDS, store))
        util.assert_that(out.articles, util.equal_to(expected))
        util.assert_that(out.dead_letters, util.equal_to([]), label="NoDeadLetters")
    reader = LocalStore(str(store))
    assert reader.stats().articles == 2
    assert {a.id for a in expected} == {reader.get(a.id)["id"] for a in expected}  # type: ignore[index]
    reader.close()


def test_broken_files_become_dead_letters_with_reasons(tmp_path: pathlib.Path):
    folder = _broken_seed_folder(tmp_path)
    store = tmp_path / "w.db"
    expected_articles = [as_canonical(a) for a in seed_articles(folder)]
    expected_dead = [
        ("read_seed", "bad-date.txt", "impossible date '2023-02-30': day is out of range for month"),
        ("read_seed", "dangling.txt", "cannot read file: No such file or directory"),
        ("read_seed", "empty.txt", "empty file"),
        ("read_seed", "folder.txt", "is a directory, not a seed file"),
        ("read_seed", "latin1.txt", "not UTF-8 text: invalid byte 0xe9 at offset 20"),
        ("read_seed", "no-header.txt", "missing 'date YYYY-MM-DD' header at the start of the file"),
        ("read_seed", "too-big.txt", "file is larger than the limit of 65536 bytes"),
    ]
    with test_pipeline.TestPipeline() as p:
        out = build(p, _config(folder, store))
        util.assert_that(out.articles, util.equal_to(expected_articles))
        reasons = out.dead_letters | "Project" >> _project()
        util.assert_that(reasons, util.equal_to(expected_dead), label="DeadLetterReasons")
    reader = LocalStore(str(store))
    stored = sorted(
        (d.stage, os.path.basename(d.source or ""), d.error) for d in reader.dead_letters(limit=50)
    )
    assert stored == expected_dead
    assert reader.stats().articles == 2
    reader.close()


def _project():
    import apache_beam as beam

    return beam.Map(lambda d: (d.stage, os.path.basename(d.source or ""), d.error))
