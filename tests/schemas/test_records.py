"""Records and ids: frozen strict models, UTC datetimes, web URLs, dead letters, content hashes, ids."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.ids import (
    article_id_from_content,
    article_id_from_url,
    canonical_text,
    content_hash,
    stable_id,
)
from schemas.records import (
    MAX_PAYLOAD_CHARS,
    Article,
    DeadLetter,
    PipelineInfo,
    RawRecord,
    Source,
    one_line,
    payload_text,
)
from schemas.types import check_web_url, to_utc

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
SOURCE = Source(kind="feed", name="example", feed_url="https://example.com/rss")
PIPELINE = PipelineInfo(version="0.1.0", run_id="run-1")
HASH = "a" * 64
ID = "b" * 32


def raw_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "source": {"kind": "feed", "name": "example"},
        "uri": "https://example.com/rss#1",
        "body": "Body.",
        "fetched_at": NOW,
    }
    fields.update(overrides)
    return fields


def article_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": ID,
        "source": SOURCE,
        "title": "Title",
        "body": "Body.",
        "ingested_at": NOW,
        "word_count": 1,
        "content_hash": HASH,
        "pipeline": PIPELINE,
    }
    fields.update(overrides)
    return fields


def dead_letter(**overrides: Any) -> DeadLetter:
    fields: dict[str, Any] = {
        "stage": "read_seed",
        "error": "empty file",
        "error_type": "BadRecordError",
        "payload": b"",
        "source": "/seeds/a.txt",
        "occurred_at": NOW,
    }
    fields.update(overrides)
    return DeadLetter.build(**fields)


def error_locations(exc: ValidationError) -> list[tuple[str | int, ...]]:
    return [tuple(err["loc"]) for err in exc.errors()]


# --- frozen, strict models ------------------------------------------------------------------------


def test_source_is_frozen():
    with pytest.raises(ValidationError) as info:
        SOURCE.name = "other"
    assert info.value.errors()[0]["type"] == "frozen_instance"
    assert SOURCE.name == "example"


def test_raw_record_is_frozen():
    raw = RawRecord.model_validate(raw_fields())
    with pytest.raises(ValidationError):
        raw.body = "changed"
    assert raw.body == "Body."


def test_article_and_dead_letter_are_frozen():
    article = Article.model_validate(article_fields())
    with pytest.raises(ValidationError):
        article.title = "changed"
    letter = dead_letter()
    with pytest.raises(ValidationError):
        letter.error = "changed"


def test_frozen_models_are_hashable_and_compare_by_value():
    assert Source(kind="seed", name="seeds") == Source(kind="seed", name="seeds")
    assert hash(Source(kind="seed", name="seeds")) == hash(Source(kind="seed", name="seeds"))
    assert Source(kind="seed", name="seeds") != Source(kind="seed", name="other")


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        pytest.param(Source, {"kind": "seed", "name": "x", "nmae": "typo"}, id="source"),
        pytest.param(RawRecord, raw_fields(titel="typo"), id="raw"),
        pytest.param(Article, article_fields(lang="en"), id="article"),
        pytest.param(PipelineInfo, {"version": "1", "run_id": "r", "host": "h"}, id="pipeline"),
    ],
)
def test_extra_fields_are_refused(model, fields):
    with pytest.raises(ValidationError) as info:
        model.model_validate(fields)
    assert [err["type"] for err in info.value.errors()] == ["extra_forbidden"]


def test_source_kind_is_restricted():
    with pytest.raises(ValidationError) as info:
        Source.model_validate({"kind": "api", "name": "x"})
    assert error_locations(info.value) == [("kind",)]


def test_empty_names_are_refused():
    with pytest.raises(ValidationError):
        Source(kind="seed", name="   ")
    with pytest.raises(ValidationError):
        RawRecord.model_validate(raw_fields(uri=""))


def test_body_format_is_restricted():
    with pytest.raises(ValidationError) as info:
        RawRecord.model_validate(raw_fields(body_format="markdown"))
    assert error_locations(info.value) == [("body_format",)]


# --- datetimes ------------------------------------------------------------------------------------


def test_naive_datetime_is_refused():
    naive = dt.datetime(2024, 5, 1, 12, 0)  # noqa: DTZ001  (the point of the test)
    with pytest.raises(ValidationError, match="datetime must carry a timezone") as info:
        RawRecord.model_validate(raw_fields(fetched_at=naive))
    assert error_locations(info.value) == [("fetched_at",)]
    with pytest.raises(ValidationError, match="datetime must carry a timezone"):
        RawRecord.model_validate(raw_fields(published_at=naive))
    with pytest.raises(ValidationError, match="datetime must carry a timezone"):
        Article.model_validate(article_fields(ingested_at=naive))


def test_naive_iso_string_is_refused():
    with pytest.raises(ValidationError, match="datetime must carry a timezone"):
        RawRecord.model_validate(raw_fields(fetched_at="2024-05-01T12:00:00"))


def test_aware_datetime_is_converted_to_utc():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    raw = RawRecord.model_validate(
        raw_fields(
            fetched_at=dt.datetime(2024, 5, 1, 12, 0, tzinfo=plus_two),
            published_at="2024-05-01T08:30:00-05:00",
        )
    )
    assert raw.fetched_at == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert raw.fetched_at.tzinfo is dt.UTC
    assert raw.fetched_at.hour == 10
    assert raw.published_at == dt.datetime(2024, 5, 1, 13, 30, tzinfo=dt.UTC)
    assert raw.published_at is not None
    assert raw.published_at.tzinfo is dt.UTC


def test_to_utc_directly():
    tokyo = dt.timezone(dt.timedelta(hours=9))
    result = to_utc(dt.datetime(2024, 1, 1, 9, 0, tzinfo=tokyo))
    assert result == dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC)
    assert result.tzinfo is dt.UTC
    assert result.day == 1
    with pytest.raises(ValueError, match=r"^datetime must carry a timezone$"):
        to_utc(dt.datetime(2024, 1, 1))  # noqa: DTZ001  (the point of the test)


def test_published_at_is_optional():
    raw = RawRecord.model_validate(raw_fields())
    assert raw.published_at is None


def test_json_round_trip_keeps_utc():
    raw = RawRecord.model_validate(raw_fields(published_at=dt.datetime(2023, 11, 9, tzinfo=dt.UTC)))
    again = RawRecord.model_validate_json(raw.model_dump_json())
    assert again == raw
    assert again.published_at is not None
    assert again.published_at.tzinfo is dt.UTC


# --- web URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/article",
        "/news/2024/article",
        "example.com/article",
        "mailto:desk@example.com",
        "javascript:alert(1)",
        "http://",
        "https:///path-only",
        "",
    ],
)
def test_web_url_refuses(url):
    with pytest.raises(ValidationError) as info:
        Article.model_validate(article_fields(url=url))
    assert error_locations(info.value) == [("url",)]
    with pytest.raises(ValidationError):
        Article.model_validate(article_fields(canonical_url=url))
    with pytest.raises(ValueError, match=r"^not an absolute http\(s\) URL: "):
        check_web_url(url)


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("HTTP://Example.com/A?b=1", "HTTP://Example.com/A?b=1"),
        ("  https://example.com/a  ", "https://example.com/a"),
    ],
)
def test_web_url_accepts_http_and_https(url, stored):
    article = Article.model_validate(article_fields(url=url, canonical_url=url))
    assert article.url == stored
    assert article.canonical_url == stored


def test_web_url_error_message_names_the_url():
    with pytest.raises(ValueError, match=r"^not an absolute http\(s\) URL: 'ftp://x/y'$"):
        check_web_url("ftp://x/y")


# --- Article field constraints --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "B" * 32),
        ("id", "b" * 31),
        ("id", "g" * 32),
        ("content_hash", "a" * 63),
        ("content_hash", "A" * 64),
        ("language", "EN"),
        ("language", "english"),
        ("language", "e"),
        ("word_count", -1),
        ("title", "  "),
    ],
)
def test_article_constraints(field, value):
    with pytest.raises(ValidationError) as info:
        Article.model_validate(article_fields(**{field: value}))
    assert error_locations(info.value) == [(field,)]


def test_article_accepts_valid_values():
    article = Article.model_validate(article_fields(language="yue", word_count=0))
    assert article.language == "yue"
    assert article.word_count == 0
    assert article.url is None


# --- dead letters ---------------------------------------------------------------------------------


def test_dead_letter_build_fields():
    letter = dead_letter(error="bad date\n'x':\texpected", run_id="run-7")
    assert letter.stage == "read_seed"
    assert letter.error_type == "BadRecordError"
    assert letter.error == "bad date 'x': expected"
    assert letter.payload == ""
    assert letter.source == "/seeds/a.txt"
    assert letter.occurred_at == NOW
    assert letter.run_id == "run-7"
    assert re.fullmatch(r"[0-9a-f]{32}", letter.id)


def test_dead_letter_id_is_stable_for_the_same_input():
    first = dead_letter(payload=b"date 2023/11/09 x", occurred_at=NOW)
    later = dead_letter(
        payload=b"date 2023/11/09 x",
        occurred_at=NOW + dt.timedelta(days=3),
        run_id="another-run",
        error="a different wording",
        error_type="ValidationError",
    )
    assert first.id == later.id
    # bytes and the same text give the same fingerprint
    assert dead_letter(payload="date 2023/11/09 x").id == first.id


def test_dead_letter_id_differs_by_stage_source_and_payload():
    base = dead_letter(payload=b"x")
    assert dead_letter(payload=b"x", stage="normalize").id != base.id
    assert dead_letter(payload=b"x", source="/seeds/b.txt").id != base.id
    assert dead_letter(payload=b"x", source=None).id != base.id
    assert dead_letter(payload=b"y").id != base.id


def test_dead_letter_id_formula():
    import hashlib

    letter = dead_letter(payload=b"abc")
    fingerprint = hashlib.sha256(b"abc").hexdigest()
    assert letter.id == stable_id("dead-letter", f"read_seed\x00/seeds/a.txt\x00{fingerprint}")


def test_dead_letter_escapes_undecodable_bytes():
    letter = dead_letter(payload=b"date 2023-11-09 caf\xe9")
    assert letter.payload == "date 2023-11-09 caf\\xe9"


def test_dead_letter_truncates_large_payloads():
    letter = dead_letter(payload=b"x" * (MAX_PAYLOAD_CHARS + 5))
    assert letter.payload == "x" * MAX_PAYLOAD_CHARS + "\n…[truncated 5 characters]"


def test_dead_letter_error_must_not_be_blank():
    with pytest.raises(ValidationError) as info:
        dead_letter(error=" \n ")
    assert error_locations(info.value) == [("error",)]


def test_payload_text():
    assert payload_text("plain") == "plain"
    assert payload_text(b"caf\xc3\xa9") == "café"
    assert payload_text(b"caf\xe9 \xff") == "caf\\xe9 \\xff"
    assert payload_text("x" * 10, limit=10) == "x" * 10
    assert payload_text("x" * 11, limit=10) == "x" * 10 + "\n…[truncated 1 characters]"
    assert payload_text("abcdefghij" * 3, limit=4) == "abcd\n…[truncated 26 characters]"
    assert payload_text(b"\xe9" * 3, limit=4) == "\\xe9\n…[truncated 8 characters]"


def test_one_line():
    assert one_line("first\nsecond\r\n\tthird  ") == "first second third"
    assert one_line("  ") == ""
    assert one_line("a" * 500) == "a" * 500
    assert one_line("a" * 501) == "a" * 499 + "…"
    assert len(one_line("a" * 501)) == 500
    assert one_line("abcdefgh", limit=5) == "abcd…"
    assert one_line("abcde", limit=5) == "abcde"


# --- content hashes and ids -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "Kim met Putin in Vladivostok.",
        "  kim MET putin\nin   vladivostok ",
        "Kim met Putin in Vladivostok!!!",
        "“Kim” met Putin — in Vladivostok…",
        "KIM\tMET\u00a0PUTIN, IN VLADIVOSTOK",
        "Kim met Putin\n\nin Vladivostok.",
    ],
)
def test_content_hash_ignores_case_space_and_punctuation(variant):
    assert content_hash(variant) == content_hash("Kim met Putin in Vladivostok")


def test_content_hash_ignores_unicode_form():
    assert content_hash("Cafe\u0301 opens") == content_hash("Caf\u00e9 opens")
    assert content_hash("ﬁnal") == content_hash("final")
    assert content_hash("STRASSE") == content_hash("straße")


@pytest.mark.parametrize(
    "changed",
    [
        "Kim met Medvedev in Vladivostok.",
        "Kim met Putin in Vladivostok today.",
        "Kim met Putin Vladivostok.",
        "Kim met Putin in Vladivostok 2.",
        "Kimmet Putin in Vladivostok.",
    ],
)
def test_content_hash_changes_when_a_word_changes(changed):
    assert content_hash(changed) != content_hash("Kim met Putin in Vladivostok.")


def test_content_hash_shape_and_value():
    digest = content_hash("Kim met Putin.")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert canonical_text("Kim met Putin.") == "kim met putin"
    import hashlib

    assert digest == hashlib.sha256(b"kim met putin").hexdigest()


def test_stable_id_shape():
    for value in [stable_id("url", "x"), article_id_from_url("https://a.b/"), article_id_from_content(HASH)]:
        assert re.fullmatch(r"[0-9a-f]{32}", value)
        assert len(value) == 32


def test_stable_id_is_deterministic_and_namespaced():
    assert stable_id("url", "x") == stable_id("url", "x")
    assert stable_id("url", "x") != stable_id("url", "y")
    assert stable_id("url", "x") != stable_id("content", "x")
    # The separator keeps namespace and key apart.
    assert stable_id("ab", "c") != stable_id("a", "bc")


def test_url_and_content_ids_differ_for_the_same_key():
    key = "https://example.com/a"
    assert article_id_from_url(key) != article_id_from_content(key)
    assert article_id_from_url(key) == stable_id("url", key)
    assert article_id_from_content(HASH) == stable_id("content", HASH)


def test_stable_id_known_value():
    import hashlib

    assert (
        stable_id("url", "https://example.com/")
        == (hashlib.sha256(b"url\x00https://example.com/").hexdigest()[:32])
    )
