"""The feed catalog file (YAML) and OPML: load errors, save/load, the shipped catalog, import and export."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

from connectors.feed_catalog import (
    export_opml,
    import_opml,
    load_catalog,
    save_catalog,
    with_feeds,
    without_feed,
)
from schemas.errors import ConfigError
from schemas.feeds import FeedCatalog, FeedSpec
from tests.conftest import REPO

OPML = REPO / "tests" / "fixtures" / "opml"
SHIPPED = REPO / "seeds" / "feeds.yaml"

# ISO 3166-1 alpha-2 (officially assigned) and ISO 639-1: what the shipped catalog may use.
ISO_3166_ALPHA_2 = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
    BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH
    ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT
    HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS
    LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI
    NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG
    SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
    UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()
)
ISO_639_1 = frozenset(
    """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv
    dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie
    ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv
    mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm
    rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts
    tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
    """.split()
)
FIELDS_HELP = (
    "# Wirewatch feed catalog: the RSS/Atom feeds to poll. Edit by hand or with `wirewatch feeds`.\n"
    "# Fields: url, name, outlet, country (ISO 3166 alpha-2), language (ISO 639), poll_interval_s,\n"
    "# tags, reliability (A-F), state_affiliated, enabled, allow_private.\n"
)

FULL = FeedCatalog(
    feeds=(
        FeedSpec(
            url="https://feeds.example.no/nyheter.rss",
            name='NRK – Nyheter <alle> & "mer"',
            outlet="nrk.no",
            country="NO",  # a YAML 1.1 boolean when unquoted
            language="nb",
            poll_interval_s=3600,
            tags=("norway", "nordics/world", "état"),
            reliability="A",
            state_affiliated=True,
        ),
        FeedSpec(
            url="http://127.0.0.1:8080/feed.xml?a=1&b=2",
            name="yes",  # another YAML 1.1 boolean
            reliability="F",
            enabled=False,
            allow_private=True,
        ),
        FeedSpec(url="file:///srv/feeds/local.xml", name="Local file"),
        FeedSpec(url="/srv/feeds/abs.xml", name="Absolute path"),
    )
)


def write(tmp_path: pathlib.Path, text: str, name: str = "feeds.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def config_error(call: Callable[[], object]) -> str:
    with pytest.raises(ConfigError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- load_catalog errors -----------------------------------------------------------------------


def test_a_missing_catalog_names_the_flag_and_the_file(tmp_path: pathlib.Path):
    path = str(tmp_path / "nope.yaml")
    assert config_error(lambda: load_catalog(path)) == f"--feeds: no such catalog file: {path}"


def test_bad_yaml_is_one_line_naming_the_file_and_the_place(tmp_path: pathlib.Path):
    path = write(tmp_path, "version: 1\nfeeds:\n  - url: [unclosed\n    name: x\n")
    message = config_error(lambda: load_catalog(path))
    assert message.startswith(f"{path}: not valid YAML: while parsing a flow sequence")
    assert "line 3, column 10" in message


def test_a_file_that_is_not_utf8_cannot_be_read(tmp_path: pathlib.Path):
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"feeds:\n  - url: https://a.example/rss\n    name: Caf\xe9\n")
    assert config_error(lambda: load_catalog(str(path))).startswith(
        f"--feeds: cannot read {path}: 'utf-8' codec can't decode byte 0xe9"
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "version: 1\nfeeds:\n  - url: https://a.example/rss\n    name: A\n"
            "  - url: https://b.example/rss\n    name: B\n    country: gb\n",
            "feeds.1.country: String should match pattern '^[A-Z]{2}$'",
        ),
        (
            "feeds:\n  - url: https://a.example/rss\n    name: A\n    country: gb\n    language: EN\n",
            "feeds.0.country: String should match pattern '^[A-Z]{2}$' (and 1 more)",
        ),
        (
            "feeds:\n  - url: rss.xml\n    name: A\n",
            "feeds.0.url: Value error, must be an http(s) URL, a file:// URL or an absolute path, "
            "got 'rss.xml'",
        ),
        (
            "feeds:\n  - url: https://a.example/rss\n    name: A\n    contry: GB\n",
            "feeds.0.contry: Extra inputs are not permitted",
        ),
        (
            "feeds:\n  - url: https://a.example/rss\n    name: A\n    poll_interval_s: 10\n",
            "feeds.0.poll_interval_s: Input should be greater than or equal to 60",
        ),
        (
            "feeds:\n  - url: https://a.example/rss\n    name: '  '\n",
            "feeds.0.name: String should have at least 1 character",
        ),
        ("version: 0\nfeeds: []\n", "version: Input should be greater than or equal to 1"),
    ],
    ids=["country", "two-errors", "url", "typo", "interval", "blank-name", "version"],
)
def test_a_bad_field_is_one_line_naming_the_file_and_the_field(tmp_path: pathlib.Path, text: str, error: str):
    path = write(tmp_path, text)
    assert config_error(lambda: load_catalog(path)) == f"{path}: {error}"


def test_a_url_listed_twice_is_refused(tmp_path: pathlib.Path):
    path = write(
        tmp_path,
        "feeds:\n  - url: https://a.example/rss\n    name: A\n"
        "  - url: ' https://a.example/rss '\n    name: A again\n",
    )
    assert config_error(lambda: load_catalog(path)) == (
        f"{path}: feeds: Value error, feed https://a.example/rss is listed twice"
    )


def test_a_catalog_that_is_not_a_mapping_is_refused(tmp_path: pathlib.Path):
    path = write(tmp_path, "- url: https://a.example/rss\n  name: A\n")
    assert (
        config_error(lambda: load_catalog(path)) == f"{path}: expected a mapping with 'version' and 'feeds'"
    )


def test_an_empty_catalog_file_is_an_empty_catalog(tmp_path: pathlib.Path):
    assert load_catalog(write(tmp_path, "# nothing yet\n")) == FeedCatalog(version=1, feeds=())


# --- save / load -------------------------------------------------------------------------------


def test_save_then_load_gives_the_same_catalog(tmp_path: pathlib.Path):
    path = str(tmp_path / "sub" / "feeds.yaml")  # the folder is created
    save_catalog(path, FULL)
    assert load_catalog(path) == FULL


def test_saved_yaml_has_the_header_and_leaves_defaults_out(tmp_path: pathlib.Path):
    path = tmp_path / "feeds.yaml"
    catalog = FeedCatalog(
        feeds=(
            FeedSpec(url="https://a.example/rss", name="A"),
            FeedSpec(url="https://b.example/rss", name="B", country="NO", tags=("x",), enabled=False),
        )
    )
    save_catalog(str(path), catalog)
    assert path.read_text(encoding="utf-8") == FIELDS_HELP + (
        "version: 1\n"
        "feeds:\n"
        "- url: https://a.example/rss\n"
        "  name: A\n"
        "- url: https://b.example/rss\n"
        "  name: B\n"
        "  country: 'NO'\n"
        "  tags:\n"
        "  - x\n"
        "  enabled: false\n"
    )


def test_save_replaces_the_file_and_leaves_no_temporary_file(tmp_path: pathlib.Path):
    path = str(tmp_path / "feeds.yaml")
    save_catalog(path, FULL)
    smaller = FeedCatalog(feeds=FULL.feeds[:1])
    save_catalog(path, smaller)
    assert load_catalog(path) == smaller
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]


def test_with_feeds_adds_only_new_urls_and_without_feed_removes_one():
    one = FeedCatalog(feeds=FULL.feeds[:1])
    renamed = FULL.feeds[0].model_copy(update={"name": "Same URL, other name"})
    updated, added = with_feeds(one, [renamed, FULL.feeds[1], FULL.feeds[1]])
    assert added == [FULL.feeds[1].url]
    assert updated.feeds == FULL.feeds[:2]
    assert without_feed(updated, FULL.feeds[0].url).feeds == (FULL.feeds[1],)
    assert config_error(lambda: without_feed(updated, "https://other.example/rss")) == (
        "no feed with URL https://other.example/rss in the catalog"
    )


# --- the shipped catalog -----------------------------------------------------------------------


def test_the_shipped_catalog_loads_with_enough_unique_public_feeds():
    catalog = load_catalog(str(SHIPPED))
    feeds = catalog.feeds
    assert len(feeds) >= 20
    assert len({f.url for f in feeds}) == len(feeds)
    assert len({f.name for f in feeds}) == len(feeds)
    assert [f.url for f in feeds if not f.url.startswith("https://")] == []
    assert [f.url for f in feeds if f.allow_private] == []
    assert [f.url for f in feeds if not f.enabled] == []


def test_the_shipped_catalog_uses_real_country_and_language_codes():
    feeds = load_catalog(str(SHIPPED)).feeds
    assert len(ISO_3166_ALPHA_2) == 249
    assert len(ISO_639_1) == 183
    assert [
        (f.url, f.country) for f in feeds if f.country is not None and f.country not in ISO_3166_ALPHA_2
    ] == []
    assert [(f.url, f.language) for f in feeds if f.language is None or f.language not in ISO_639_1] == []
    assert sum(f.country is not None for f in feeds) >= len(feeds) - 1  # UN News is international


# --- OPML import -------------------------------------------------------------------------------


def test_a_feed_reader_export_imports_its_feeds_at_any_depth():
    feeds, skipped = import_opml((OPML / "reader_export.opml").read_bytes())

    bbc = FeedSpec(url="https://feeds.bbci.co.uk/news/world/rss.xml", name="BBC News - World")
    expected = (
        bbc,  # `title` wins over the short `text`
        FeedSpec(
            url="https://www.aljazeera.com/xml/rss/all.xml",
            name="Al Jazeera English",
            tags=("World/Middle East", "wire"),  # OPML categories are /-paths
        ),
        FeedSpec(url="https://en.yna.co.kr/RSS/news.xml", name="Yonhap News Agency", tags=("korea", "asia")),
        FeedSpec(url="https://www.nknews.org/feed/", name="NK News & Analysis"),
        FeedSpec(url="https://www.38north.org/feed/", name="38 North"),
        # Nothing names it: the URL does.
        FeedSpec(url="https://www.theguardian.com/world/rss", name="https://www.theguardian.com/world/rss"),
        FeedSpec(url="https://meduza.io/rss/en/all", name="Meduza - English"),  # lower-case xmlurl
    )
    # The same feed filed under two folders comes back twice; adding to a catalog keeps one.
    assert [f.url for f in feeds].count(bbc.url) == 2
    catalog, added = with_feeds(FeedCatalog(), feeds)
    assert catalog.feeds == expected
    assert added == [f.url for f in expected]
    assert skipped == ["outline 'Broken export': only http(s) feeds are imported, got 'rss.xml'"]


def test_bad_wirewatch_fields_skip_the_outline_with_a_reason():
    data = (
        b'<?xml version="1.0"?><opml version="2.0" xmlns:ww="urn:wirewatch"><body>'
        b'<outline type="rss" text="Lower-case country" xmlUrl="https://a.example/rss" ww:country="gb"/>'
        b'<outline type="rss" text="Interval" xmlUrl="https://b.example/rss" ww:poll_interval_s="soon"/>'
        b'<outline type="rss" text="Fine" xmlUrl="https://c.example/rss" ww:reliability="B"/>'
        b"</body></opml>"
    )
    feeds, skipped = import_opml(data)
    assert feeds == [FeedSpec(url="https://c.example/rss", name="Fine", reliability="B")]
    assert skipped == [
        "outline 'Lower-case country': country: String should match pattern '^[A-Z]{2}$'",
        "outline 'Interval': poll_interval_s: Input should be a valid integer, unable to parse string as an "
        "integer",
    ]


# What OPML carries between feed readers: web feeds. Local files and private-address permission
# stay with the catalog's owner (an imported OPML file could come from anyone).
PORTABLE = FeedCatalog(
    feeds=tuple(
        feed.model_copy(update={"allow_private": False}) for feed in FULL.feeds if feed.url.startswith("http")
    )
)


def test_export_then_import_gives_the_same_catalog():
    data = export_opml(PORTABLE)
    feeds, skipped = import_opml(data)
    assert (tuple(feeds), skipped) == (PORTABLE.feeds, [])


def test_import_refuses_local_files_and_private_address_permission():
    feeds, skipped = import_opml(export_opml(FULL))
    assert tuple(feeds) == PORTABLE.feeds
    assert skipped == [
        "outline 'Local file': only http(s) feeds are imported, got 'file:///srv/feeds/local.xml'",
        "outline 'Absolute path': only http(s) feeds are imported, got '/srv/feeds/abs.xml'",
    ]


def test_export_keeps_wirewatch_fields_as_ww_attributes():
    data = export_opml(FULL)
    text = data.decode("utf-8")
    assert text.startswith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0" xmlns:ww="urn:wirewatch">'
    )
    # Feed readers see the standard attributes; Wirewatch's own fields ride along as ww:*.
    assert (
        '<outline type="rss" text="yes" title="yes" xmlUrl="http://127.0.0.1:8080/feed.xml?a=1&amp;b=2" '
        'ww:reliability="F" ww:enabled="false" ww:allow_private="true" />'
    ) in text
    assert 'category="norway,nordics/world,état"' in text


def test_an_exported_catalog_reimports_after_a_save_and_load(tmp_path: pathlib.Path):
    path = str(tmp_path / "feeds.yaml")
    save_catalog(path, PORTABLE)
    feeds, _ = import_opml(export_opml(load_catalog(path)))
    restored = str(tmp_path / "restored.yaml")
    save_catalog(restored, with_feeds(FeedCatalog(), feeds)[0])
    assert pathlib.Path(restored).read_text(encoding="utf-8") == pathlib.Path(path).read_text(
        encoding="utf-8"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<rss version='2.0'><channel/></rss>", "not an OPML file: the root element is <rss>"),
        (b"<opml><body>", "not a usable OPML file: no element found: line 1, column 12"),
        (b"", "not a usable OPML file: no element found: line 1, column 0"),
    ],
    ids=["rss", "truncated", "empty"],
)
def test_a_file_that_is_not_opml_is_refused(data: bytes, message: str):
    assert config_error(lambda: import_opml(data)) == message


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<opml version="2.0"><body><outline type="rss" text="&lol9;" xmlUrl="https://a.example/rss"/></body></opml>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline type="rss" text="&secret;" xmlUrl="https://a.example/rss"/></body></opml>
"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            BILLION_LAUGHS,
            "not a usable OPML file: EntitiesForbidden(name='lol', system_id=None, public_id=None)",
        ),
        (
            EXTERNAL_ENTITY,
            "not a usable OPML file: EntitiesForbidden(name='secret', system_id='file:///etc/passwd', "
            "public_id=None)",
        ),
    ],
    ids=["billion-laughs", "external-entity"],
)
def test_entity_declarations_are_refused_not_expanded(data: bytes, message: str):
    assert config_error(lambda: import_opml(data)) == message
