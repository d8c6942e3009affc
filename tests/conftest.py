"""Shared fixtures: the repository's seed folder and articles built from it."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest

from connectors.seedio import parse_seed
from pipelines.normalize import normalize_record
from schemas.records import Article, PipelineInfo

REPO = pathlib.Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
RUN_AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
PIPELINE = PipelineInfo(version="test", run_id="test-run")


def seed_articles(folder: pathlib.Path = SEEDS) -> list[Article]:
    """The repository's seed articles as read from `folder`, built with the pure functions."""
    articles = []
    for name in sorted(p.name for p in SEEDS.glob("*.txt")):
        path = folder / name
        raw = parse_seed(str(path), path.read_bytes(), read_at=RUN_AT)
        articles.append(normalize_record(raw, ingested_at=RUN_AT, pipeline=PIPELINE))
    return articles


@pytest.fixture
def articles() -> list[Article]:
    return seed_articles()
