"""`wirewatch search` with each filter, as a user runs it, against a store of real news.

Each filter's answer is checked against the stored articles' own fields (computed here, not by the
search code), so a filter that matched too much or too little fails.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import pathlib
from collections.abc import Callable

import pytest

from connectors.localstore import LocalStore
from schemas.records import Article
from tests.integration.test_cli import wirewatch
from tests.integration.test_search_stores import corpus  # noqa: F401  (a module fixture)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def store(corpus: list[Article], tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    path = str(tmp_path_factory.mktemp("search-cli") / "w.db")
    local = LocalStore(path)
    local.write_articles(corpus)
    local.close()
    return path


def _ids(store: str, tmp_path: pathlib.Path, *args: str) -> set[str]:
    result = wirewatch("search", *args, "--limit", "1000", "--json", "--store", store, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return {hit["id"] for hit in json.loads(result.stdout)}


def _expected(corpus: list[Article], keep: Callable[[Article], bool], *, copies: bool = False) -> set[str]:  # noqa: F811
    return {a.id for a in corpus if keep(a) and (copies or not a.duplicate_of)}


def _most_common(values: list[str]) -> str:
    return max(set(values), key=values.count)


def test_each_filter_finds_exactly_the_articles_it_names(corpus, store, tmp_path):  # noqa: F811
    actor = _most_common(
        [i for a in corpus for i in a.actor_ids if i.startswith("Q") and a.actor_ids[0] == i]
    )
    assert _ids(store, tmp_path, "--actor", actor) == _expected(corpus, lambda a: actor in a.actor_ids)
    assert _ids(store, tmp_path, "--actor", "Donald Trump") == _expected(
        corpus, lambda a: "Q22686" in a.actor_ids
    )
    assert _ids(store, tmp_path, "--topic", "military") == _expected(
        corpus, lambda a: any(t == "military" or t.startswith("military.") for t in a.topic_ids)
    )
    assert _ids(store, tmp_path, "--country", "usa") == _expected(corpus, lambda a: "USA" in a.countries)
    outlet = corpus[-1].source.name
    assert _ids(store, tmp_path, "--outlet", outlet) == _expected(corpus, lambda a: a.source.name == outlet)
    feed = str(corpus[-1].source.feed_url)
    assert _ids(store, tmp_path, "--feed", feed) == _expected(
        corpus, lambda a: str(a.source.feed_url) == feed
    )
    assert _ids(store, tmp_path, "--lang", "en") == _expected(corpus, lambda a: a.language == "en")
    day = dt.datetime(2026, 2, 16, tzinfo=dt.UTC)
    assert _ids(store, tmp_path, "--since", "2026-02-16", "--until", "2026-02-17") == _expected(
        corpus, lambda a: a.published_at is not None and day <= a.published_at < day + dt.timedelta(days=1)
    )
    assert _ids(store, tmp_path, "--since", "3650d") == _expected(
        corpus, lambda a: a.published_at is not None
    )
    assert _ids(store, tmp_path, "--lang", "en", "--all-copies") == _expected(
        corpus, lambda a: a.language == "en", copies=True
    )
    both = _ids(store, tmp_path, "Trump", "--country", "USA")
    assert both == _ids(store, tmp_path, "Trump") & _ids(store, tmp_path, "--country", "USA")
    assert both


def test_pages_and_date_order(corpus, store, tmp_path):  # noqa: F811
    def page(*args: str) -> list[str]:
        result = wirewatch(
            "search", "--lang", "en", "--sort", "date", *args, "--json", "--store", store, cwd=tmp_path
        )
        return [hit["published_at"] for hit in json.loads(result.stdout)]

    first, second = page("--limit", "5"), page("--limit", "5", "--offset", "5")
    assert first + second == page("--limit", "10")
    assert first == sorted(first, reverse=True)


def test_a_hit_shows_outlet_url_tags_and_the_outlets_that_carried_it(corpus, store, tmp_path):  # noqa: F811
    carried = next(a for a in corpus if a.source_count > 1 and a.url and a.actor_names and not a.duplicate_of)
    words = " ".join(f'"{w}"' for w in carried.title.split()[:6] if w.isalpha())
    result = wirewatch("search", words, "--store", store, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    block = result.stdout.split(carried.id)[1].split("\n\n")[0] if carried.id in result.stdout else ""
    line = next(line for line in result.stdout.splitlines() if carried.id in line)
    assert carried.source.name in line
    assert f"+{carried.source_count - 1} outlet" in line
    assert str(carried.url) in block
    assert "actors: " in block


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["topic_ids:nosuchtopic OR titel:x"], "unknown field 'titel' (did you mean title?"),
        (['"North Korea'], "unbalanced quote"),
        (["--actor", "Nobody Atall"], "--actor: no actor 'Nobody Atall' in the registry"),
        (["--topic", "militray"], "--topic 'militray': no such topic (did you mean military?)"),
        (["--since", "yesterday"], "--since 'yesterday': give a date (2026-01-31)"),
        (["--country", "US"], "--country 'US': give an ISO 3166-1 alpha-3 code"),
        ([], "give a query, a filter"),
    ],
)
def test_a_query_or_filter_that_cannot_work_is_one_line(store, tmp_path, args, message):
    result = wirewatch("search", *args, "--store", store, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_export_writes_what_search_finds_as_jsonl_and_csv(corpus, store, tmp_path):  # noqa: F811
    query = ["Trump OR Ukraine", "--lang", "en"]
    searched = _ids(store, tmp_path, *query)
    assert searched
    jsonl = wirewatch("export", *query, "--store", store, cwd=tmp_path)
    assert jsonl.returncode == 0, jsonl.stderr
    docs = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(docs) == len(searched)
    assert {doc["id"] for doc in docs} == searched
    assert all(doc["title"] and "body" in doc for doc in docs)  # whole documents
    assert f"exported {len(docs)} articles" in jsonl.stderr

    out = tmp_path / "trump.csv"
    written = wirewatch("export", *query, "--format", "csv", "-o", str(out), "--store", store, cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert not (tmp_path / "trump.csv.partial").exists()
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["id"] for row in rows} == searched
    by_id = {a.id: a for a in corpus}
    for row in rows:
        article = by_id[row["id"]]
        assert row["title"] == article.title
        assert row["outlet"] == article.source.name
        assert row["actor_names"].split("; ") == list(article.actor_names) or not article.actor_names


def test_export_without_a_query_writes_every_canonical_article(corpus, store, tmp_path):  # noqa: F811
    result = wirewatch("export", "--store", store, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(_expected(corpus, lambda a: True))
