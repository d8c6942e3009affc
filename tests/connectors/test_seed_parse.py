"""Seed files: parse_seed on the real seeds and on every malformed shape, read_seed_file, list_seed_paths."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from connectors.seedio import list_seed_paths, parse_seed, read_seed_file
from schemas.errors import BadRecordError
from schemas.records import RawRecord, Source

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
MALFORMED = Path(__file__).resolve().parents[1] / "fixtures" / "seeds_malformed"
EXPECTED_REASONS: dict[str, str] = json.loads((MALFORMED / "expected.json").read_text(encoding="utf-8"))
READ_AT = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)

SEED_000 = SEEDS / "000_c188ed1eebfaaab7.txt"
SEED_004 = SEEDS / "004_0150c9251e40f8c3.txt"


def parse(data: bytes, path: str = "/data/seeds/x.txt") -> RawRecord:
    return parse_seed(path, data, read_at=READ_AT)


def reason_of(data: bytes) -> str:
    with pytest.raises(BadRecordError) as info:
        parse(data)
    return info.value.reason


# --- the real seeds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "published", "title", "paragraph_count", "body_start", "body_end"),
    [
        pytest.param(
            SEED_000,
            dt.datetime(2023, 11, 9, tzinfo=dt.UTC),
            "In a significant development that could have far-reaching implications for global "
            "geopolitics, North Korean leader Kim Jong Un recently concluded his official visit to Russia.",
            6,
            "In a significant development that could have far-reaching implications",
            "are likely to reverberate across global politics.",
            id="000",
        ),
        pytest.param(
            SEED_004,
            dt.datetime(2023, 11, 7, tzinfo=dt.UTC),
            "A potential meeting between North Korea’s leader Kim Jong Un and Russian President "
            "Vladimir Putin has captured the attention of the international community.",
            7,
            "A potential meeting between North Korea’s leader Kim Jong Un",
            "for positive outcomes in the realm of international relations.",
            id="004",
        ),
    ],
)
def test_real_seed_parses(path, published, title, paragraph_count, body_start, body_end):
    record = parse_seed(str(path), path.read_bytes(), read_at=READ_AT)

    assert record.published_at == published
    assert record.published_at is not None
    assert record.published_at.utcoffset() == dt.timedelta(0)
    assert record.title == title
    assert len(record.body.split("\n\n")) == paragraph_count
    assert record.body.startswith(body_start)
    assert record.body.endswith(body_end)
    assert "date 2023" not in record.body
    assert not record.body.startswith((" ", "date"))
    assert record.source == Source(kind="seed", name="seeds", file=str(path))
    assert record.uri == str(path)
    assert record.body_format == "text"
    assert record.url is None
    assert record.guid is None
    assert record.fetched_at == READ_AT


def test_real_seed_paragraphs_are_single_lines_without_extra_spaces():
    record = parse_seed(str(SEED_000), SEED_000.read_bytes(), read_at=READ_AT)
    for paragraph in record.body.split("\n\n"):
        assert paragraph
        assert "\n" not in paragraph
        assert "  " not in paragraph
        assert paragraph == paragraph.strip()
    assert record.body.split("\n\n")[1].startswith("The visit, marked as a “blood alliance” by experts,")


def test_seed_source_name_is_the_folder():
    record = parse(b"date 2023-11-09 Body.", path="/data/collections/korea/001.txt")
    assert record.source == Source(kind="seed", name="korea", file="/data/collections/korea/001.txt")


def test_seed_without_folder_is_named_seeds():
    record = parse(b"date 2023-11-09 Body.", path="001.txt")
    assert record.source.name == "seeds"


# --- malformed seeds: the golden folder -----------------------------------------------------------


def test_expected_json_covers_every_fixture_file():
    files = sorted(p.name for p in MALFORMED.iterdir() if p.name != "expected.json")
    assert files == sorted(EXPECTED_REASONS)
    assert all(name.endswith(".txt") for name in files)


@pytest.mark.parametrize("name", sorted(EXPECTED_REASONS))
def test_malformed_seed_reason(name):
    path = MALFORMED / name
    with pytest.raises(BadRecordError) as info:
        parse_seed(str(path), path.read_bytes(), read_at=READ_AT)
    assert info.value.reason == EXPECTED_REASONS[name]
    assert str(info.value) == EXPECTED_REASONS[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_REASONS))
def test_malformed_seed_reads_then_fails_to_parse(name):
    # The files themselves are readable: the failure is in the content, not in the reading.
    path = MALFORMED / name
    data = read_seed_file(str(path))
    assert data == path.read_bytes()


# --- malformed seeds: inline variants -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"", "empty file", id="empty"),
        pytest.param(b" \t\r\n\n  ", "empty file", id="whitespace-only"),
        pytest.param(
            b"Kim met Putin.", "missing 'date YYYY-MM-DD' header at the start of the file", id="no-header"
        ),
        pytest.param(
            b"dated 2023-11-09 Body.",
            "missing 'date YYYY-MM-DD' header at the start of the file",
            id="dated-is-not-date",
        ),
        pytest.param(
            b"date2023-11-09 Body.",
            "missing 'date YYYY-MM-DD' header at the start of the file",
            id="date-glued-to-value",
        ),
        pytest.param(b"date", "missing date after 'date': expected YYYY-MM-DD", id="date-only"),
        pytest.param(
            b"date\n2023-11-09 Body.",
            "missing date after 'date': expected YYYY-MM-DD",
            id="date-on-next-line",
        ),
        pytest.param(b"date 2023/11/09 Body.", "bad date '2023/11/09': expected YYYY-MM-DD", id="slashes"),
        pytest.param(b"date 09-11-2023 Body.", "bad date '09-11-2023': expected YYYY-MM-DD", id="day-first"),
        pytest.param(
            b"date 2023-11-9 Body.", "bad date '2023-11-9': expected YYYY-MM-DD", id="one-digit-day"
        ),
        pytest.param(
            b"date " + b"x" * 100 + b" Body.",
            "bad date '" + "x" * 40 + "': expected YYYY-MM-DD",
            id="long-token-cut-at-40",
        ),
        pytest.param(
            b"date 2023-02-30 Body.",
            "impossible date '2023-02-30': day is out of range for month",
            id="feb-30",
        ),
        pytest.param(
            b"date 2023-13-01 Body.",
            "impossible date '2023-13-01': month must be in 1..12",
            id="month-13",
        ),
        pytest.param(
            b"date 2023-00-10 Body.",
            "impossible date '2023-00-10': month must be in 1..12",
            id="month-0",
        ),
        pytest.param(b"date 2023-11-09", "no article text after the date", id="no-body"),
        pytest.param(b"\xef\xbb\xbf \n", "empty file", id="bom-only"),
        pytest.param(b"date 2023-11-09  \r\n\r\n \t\r\n", "no article text after the date", id="blank-body"),
        pytest.param(
            b"date 2023-11-09 caf\xe9",
            "not UTF-8 text: invalid byte 0xe9 at offset 19",
            id="latin-1",
        ),
        pytest.param(
            b"\xffdate 2023-11-09 Body.",
            "not UTF-8 text: invalid byte 0xff at offset 0",
            id="bad-first-byte",
        ),
        pytest.param(
            b"date 2023-11-09 Caf\xc3\xa9 \xe2\x80",
            "not UTF-8 text: invalid byte 0xe2 at offset 22",
            id="truncated-sequence-after-multibyte",
        ),
    ],
)
def test_malformed_seed_inline(data, reason):
    assert reason_of(data) == reason


def test_undecodable_offset_counts_the_bom():
    # The offset must point into the file's bytes, BOM included, and name the byte found there.
    data = b"\xef\xbb\xbfdate 2023-11-09 caf\xe9"
    assert data[22] == 0xE9
    assert reason_of(data) == "not UTF-8 text: invalid byte 0xe9 at offset 22"


def test_bad_record_error_is_a_value_error():
    with pytest.raises(ValueError, match=r"^empty file$"):
        parse(b"")


# --- accepted edge cases --------------------------------------------------------------------------


def test_utf8_bom_is_ignored():
    record = parse("\ufeffdate 2023-11-09 Café opens.\n\nSecond.".encode())
    assert record.published_at == dt.datetime(2023, 11, 9, tzinfo=dt.UTC)
    assert record.title == "Café opens."
    assert record.body == "Café opens.\n\nSecond."


def test_crlf_line_endings():
    record = parse(b" date 2023-11-09 First line\r\nwrapped here.\r\n\r\nSecond paragraph.\r\n")
    assert record.body == "First line wrapped here.\n\nSecond paragraph."
    assert record.title == "First line wrapped here."
    assert "\r" not in record.body


def test_no_leading_space():
    record = parse(b"date 2023-11-07 Body text.")
    assert record.published_at == dt.datetime(2023, 11, 7, tzinfo=dt.UTC)
    assert record.body == "Body text."


def test_leading_blank_lines_and_tabs():
    record = parse(b"\n\n \tdate\t2023-11-07\tBody text.")
    assert record.published_at == dt.datetime(2023, 11, 7, tzinfo=dt.UTC)
    assert record.body == "Body text."


@pytest.mark.parametrize("keyword", [b"Date", b"DATE"])
def test_date_keyword_any_case(keyword):
    record = parse(keyword + b" 2023-11-09 Body text.")
    assert record.published_at == dt.datetime(2023, 11, 9, tzinfo=dt.UTC)
    assert record.body == "Body text."


def test_body_on_the_line_after_the_header():
    record = parse(b"date 2023-11-09\nBody on the next line.\n\nAnd more.")
    assert record.body == "Body on the next line.\n\nAnd more."


def test_blank_lines_with_spaces_split_paragraphs_and_runs_collapse():
    record = parse(b"date 2023-11-09 One.\n  \t\nTwo   words.\n\n\n\nThree.")
    assert record.body.split("\n\n") == ["One.", "Two words.", "Three."]


def test_title_is_first_sentence_of_first_paragraph():
    record = parse(b"date 2023-11-09 Mr. Kim met Mr. Putin in the U.S. capital today. He left.\n\nMore.")
    assert record.title == "Mr. Kim met Mr. Putin in the U.S. capital today."


# --- read_seed_file -------------------------------------------------------------------------------


def test_read_seed_file_returns_bytes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"date 2023-11-09 Body.")
    assert read_seed_file(str(path)) == b"date 2023-11-09 Body."


def test_read_seed_file_directory(tmp_path):
    folder = tmp_path / "dir.txt"
    folder.mkdir()
    with pytest.raises(BadRecordError) as info:
        read_seed_file(str(folder))
    assert info.value.reason == "is a directory, not a seed file"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda path: os.mkfifo(path), "is a FIFO (named pipe), not a seed file"),
        (lambda path: path.symlink_to("/dev/zero"), "is a character device, not a seed file"),
    ],
)
def test_read_seed_file_refuses_what_would_hang_or_never_end(tmp_path, make, reason):
    path = tmp_path / "special.txt"
    make(path)
    with pytest.raises(BadRecordError) as info:
        read_seed_file(str(path))
    assert info.value.reason == reason


def test_read_seed_file_broken_symlink(tmp_path):
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "does-not-exist.txt")
    with pytest.raises(BadRecordError) as info:
        read_seed_file(str(link))
    assert info.value.reason == "cannot read file: No such file or directory"


def test_read_seed_file_missing_file(tmp_path):
    with pytest.raises(BadRecordError) as info:
        read_seed_file(str(tmp_path / "missing.txt"))
    assert info.value.reason == "cannot read file: No such file or directory"


def test_read_seed_file_over_the_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"date 2023-11-09 " + b"x" * 20)
    with pytest.raises(BadRecordError) as info:
        read_seed_file(str(path), max_bytes=10)
    assert info.value.reason == "file is larger than the limit of 10 bytes"


def test_read_seed_file_exactly_at_the_limit(tmp_path):
    path = tmp_path / "edge.txt"
    path.write_bytes(b"0123456789")
    assert read_seed_file(str(path), max_bytes=10) == b"0123456789"
    with pytest.raises(BadRecordError, match=r"^file is larger than the limit of 9 bytes$"):
        read_seed_file(str(path), max_bytes=9)


# --- list_seed_paths ------------------------------------------------------------------------------


def test_list_seed_paths_real_seeds():
    assert list_seed_paths(str(SEEDS)) == [str(SEED_000), str(SEED_004)]


def test_list_seed_paths_only_txt_sorted_with_directories(tmp_path):
    for name in ["b.txt", "a.txt", "c.md", "notes.json", "10.txt", "txt", "d.txt.bak"]:
        (tmp_path / name).write_bytes(b"date 2023-11-09 Body.")
    (tmp_path / "x.txt").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nested.txt").write_bytes(b"date 2023-11-09 Body.")

    paths = list_seed_paths(str(tmp_path))

    assert paths == [os.path.join(str(tmp_path), name) for name in ["10.txt", "a.txt", "b.txt", "x.txt"]]


def test_list_seed_paths_includes_broken_links(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"date 2023-11-09 Body.")
    (tmp_path / "b.txt").symlink_to(tmp_path / "nowhere.txt")
    assert list_seed_paths(str(tmp_path)) == [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]


def test_list_seed_paths_empty_folder(tmp_path):
    assert list_seed_paths(str(tmp_path)) == []


def test_list_seed_paths_glob_and_single_file(tmp_path):
    for name in ["a.txt", "b.txt", "a.md"]:
        (tmp_path / name).write_bytes(b"x")
    assert list_seed_paths(str(tmp_path / "a.*")) == [str(tmp_path / "a.md"), str(tmp_path / "a.txt")]
    assert list_seed_paths(str(tmp_path / "b.txt")) == [str(tmp_path / "b.txt")]
    assert list_seed_paths(str(tmp_path / "missing.txt")) == []


def test_list_seed_paths_malformed_fixture_folder():
    expected = [str(MALFORMED / name) for name in sorted(EXPECTED_REASONS)]
    assert list_seed_paths(str(MALFORMED)) == expected
