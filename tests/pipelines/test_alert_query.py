"""pipelines.alert_query on hand-made articles: each construct both ways, and the refusals.

That the answers are Elasticsearch's is shown on real articles by
tests/integration/test_alert_query_es.py; these pin the semantics down where they are easy to read.
"""

from __future__ import annotations

import datetime as dt
import pickle
from typing import Any

import pytest

from pipelines.alert_query import QueryError, analyze, check_query, compile_query, index_fields
from schemas.records import ActorTag, Article, PipelineInfo, Source, TopicTag
from tests.conftest import as_canonical, seed_articles

AT = dt.datetime(2023, 11, 9, 8, 30, tzinfo=dt.UTC)
NOW = dt.datetime(2023, 11, 12, tzinfo=dt.UTC)


def _actor(qid: str, name: str, kind: str) -> ActorTag:
    return ActorTag(id=qid, name=name, kind=kind, country="PRK", mentions=2, salience=0.9, confidence=1.0)


def _doc(**changes: Any) -> dict[str, Any]:
    article = Article(
        id="0" * 32,
        url="https://news.example.com/kim-satellite",
        source=Source(kind="feed", name="Daily NK", feed_url="https://news.example.com/rss"),
        title="Kim Jong Un inspects a spy satellite launch",
        body="North Korea’s leader met the U.S. envoy; the UN Security Council weighs 1,000 sanctions.",
        published_at=AT,
        ingested_at=AT + dt.timedelta(hours=1),
        language="en",
        word_count=120,
        content_hash="a" * 64,
        pipeline=PipelineInfo(version="test", run_id="r1"),
        source_count=3,
        independent_source_count=2,
        similarity=0.85,
        actors=(_actor("Q423", "North Korea", "country"), _actor("Q56226", "Kim Jong Un", "person")),
        topics=(TopicTag(id="space.satellites", label="Satellites", score=0.8),),
        actor_ids=("Q423", "Q56226"),
        actor_names=("North Korea", "Kim Jong Un"),
        countries=("PRK",),
        topic_ids=("space.satellites", "sanctions"),
    )
    return article.model_copy(update=changes).model_dump(mode="json")


DOC = _doc()


def matches(query: str, doc: dict[str, Any] = DOC) -> bool:
    return compile_query(query).matches(doc, now=NOW)


CASES = [
    # a bare term: keyword values whole and case-sensitive, text fields by analysed words
    ("Q423", True),
    ("q423", False),
    ("Q42", False),
    ("satellite", True),
    ("SATELLITE", True),
    ("satellites", False),
    ("Korea’s", True),
    ("Korea", False),  # the standard tokenizer keeps "korea’s" whole, and no keyword is "Korea"
    ("U.S.", True),
    ("1,000", True),
    ("120", True),  # word_count
    ("2", True),  # independent_source_count
    ("0.5", False),
    # bare words side by side are one text: any word in text fields, the whole value in keywords
    ("Kim Jong Un", True),
    ("Q423 Q56226", False),
    ("Q423 OR Q56226", True),
    ("actor_names:(Kim Jong Un)", True),
    ("actor_names:(Kim Jong)", False),
    ("title:(rocket launch)", True),
    ("title:(rocket missile)", False),
    # phrases: consecutive words in text fields, the whole value in keyword fields
    ('"Security Council"', True),
    ('"Council Security"', False),
    ('title:"spy satellite"', True),
    ('title:"satellite spy"', False),
    ('actor_names:"Kim Jong Un"', True),
    ('actor_names:"kim jong un"', False),
    # fields and object fields
    ("countries:PRK", True),
    ("countries:prk", False),
    ("source.name:(Daily NK)", True),
    ("actors.kind:person AND actors.country:PRK", True),
    ("actors.kind:organisation", False),
    ("topics.id:space.satellites", True),
    ("topics.id:sanctions", False),
    ("title.keyword:Kim*", True),
    ("title.keyword:kim*", False),
    # booleans as Lucene's classic parser combines them
    ("Q423 AND sanctions", True),
    ("Q423 AND tariffs", False),
    ("tariffs OR sanctions", True),
    ("tariffs OR embargo", False),
    ("sanctions OR satellite AND embargo", False),  # satellite and embargo are both required
    ("(sanctions OR satellite) AND NOT embargo", True),
    ("+satellite -embargo", True),
    ("+satellite -launch", False),
    ("satellite +embargo", False),
    ("-embargo", True),
    ("NOT satellite", False),
    ("tariffs OR NOT embargo", False),  # not "either": the only optional clause must match
    ("satellite AND (NOT countries:USA)", True),
    ("NOT (countries:USA OR countries:PRK)", False),
    ("satellite^3 tariffs", True),
    # wildcards: lower-cased on text fields, as typed on keyword fields
    ("satell*", True),
    ("title:Satell*", True),
    ("satel?ite", True),
    ("sat*z", False),
    ("actor_names:Kim*", True),
    ("actor_names:kim*", False),
    ("title:*", True),
    ("summary:*", False),
    ("*", True),
    # ranges and comparisons
    ("word_count:[100 TO 120]", True),
    ("word_count:[100 TO 120}", False),
    ("word_count:>=120", True),
    ("word_count:>120", False),
    ("word_count:<121", True),
    ("word_count:120.0", True),
    ("word_count:120.5", False),
    ("similarity:0.85", True),  # compared as a 32-bit float, as indexed
    ("similarity:[0.9 TO *]", False),
    ("independent_source_count:>=2 AND source_count:3", True),
    ("independent_source_count:>2", False),
    ("actor_names:[A TO L]", True),
    ("actor_names:[O TO Z]", False),
    ("title:[kim TO kim]", True),
    # dates: a day is the whole day, missing parts rounded as Elasticsearch does
    ("published_at:2023-11-09", True),
    ("published_at:2023-11-08", False),
    ("published_at:[2023-11-01 TO 2023-11-08]", False),
    ("published_at:[2023-11-01 TO 2023-11-09]", True),
    ("published_at:{2023-11-01 TO 2023-11-09}", False),
    ("published_at:2023-11", False),  # a month alone is its first day
    ('published_at:"2023-11-09T08:30:00Z"', True),
    ('published_at:[2023-11-09T08:00:00Z TO "2023-11-09T09:00:00+01:00"]', False),
    ("published_at:[2023-11-09T08:00:00Z TO 2023-11-09T09:00:00Z]", True),
    ("published_at:<2023-11-08||+1d", False),
    ("published_at:<=2023-11-08||+1d", False),  # midnight: rounding up needs a /unit after ||
    ("published_at:<=2023-11-08||+1d\\/d", True),  # outside a range, Lucene needs the / escaped
    ("published_at:[* TO 2023-11-08||+1d/d]", True),
    ("published_at:>now-7d", True),  # now is 2023-11-12T00:00Z here
    ("published_at:>now-2d", False),
    ("published_at:[now-3d/d TO now]", True),
    ("published_at:[now-2d/d TO now]", False),
    ("published_at:[now/M TO now/M]", True),
    ("published_at:[now/w TO now]", True),  # the week began on Monday 6 November
    ("published_at:[now/d TO now]", False),
    # existence
    ("_exists_:title", True),
    ("_exists_:summary", False),
    ("_exists_:actors", True),
    ("_exists_:duplicate_reason", False),
    ("_exists_:title.keyword", True),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_each_construct(query, expected):
    assert matches(query) is expected


def test_a_keyword_too_long_for_the_index_is_not_there():
    doc = _doc(title="Satellite " * 60)  # 600 characters: over title.keyword's ignore_above (512)
    assert matches("title:*", doc)
    assert not matches("title.keyword:*", doc)
    assert not matches("_exists_:title.keyword", doc)


def test_a_real_article():
    doc = as_canonical(seed_articles()[0]).model_dump(mode="json")
    assert matches("actor_ids:Q423 AND topic_ids:sanctions", doc)
    assert matches('"Security Council" AND published_at:[2023-11-01 TO 2023-11-09]', doc)
    assert not matches("actor_ids:Q423 AND NOT countries:RUS", doc)


def test_date_math_follows_the_clock_it_is_given():
    compiled = compile_query("published_at:>now-1d")
    assert compiled.matches(DOC, now=AT + dt.timedelta(hours=12))
    assert not compiled.matches(DOC, now=AT + dt.timedelta(days=2))


def test_a_compiled_query_pickles():
    compiled = pickle.loads(pickle.dumps(compile_query("satellite AND countries:PRK")))
    assert compiled.matches(DOC)
    assert repr(compiled) == "CompiledQuery('satellite AND countries:PRK')"


def test_the_fields_come_from_the_index_mapping():
    fields = index_fields().fields
    assert (fields["title"].type, fields["title.keyword"].type, fields["title.keyword"].ignore_above) == (
        "text",
        "keyword",
        512,
    )
    assert fields["title.keyword"].path == ("title",)
    assert {fields[name].type for name in ("word_count", "similarity", "published_at", "actors.name")} == {
        "integer",
        "float",
        "date",
        "keyword",
    }
    assert "actors" in index_fields().objects
    assert "actors" not in fields
    assert len(index_fields().default) == len(fields)  # the settings leave default_field at "*"


def test_the_standard_analyzer():
    text = "North Korea’s U.S. envoy: 3.5km, 1,000 e-mails; Q423 foo_bar 東京 ΟΔΟΣ"
    expected = "north korea’s u.s envoy 3.5km 1,000 e mails q423 foo_bar 東 京 οδοσ"
    assert analyze(text) == expected.split()


REFUSED = [
    ("", "the query is empty"),
    ("  ", "the query is empty"),
    ("(satellite", "unbalanced parenthesis: a ( is never closed"),
    ("satellite)", "unbalanced parenthesis: the ) at position 10 closes nothing"),
    ('"spy satellite', 'unbalanced quote: the " at position 1 is never closed'),
    ("word_count:[1 TO 2", "unbalanced parenthesis: a [ is never closed"),
    ("satellite AND", "cannot parse the query"),
    ("unknown:x", "unknown field 'unknown'"),
    ("near_dup_signature:abc", "unknown field 'near_dup_signature'"),  # kept, not searchable
    ("actor_id:Q423", "unknown field 'actor_id' (did you mean actor_ids"),
    ("actors:Q423", "actors is an object: query one of its fields (actors.id, actors.name"),
    ("actor*:Q423", "field name patterns like 'actor*' are not supported"),
    ("satelite~", "fuzzy search (~) is not supported"),
    ('"spy satellite"~2', "proximity search"),
    ("/sat.*/", "regular expressions"),
    ("word_count:many", "word_count: 'many' is not a number"),
    ("word_count:(1 2)", "word_count: '1 2' is not a number"),
    ("word_count:99999999999", "out of range for the integer field word_count"),
    ("word_count:12*", "word_count: wildcards work on text and keyword fields"),
    ("published_at:yesterday", "published_at: 'yesterday' is not a date"),
    ("published_at:[now-7x TO now]", "is not date math"),
    ("published_at:2023-11-09T08:00:00", "quote the value or escape the :"),
    ("published_at:[* TO 2023-11-09T09:00:00+01:00]", "cannot parse the query"),  # quote it
    ("satellite && launch", "write AND instead of &&"),
    ("satellite || launch", "write OR instead of ||"),
    ("!satellite", "write NOT"),
    ("satellite - launch", "write the - against its term"),
    ("title:-launch", "put the operator before the field"),
    ("NOT -satellite", "two operators in a row"),
    ("word_count:>= 2", "write the value right after the operator"),
    (">=2", "needs a field"),
    ("title:—", "title: the text field is given no word to search for"),
    ("satellite^", "a boost needs a number"),
    ("_exists_:(title body)", "_exists_ takes one field name"),
    ("spy\u00a0satellite", "unusual space (U+00A0)"),
]


@pytest.mark.parametrize(("query", "reason"), REFUSED)
def test_what_cannot_be_evaluated_is_refused(query, reason):
    with pytest.raises(QueryError) as caught:
        compile_query(query)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)
    assert check_query(query) == str(caught.value)


def test_a_usable_query_has_nothing_to_report():
    assert check_query("actor_ids:Q423 AND topic_ids:sanctions") is None
