"""canonical_url: one spelling per article link."""

from __future__ import annotations

import re
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from schemas.urls import canonical_url

# The shared captures are found (and skipped outside CI when absent) the way the feed corpus test does.
from tests.connectors.test_feed_corpus import MISSING, NEWS, _names, _require

SHAPES = [
    pytest.param("HTTPS://Example.COM/News/Item", "https://example.com/News/Item", id="case"),
    pytest.param("https://example.com:443/a", "https://example.com/a", id="https-default-port"),
    # Changed: http on its default port is now the https URL (see test_canonical_url_scheme).
    pytest.param("http://example.com:80/a", "https://example.com/a", id="http-default-port"),
    pytest.param("https://example.com:8443/a", "https://example.com:8443/a", id="other-port-kept"),
    pytest.param("http://example.com:443/a", "http://example.com:443/a", id="https-port-on-http-kept"),
    pytest.param("https://example.com/a#comments", "https://example.com/a", id="fragment"),
    pytest.param("https://example.com/a?id=5#top", "https://example.com/a?id=5", id="fragment-after-query"),
    pytest.param("https://example.com", "https://example.com/", id="empty-path"),
    pytest.param("https://example.com?id=1", "https://example.com/?id=1", id="empty-path-with-query"),
    pytest.param("https://example.com./a", "https://example.com/a", id="trailing-dot-host"),
    pytest.param("  https://example.com/a \n", "https://example.com/a", id="surrounding-space"),
    pytest.param("https://user:secret@example.com/a", "https://example.com/a", id="credentials-dropped"),
    pytest.param("https://user@Example.com:443/a", "https://example.com/a", id="user-and-port"),
    # Changed: a trailing slash is now dropped (see test_canonical_url_path).
    pytest.param("https://example.com/a/", "https://example.com/a", id="trailing-slash-dropped"),
    pytest.param("https://example.com/a?", "https://example.com/a", id="empty-query"),
    pytest.param("https://example.com/a?#x", "https://example.com/a", id="empty-query-and-fragment"),
    pytest.param("https://example.com/a?&&", "https://example.com/a", id="only-separators"),
]


@pytest.mark.parametrize(("url", "expected"), SHAPES)
def test_canonical_url_shape(url, expected):
    assert canonical_url(url) == expected


TRACKING = [
    pytest.param(
        "https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x",
        "https://example.com/a",
        id="utm-only",
    ),
    # Changed: the pairs that stay are now sorted by name (see test_canonical_url_query_order).
    pytest.param(
        "https://example.com/a?b=2&utm_source=rss&a=1&fbclid=XyZ&c=3&gclid=abc",
        "https://example.com/a?a=1&b=2&c=3",
        id="others-kept-sorted",
    ),
    pytest.param(
        "https://example.com/a?UTM_Source=rss&FBCLID=1&id=9",
        "https://example.com/a?id=9",
        id="tracking-names-any-case",
    ),
    pytest.param(
        "https://example.com/a?page=2&page=3&utm_term=x",
        "https://example.com/a?page=2&page=3",
        id="repeated-param",
    ),
    pytest.param(
        "https://example.com/a?utmost=1&gclid_x=2",
        "https://example.com/a?gclid_x=2&utmost=1",
        id="lookalikes-kept",
    ),
    pytest.param(
        "https://example.com/a?flag=&id=7",
        "https://example.com/a?flag=&id=7",
        id="blank-value-kept",
    ),
    pytest.param(
        "https://example.com/a?mc_cid=1&mc_eid=2&msclkid=3&q=x",
        "https://example.com/a?q=x",
        id="other-trackers",
    ),
    pytest.param(
        "https://example.com/a?id&r=x/y&utm_source=rss",
        "https://example.com/a?id&r=x/y",
        id="raw-pairs-not-re-encoded",
    ),
    pytest.param(
        "https://example.com/a?x=1;y=2&fbclid=abc",
        "https://example.com/a?x=1;y=2",
        id="semicolons-kept",
    ),
    pytest.param(
        "https://example.com/a?utm%5Fsource=rss&q=1",
        "https://example.com/a?q=1",
        id="encoded-tracking-name",
    ),
]


@pytest.mark.parametrize(("url", "expected"), TRACKING)
def test_canonical_url_tracking_parameters(url, expected):
    assert canonical_url(url) == expected


# One real-looking pair per tracking parameter, by family: each must go, and `id=7` must stay.
TRACKING_PAIRS = {
    "google-analytics-utm": [
        "utm_source=rss",
        "utm_medium=feed",
        "utm_campaign=world",
        "utm_term=iran",
        "utm_content=main",
        "utm_id=123",
        "UTM_SOURCE=Twitter",
        "Utm_Medium=social",
    ],
    "google-analytics-linker": ["_ga=2.1234.5678-90", "_gl=1*abc*_ga*MTIz"],
    "ad-click-ids": [
        "fbclid=IwAR2xyz",
        "gclid=Cj0KCQiA",
        "gclsrc=aw.ds",
        "dclid=CJ3r",
        "gbraid=0AAAAA",
        "wbraid=CjkKCQ",
        "msclkid=5b1c2d",
        "yclid=12345",
        "ysclid=lq1w2e3r",
        "twclid=2-abc",
        "ttclid=E.C.P.abc",
        "tblci=GiA1",
        "dicbo=v2-abc",
    ],
    "share-ids": [
        "igshid=MzRlODBiNWFlZA==",
        "igsh=MWQ1ZGUxMzBkMA==",
        "mibextid=Zxz2cZ",
        "ref_src=twsrc%5Etfw",
        "ref_url=https%3A%2F%2Ftwitter.com%2F",
        "smid=tw-nytimes",
        "smtyp=cur",
        "sr_share=facebook",
        "share=twitter",
        "taid=65a1b2c3",
    ],
    "email-marketing": ["mc_cid=a1b2c3", "mc_eid=d4e5f6", "mkt_tok=eyJpIjoi", "_hsenc=p2ANqtz", "_hsmi=2"],
    "hubspot-and-twitter": ["__hstc=1.2.3", "__hssc=1.2", "__hsfp=123", "__twitter_impression=true"],
    "matomo-and-webtrends": ["pk_campaign=rss", "pk_kwd=world", "mtm_source=newsletter", "WT.mc_id=rss"],
    "at-internet": [
        "at_medium=RSS",
        "at_campaign=rss",
        "at_custom1=link",
        "at_format=link",
        "at_link_id=abc",
        "at_ptr_name=twitter",
        "at_bbc_team=editorial",
        "xtor=RSS-3208",
    ],
    "comscore": ["ns_campaign=news", "ns_mchannel=rss", "ns_source=feed", "ns_linkname=x", "ns_fee=0"],
    "publisher-campaigns": [
        "CMP=share_btn_tw",
        "cmp=Share_iOSApp_Other",
        "cmpid=rss",
        "icid=rss",
        "ito=792",
        "ocid=msedgntp",
        "ncid=facebook",
        "s_cid=rss",
        "spm=a2g0o.home.0",
        "traffic_source=rss",
    ],
    "yahoo-consent": ["guccounter=1", "guce_referrer=aHR0cHM6Ly93", "guce_referrer_sig=AQAAA"],
    "amp-viewer": [
        "usqp=mq331AQFKAGwASA=",
        "amp_js_v=0.1",
        "_js_v=0.1",
        "amp_gsa=1",
        "amp_ct=1700000000000",
        "amp_tf=From %251%24s",
        "amp_r=https%3A%2F%2Fwww.google.com",
        "__amp_source_origin=https%3A%2F%2Fexample.com",
    ],
}


@pytest.mark.parametrize(
    "pair",
    [pytest.param(pair, id=f"{family}:{pair}") for family, pairs in TRACKING_PAIRS.items() for pair in pairs],
)
def test_canonical_url_drops_each_tracking_parameter(pair):
    expected = "https://example.com/news/world-123?id=7"
    assert canonical_url(f"https://example.com/news/world-123?{pair}&id=7") == expected
    assert canonical_url(f"https://example.com/news/world-123?id=7&{pair}") == expected
    assert canonical_url(f"https://example.com/news/world-123?{pair}") == "https://example.com/news/world-123"


def test_canonical_url_drops_every_tracking_family_at_once():
    url = "https://www.example.com/news/world-123?" + "&".join(
        p for ps in TRACKING_PAIRS.values() for p in ps
    )
    assert canonical_url(url) == "https://example.com/news/world-123"


@pytest.mark.parametrize(
    "pair",
    [
        # These name the article, a page of it, or its language on some site.
        "id=7",
        "p=7379272",
        "t=1771374614",
        "story=123",
        "storyId=1004",
        "articleid=998877",
        "article_id=5",
        "page=2",
        "cid=42",
        "ref=2024-017",
        "source=reuters",
        "lang=fr",
        "q=iran",
        "sid=9",
        "nid=3",
        "v=dQw4w9WgXcQ",
        "mc_id=1",  # only Mailchimp's two names go, not every mc_ parameter
        "shared=1",
        "ampm=pm",
        "amp=0",
        "outputType=print",
        "camp=summer",
        "format=amp-story",
    ],
)
def test_canonical_url_keeps_content_parameters(pair):
    assert canonical_url(f"https://example.com/a?{pair}") == f"https://example.com/a?{pair}"
    assert (
        canonical_url(f"https://example.com/a?utm_source=rss&{pair}&fbclid=x")
        == f"https://example.com/a?{pair}"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2", id="two"),
        pytest.param("https://example.com/a?c=3&a=1&b=2", "https://example.com/a?a=1&b=2&c=3", id="three"),
        pytest.param(
            "https://example.com/a?page=3&a=1&page=2",
            "https://example.com/a?a=1&page=3&page=2",
            id="repeated-names-keep-their-order",
        ),
        pytest.param(
            "https://example.com/a?b&a=", "https://example.com/a?a=&b", id="no-value-and-blank-value"
        ),
        pytest.param("https://example.com/a?B=1&a=2", "https://example.com/a?B=1&a=2", id="by-code-point"),
        pytest.param(
            "https://example.com/a?z%5Fb=1&z_a=2", "https://example.com/a?z_a=2&z%5Fb=1", id="by-decoded-name"
        ),
    ],
)
def test_canonical_url_query_order(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_query_order_does_not_matter():
    variants = [
        "https://www.npr.org/templates/story/story.php?storyId=1004&ft=nprml&f=1004",
        "https://www.npr.org/templates/story/story.php?f=1004&storyId=1004&ft=nprml",
        "https://www.npr.org/templates/story/story.php?ft=nprml&utm_source=x&f=1004&storyId=1004",
    ]
    assert {canonical_url(v) for v in variants} == {
        "https://npr.org/templates/story/story.php?f=1004&ft=nprml&storyId=1004"
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://example.com/a", "https://example.com/a", id="http"),
        pytest.param("HTTP://example.com/a", "https://example.com/a", id="upper-case-http"),
        pytest.param("https://example.com/a", "https://example.com/a", id="https"),
        pytest.param("http://example.com:80/a", "https://example.com/a", id="http-port-80"),
        # An explicit other port belongs to its scheme: http://host:8080 is not https://host:8080.
        pytest.param("http://example.com:8080/a", "http://example.com:8080/a", id="http-other-port"),
        pytest.param("http://example.com:443/a", "http://example.com:443/a", id="http-port-443"),
        pytest.param("https://example.com:80/a", "https://example.com:80/a", id="https-port-80"),
    ],
)
def test_canonical_url_scheme(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_http_and_https_are_one_article():
    # en.mercopress.com's feed gives its home page both ways.
    assert canonical_url("http://en.mercopress.com/") == canonical_url("https://en.mercopress.com/")
    assert canonical_url("http://abcnews.com") == canonical_url("https://abcnews.com/")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://www.example.com/a", "https://example.com/a", id="www"),
        pytest.param("https://WWW.Example.com/a", "https://example.com/a", id="www-upper-case"),
        pytest.param("https://m.example.com/a", "https://example.com/a", id="m"),
        pytest.param("https://mobile.example.com/a", "https://example.com/a", id="mobile"),
        pytest.param("https://amp.example.com/a", "https://example.com/a", id="amp"),
        pytest.param("https://www.m.example.com/a", "https://example.com/a", id="www-then-m"),
        pytest.param("https://m.www.example.com/a", "https://example.com/a", id="m-then-www"),
        pytest.param("https://www.example.com./a", "https://example.com/a", id="www-and-trailing-dot"),
        pytest.param("https://m.bbc.co.uk/news/world-123", "https://bbc.co.uk/news/world-123", id="m-co-uk"),
        pytest.param(
            "https://amp.theguardian.com/world/x", "https://theguardian.com/world/x", id="amp-guardian"
        ),
        pytest.param(
            "https://mobile.nytimes.com/2024/a.html", "https://nytimes.com/2024/a.html", id="mobile-nyt"
        ),
        pytest.param("https://www.example.com:8443/a", "https://example.com:8443/a", id="www-with-port"),
        # Left alone: fewer than two labels would remain, or only a public suffix would.
        pytest.param("https://m.co/a", "https://m.co/a", id="m-co"),
        pytest.param("https://www.com/a", "https://www.com/a", id="www-com"),
        pytest.param("https://amp.dev/a", "https://amp.dev/a", id="amp-dev"),
        pytest.param("https://m.co.uk/a", "https://m.co.uk/a", id="m-public-suffix"),
        pytest.param("https://amp.com.au/a", "https://amp.com.au/a", id="amp-public-suffix"),
        pytest.param("https://www.gov.uk/a", "https://www.gov.uk/a", id="www-gov-uk"),
        # Left alone: only these exact leading labels.
        pytest.param("https://www2.example.com/a", "https://www2.example.com/a", id="www2"),
        pytest.param("https://mob.example.com/a", "https://mob.example.com/a", id="mob"),
        pytest.param("https://amp-cdn.example.com/a", "https://amp-cdn.example.com/a", id="amp-cdn"),
        pytest.param("https://news.m.example.com/a", "https://news.m.example.com/a", id="m-not-leading"),
        pytest.param("https://feeds.bbci.co.uk/news", "https://feeds.bbci.co.uk/news", id="other-subdomain"),
        # IP addresses have no labels to strip.
        pytest.param("http://127.0.0.1/a", "https://127.0.0.1/a", id="ipv4"),
        pytest.param("http://10.0.0.1:8080/a", "http://10.0.0.1:8080/a", id="ipv4-port"),
    ],
)
def test_canonical_url_host(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://www.bbc.co.uk/news/world-123.amp", "https://bbc.co.uk/news/world-123", id="dot-amp"
        ),
        pytest.param(
            "https://example.com/a/page.amp.html", "https://example.com/a/page.html", id="dot-amp-html"
        ),
        pytest.param(
            "https://example.com/2024/01/slug/amp", "https://example.com/2024/01/slug", id="amp-segment"
        ),
        pytest.param(
            "https://example.com/2024/01/slug/amp/", "https://example.com/2024/01/slug", id="amp-slash"
        ),
        pytest.param("https://example.com/slug/amp//", "https://example.com/slug", id="amp-slashes"),
        pytest.param("https://example.com/slug/amp/amp", "https://example.com/slug", id="amp-twice"),
        pytest.param("https://example.com/slug.amp.amp", "https://example.com/slug", id="dot-amp-twice"),
        pytest.param("https://example.com/slug/?amp", "https://example.com/slug", id="query-amp"),
        pytest.param("https://example.com/slug/?amp=1", "https://example.com/slug", id="query-amp-1"),
        pytest.param("https://example.com/slug/?amp=true", "https://example.com/slug", id="query-amp-true"),
        pytest.param(
            "https://example.com/slug?amp=&id=2", "https://example.com/slug?id=2", id="query-amp-blank"
        ),
        pytest.param(
            "https://www.washingtonpost.com/world/2025/11/12/us-strikes-caribbean-pacific/?outputType=amp",
            "https://washingtonpost.com/world/2025/11/12/us-strikes-caribbean-pacific",
            id="query-outputtype-amp",
        ),
        pytest.param(
            "https://example.com/slug?OutputType=AMP", "https://example.com/slug", id="outputtype-case"
        ),
        pytest.param(
            "https://amp.example.com/news/world-123.amp?amp=1&utm_source=x",
            "https://example.com/news/world-123",
            id="every-amp-marker",
        ),
        # Left alone: not an AMP marker, or nothing would be left of the path.
        pytest.param("https://example.com/amp", "https://example.com/amp", id="root-amp-section"),
        pytest.param("https://example.com/amp/", "https://example.com/amp", id="root-amp-section-slash"),
        pytest.param("https://example.com/slug/AMP", "https://example.com/slug/AMP", id="upper-case-segment"),
        pytest.param("https://example.com/a/amp/b", "https://example.com/a/amp/b", id="amp-in-the-middle"),
        pytest.param("https://example.com/news/camp", "https://example.com/news/camp", id="camp"),
        pytest.param("https://example.com/news/ampere", "https://example.com/news/ampere", id="ampere"),
        pytest.param("https://example.com/news/x-amp", "https://example.com/news/x-amp", id="dash-amp"),
        pytest.param("https://example.com/a/.amp", "https://example.com/a/.amp", id="bare-dot-amp"),
        pytest.param(
            "https://example.com/a/.amp.html", "https://example.com/a/.amp.html", id="bare-dot-amp-html"
        ),
        pytest.param("https://example.com/a.ampx", "https://example.com/a.ampx", id="dot-ampx"),
        pytest.param("https://example.com/a?amp=0", "https://example.com/a?amp=0", id="query-amp-0"),
        pytest.param(
            "https://example.com/a?outputType=print", "https://example.com/a?outputType=print", id="print"
        ),
    ],
)
def test_canonical_url_amp(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/path",
            "https://example.com/path",
            id="cache-https-origin",
        ),
        pytest.param(
            "https://www-bbc-co-uk.cdn.ampproject.org/c/s/www.bbc.co.uk/news/world-123.amp",
            "https://bbc.co.uk/news/world-123",
            id="cache-bbc-amp-page",
        ),
        pytest.param(
            "https://example-com.cdn.ampproject.org/c/example.com/2024/01/slug/amp/",
            "https://example.com/2024/01/slug",
            id="cache-http-origin",
        ),
        pytest.param(
            "https://www-example-com.cdn.ampproject.org/v/s/www.example.com/a/b.amp.html?amp_js_v=0.1&usqp=mq331AQ",
            "https://example.com/a/b.html",
            id="cache-viewer-with-viewer-params",
        ),
        pytest.param(
            "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/story.php?storyId=5&amp=1#frag",
            "https://example.com/story.php?storyId=5",
            id="cache-origin-query-kept",
        ),
        pytest.param(
            "https://www.google.com/amp/s/www.example.com/news/world-123.amp",
            "https://example.com/news/world-123",
            id="google-amp-viewer",
        ),
        pytest.param(
            "http://google.com/amp/m.example.com/a/amp",
            "https://example.com/a",
            id="google-amp-viewer-http-origin",
        ),
        # Left alone: not a document (images), or no publisher host in the path.
        pytest.param(
            "https://www-example-com.cdn.ampproject.org/i/s/www.example.com/img.jpg",
            "https://www-example-com.cdn.ampproject.org/i/s/www.example.com/img.jpg",
            id="cache-image",
        ),
        pytest.param(
            "https://www-example-com.cdn.ampproject.org/c/s/",
            "https://www-example-com.cdn.ampproject.org/c/s",
            id="cache-no-host",
        ),
        pytest.param(
            "https://www-example-com.cdn.ampproject.org/c/s/not_a_host/a",
            "https://www-example-com.cdn.ampproject.org/c/s/not_a_host/a",
            id="cache-bad-host",
        ),
        pytest.param(
            "https://cdn.ampproject.org/v0.js", "https://cdn.ampproject.org/v0.js", id="amp-runtime-script"
        ),
        pytest.param("https://www.google.com/amp/", "https://google.com/amp", id="google-amp-no-host"),
        pytest.param(
            "https://www.google.com/search?q=amp", "https://google.com/search?q=amp", id="google-search"
        ),
    ],
)
def test_canonical_url_amp_cache(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_every_amp_spelling_is_the_article():
    variants = [
        "https://www.bbc.co.uk/news/world-123",
        "http://www.bbc.co.uk/news/world-123",
        "https://www.bbc.co.uk/news/world-123.amp",
        "https://m.bbc.co.uk/news/world-123",
        "https://amp.bbc.co.uk/news/world-123/amp/",
        "https://www.bbc.co.uk/news/world-123/?amp=1&at_medium=RSS&at_campaign=rss",
        "https://www-bbc-co-uk.cdn.ampproject.org/c/s/www.bbc.co.uk/news/world-123.amp",
        "https://www.google.com/amp/s/www.bbc.co.uk/news/world-123.amp",
    ]
    assert {canonical_url(v) for v in variants} == {"https://bbc.co.uk/news/world-123"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://example.com/a/b/", "https://example.com/a/b", id="trailing-slash"),
        pytest.param("https://example.com/a/b//", "https://example.com/a/b", id="trailing-slashes"),
        pytest.param("https://example.com/", "https://example.com/", id="root-kept"),
        pytest.param("https://example.com//", "https://example.com/", id="root-double-slash"),
        pytest.param("https://example.com//a//b", "https://example.com/a/b", id="duplicate-slashes"),
        pytest.param(
            "https://example.com/a///b/?x=1", "https://example.com/a/b?x=1", id="slashes-before-query"
        ),
        pytest.param(
            "https://example.com/News/Kim-Putin", "https://example.com/News/Kim-Putin", id="case-kept"
        ),
        pytest.param("https://example.com/a%2fb", "https://example.com/a%2Fb", id="escape-upper-cased"),
        pytest.param(
            "https://example.com/a%2Fb", "https://example.com/a%2Fb", id="encoded-slash-not-decoded"
        ),
        pytest.param(
            "https://example.com/%7euser", "https://example.com/%7Euser", id="unreserved-not-decoded"
        ),
        pytest.param(
            "https://japantoday.com/category/world/iran%e2%80%99s-top",
            "https://japantoday.com/category/world/iran%E2%80%99s-top",
            id="utf8-escapes-upper-cased",
        ),
        pytest.param("https://example.com/100%", "https://example.com/100%", id="stray-percent-kept"),
        pytest.param("https://example.com/a%2", "https://example.com/a%2", id="short-escape-kept"),
        pytest.param("https://example.com/caf\u00e9", "https://example.com/caf%C3%A9", id="iri-path"),
        pytest.param("https://example.com/a b", "https://example.com/a%20b", id="space-in-path"),
        pytest.param(
            "https://example.com/s?q=caf\u00e9&x=%c3%a9",
            "https://example.com/s?q=caf%C3%A9&x=%C3%A9",
            id="iri-query",
        ),
        pytest.param(
            "https://example.com/s?q=a%2fb", "https://example.com/s?q=a%2Fb", id="query-escape-upper"
        ),
        pytest.param("https://example.com/s?q=a+b", "https://example.com/s?q=a+b", id="plus-kept"),
        pytest.param("https://example.com/a/./b", "https://example.com/a/./b", id="dot-segment-kept"),
    ],
)
def test_canonical_url_path(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_iri_and_uri_are_one_article():
    assert canonical_url("https://example.com/news/\u00fcber-uns") == canonical_url(
        "https://example.com/news/%c3%bcber-uns"
    )


# Real link shapes from the news RSS feeds, copied literally (test_real_links_are_in_the_captures checks
# that each one is still in a capture).
REAL_LINKS = [
    pytest.param(
        "https://www.ndtv.com/world-news/iran-temporarily-closes-strait-of-hormuz-amid-us-nuclear-talks-11051442#publisher=newsstand",
        "https://ndtv.com/world-news/iran-temporarily-closes-strait-of-hormuz-amid-us-nuclear-talks-11051442",
        id="ndtv-guid-fragment",
    ),
    pytest.param("https://www.ndtv.com/", "https://ndtv.com/", id="ndtv-home"),
    pytest.param(
        "https://www.cbsnews.com/news/us-iran-talks-geneva-trump-military-threat/",
        "https://cbsnews.com/news/us-iran-talks-geneva-trump-military-threat",
        id="cbsnews-news",
    ),
    pytest.param(
        "https://www.cbsnews.com/video/the-crying-horse-toy-taking-over-chinas-internet/",
        "https://cbsnews.com/video/the-crying-horse-toy-taking-over-chinas-internet",
        id="cbsnews-video",
    ),
    pytest.param(
        "https://restofworld.org/2026/ai-memory-chip-explainer/?utm_source=rss&utm_medium=rss&utm_campaign=feeds",
        "https://restofworld.org/2026/ai-memory-chip-explainer",
        id="restofworld-utm",
    ),
    pytest.param(
        "https://restofworld.org/2026/polymarket-china-betting-ban/",
        "https://restofworld.org/2026/polymarket-china-betting-ban",
        id="restofworld-guid",
    ),
    pytest.param("https://restofworld.org", "https://restofworld.org/", id="restofworld-bare-host"),
    pytest.param(
        "https://theweek.com/world-news/increasing-tensions-iran-war-us",
        "https://theweek.com/world-news/increasing-tensions-iran-war-us",
        id="theweek-unchanged",
    ),
    pytest.param(
        "https://www.bbc.com/news/articles/cze0dk3yd5eo?at_medium=RSS&at_campaign=rss",
        "https://bbc.com/news/articles/cze0dk3yd5eo",
        id="bbc-at-internet-params",
    ),
    pytest.param(
        "https://www.bbc.com/news/articles/cze0dk3yd5eo#0",
        "https://bbc.com/news/articles/cze0dk3yd5eo",
        id="bbc-guid-fragment",
    ),
    pytest.param(
        "https://www.bbc.com/news/videos/c39wvr1nv2no?at_medium=RSS&at_campaign=rss",
        "https://bbc.com/news/videos/c39wvr1nv2no",
        id="bbc-video",
    ),
    pytest.param("https://www.bbc.co.uk/news/world", "https://bbc.co.uk/news/world", id="bbc-co-uk-section"),
    pytest.param(
        "https://feeds.bbci.co.uk/news/world/rss.xml",
        "https://feeds.bbci.co.uk/news/world/rss.xml",
        id="bbc-feed-self",
    ),
    pytest.param(
        "https://japantoday.com/category/world/iran%E2%80%99s-top-diplomat-to-attend-%27indirect%27-talks-with-us-in-geneva-state-run-irna-news-agency-says1",
        "https://japantoday.com/category/world/iran%E2%80%99s-top-diplomat-to-attend-%27indirect%27-talks-with-us-in-geneva-state-run-irna-news-agency-says1",
        id="japantoday-percent-encoded-path",
    ),
    pytest.param(
        "https://japantoday.com/category/world/hezbollah-rejects-disarmament-plan-and-government%27s-four-month-timeline",
        "https://japantoday.com/category/world/hezbollah-rejects-disarmament-plan-and-government%27s-four-month-timeline",
        id="japantoday-apostrophe",
    ),
    pytest.param(
        "https://www.aljazeera.com/news/2026/2/18/stephen-colbert-says-cbs-barred-his-interview-with-texas-senate-candidate?traffic_source=rss",
        "https://aljazeera.com/news/2026/2/18/stephen-colbert-says-cbs-barred-his-interview-with-texas-senate-candidate",
        id="aljazeera-traffic-source",
    ),
    pytest.param(
        "https://www.aljazeera.com/?t=1771374614",
        "https://aljazeera.com/?t=1771374614",
        id="aljazeera-guid-query-kept",
    ),
    pytest.param("https://www.aljazeera.com", "https://aljazeera.com/", id="aljazeera-bare-host"),
    pytest.param(
        "https://www.csmonitor.com/USA/Politics/2026/0217/jesse-jackson-appreciation?icid=rss",
        "https://csmonitor.com/USA/Politics/2026/0217/jesse-jackson-appreciation",
        id="csmonitor-icid",
    ),
    pytest.param(
        "https://rss.csmonitor.com/feeds/all", "https://rss.csmonitor.com/feeds/all", id="csmonitor-feed-self"
    ),
    pytest.param(
        "http://online.wsj.com/page/2_0006.html",
        "https://online.wsj.com/page/2_0006.html",
        id="wsj-http",
    ),
    pytest.param(
        "https://www.wsj.com/articles/hamas-hostages-israel-gaza-41432124",
        "https://wsj.com/articles/hamas-hostages-israel-gaza-41432124",
        id="wsj-article",
    ),
    pytest.param(
        "https://www.washingtonpost.com/national-security/2026/02/17/china-nuclear-test-trump/",
        "https://washingtonpost.com/national-security/2026/02/17/china-nuclear-test-trump",
        id="washingtonpost-guid",
    ),
    pytest.param(
        "https://www.washingtonpost.com/arcio/rss/",
        "https://washingtonpost.com/arcio/rss",
        id="washingtonpost-feed-self",
    ),
    pytest.param(
        "https://www.abc.net.au/news/2026-02-18/economist-gary-stevenson-warns-australia-losing-the-fair-go/106342536",
        "https://abc.net.au/news/2026-02-18/economist-gary-stevenson-warns-australia-losing-the-fair-go/106342536",
        id="abc-au",
    ),
    pytest.param(
        "https://time.com/7379272/spain-x-elon-musk-grok-ai-meta-tiktok-investigation-sexualized-deepfakes-children/",
        "https://time.com/7379272/spain-x-elon-musk-grok-ai-meta-tiktok-investigation-sexualized-deepfakes-children",
        id="time-article",
    ),
    pytest.param("https://time.com/?p=7379272", "https://time.com/?p=7379272", id="time-guid-p-kept"),
    pytest.param("https://time.com/tech/feed/", "https://time.com/tech/feed", id="time-feed-self"),
    pytest.param(
        "https://allafrica.com/stories/202602170434.html",
        "https://allafrica.com/stories/202602170434.html",
        id="allafrica-unchanged",
    ),
    pytest.param("https://allafrica.com/latest/", "https://allafrica.com/latest", id="allafrica-section"),
    pytest.param(
        "https://english.elpais.com/usa/2026-02-17/the-future-of-many-cubans-in-the-us-depends-on-a-long-legal-saga.html",
        "https://english.elpais.com/usa/2026-02-17/the-future-of-many-cubans-in-the-us-depends-on-a-long-legal-saga.html",
        id="elpais-unchanged",
    ),
    pytest.param(
        "https://www.npr.org/templates/story/story.php?storyId=1004",
        "https://npr.org/templates/story/story.php?storyId=1004",
        id="npr-story-id-kept",
    ),
    pytest.param(
        "https://www.npr.org/2026/02/17/nx-s1-5716046/u-s-releases-new-details-on-alleged-secret-chinese-nuclear-test",
        "https://npr.org/2026/02/17/nx-s1-5716046/u-s-releases-new-details-on-alleged-secret-chinese-nuclear-test",
        id="npr-article",
    ),
    pytest.param("https://www.boston.com/?p=34865360", "https://boston.com/?p=34865360", id="boston-guid"),
    pytest.param(
        "https://www.boston.com/news/politics/2026/02/16/obama-shuts-down-alien-buzz-and-says-theres-no-evidence-theyve-made-contact/",
        "https://boston.com/news/politics/2026/02/16/obama-shuts-down-alien-buzz-and-says-theres-no-evidence-theyve-made-contact",
        id="boston-article",
    ),
    pytest.param(
        "https://en.mercopress.com/2026/02/18/argentina-clears-us-oceanographic-cruise-in-the-south-atlantic-as-debate-grows-over-dual-use-data?utm_source=feed&utm_medium=rss&utm_content=main&utm_campaign=rss",
        "https://en.mercopress.com/2026/02/18/argentina-clears-us-oceanographic-cruise-in-the-south-atlantic-as-debate-grows-over-dual-use-data",
        id="mercopress-utm",
    ),
    pytest.param("http://en.mercopress.com/", "https://en.mercopress.com/", id="mercopress-http-home"),
    pytest.param("http://abcnews.com", "https://abcnews.com/", id="abcnews-http-bare-host"),
    pytest.param(
        "https://abcnews.com/International/wireStory/takaichi-reappointed-japans-prime-minister-goal-pushing-130251191",
        "https://abcnews.com/International/wireStory/takaichi-reappointed-japans-prime-minister-goal-pushing-130251191",
        id="abcnews-unchanged",
    ),
]


@pytest.mark.parametrize(("url", "expected"), REAL_LINKS)
def test_canonical_url_real_feed_links(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_same_article_same_spelling():
    variants = [
        "https://restofworld.org/2026/morocco-ai-minister/?utm_source=rss&utm_medium=rss&utm_campaign=feeds",
        "https://RestOfWorld.org:443/2026/morocco-ai-minister/#comments",
        "HTTPS://restofworld.org/2026/morocco-ai-minister/?fbclid=abc",
        "http://www.restofworld.org/2026/morocco-ai-minister",
        "https://restofworld.org//2026/morocco-ai-minister/amp/",
    ]
    assert {canonical_url(v) for v in variants} == {"https://restofworld.org/2026/morocco-ai-minister"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://[::1]:8080/a", "http://[::1]:8080/a", id="loopback-with-port"),
        pytest.param("https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a", id="default-port"),
        pytest.param("http://[::1]/a", "https://[::1]/a", id="http-no-port"),
        pytest.param("http://[2001:db8::1]:80/a/", "https://[2001:db8::1]/a", id="http-default-port"),
        pytest.param("https://[2001:db8::1]:8443/a", "https://[2001:db8::1]:8443/a", id="https-other-port"),
        pytest.param("https://[::ffff:192.0.2.1]/a", "https://[::ffff:192.0.2.1]/a", id="ipv4-mapped"),
    ],
)
def test_canonical_url_keeps_ipv6_brackets(url, expected):
    # Without the brackets the host's colons read as a port: the result is no longer the same link.
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/file.txt",
        "ftp://ftp.example.com/pub/news.txt",
        "/news/2024/article",
        "news/article",
        "example.com/article",
        "www.example.com/article",
        "//example.com/article",
        "?utm_source=rss",
        "#top",
        "mailto:desk@example.com",
        "mailto:?subject=news",
        "javascript:alert(1)",
        "data:text/html,<p>x</p>",
        "tag:example.com,2024:1",
        "urn:uuid:1d88b6fd-2894-4945-9f6e-f91bcebe9993",
        "1d88b6fd-2894-4945-9f6e-f91bcebe9993",
        "file:///etc/passwd",
        "https://",
        "https:example.com/a",
        "http:///a",
        "https://./a",
        "https://user@/a",
        "",
        "   ",
    ],
)
def test_canonical_url_rejects(url):
    with pytest.raises(ValueError, match=r"^not an absolute http\(s\) URL: ") as info:
        canonical_url(url)
    assert str(info.value) == f"not an absolute http(s) URL: {url!r}"


def test_canonical_url_rejection_quotes_at_most_200_characters():
    url = "ftp://example.com/" + "a" * 500
    with pytest.raises(ValueError, match=r"^not an absolute http\(s\) URL: ") as info:
        canonical_url(url)
    assert str(info.value) == f"not an absolute http(s) URL: {url[:200]!r}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://news.example:99999/story/x", "Port out of range 0-65535"),
        ("https://example.com:port/a", "Port could not be cast to integer value"),
        ("http://[::1/a", "Invalid IPv6 URL"),
        ("https://[x]/a", "does not appear to be an IPv4 or IPv6 address"),
    ],
)
def test_canonical_url_rejects_malformed_authority(url, message):
    # urlsplit's own message names the fault; a dead letter shows it as is (see test_rssio).
    with pytest.raises(ValueError, match=re.escape(message)):
        canonical_url(url)


# --- Properties ---------------------------------------------------------------------------------


def _all_cases() -> list[str]:
    urls = [str(p.values[0]) for cases in (SHAPES, TRACKING, REAL_LINKS) for p in cases]
    urls += [str(p.values[1]) for cases in (SHAPES, TRACKING, REAL_LINKS) for p in cases]
    return urls


@pytest.mark.parametrize("url", _all_cases())
def test_canonical_url_is_idempotent(url):
    once = canonical_url(url)
    assert canonical_url(once) == once


# --- The shared captures ------------------------------------------------------------------------


def _links_and_guids(path: Path) -> tuple[list[str], list[tuple[str, bool]]]:
    """Every `<link>` (RSS text or Atom href) and every `<guid>` (text, is it a permalink) of a capture."""
    links: list[str] = []
    guids: list[tuple[str, bool]] = []
    root = SafeET.parse(path).getroot()
    assert root is not None
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
        if tag == "link":
            value = element.get("href") or element.text or ""
            if value.strip():
                links.append(value)
        elif tag == "guid":
            guids.append((element.text or "", element.get("isPermaLink", "true").strip() != "false"))
    return links, guids


def _captured_urls() -> set[str]:
    urls: set[str] = set()
    for name in _names(NEWS):
        if name != MISSING:
            links, guids = _links_and_guids(NEWS / name)
            urls.update(u.strip() for u in links)
            urls.update(g.strip() for g, _ in guids)
    return urls


@pytest.mark.parametrize("name", _names(NEWS))
def test_every_captured_link_and_guid_canonicalizes(name):
    _require(NEWS)
    links, guids = _links_and_guids(NEWS / name)
    assert links, f"{name}: no <link> read"
    looks_like_url = [g for g, _ in guids if g.strip().lower().startswith(("http://", "https://"))]
    for url in links + looks_like_url:
        once = canonical_url(url)
        assert once.startswith("https://"), url
        assert canonical_url(once) == once, url
    for guid, permalink in guids:
        if guid not in looks_like_url:
            # Only an opaque id (a UUID, a hash, an empty element) may fail, and only if the feed says
            # it is not a permalink: identity.py then scopes it to its feed instead.
            assert not permalink, guid
            with pytest.raises(ValueError, match=r"^not an absolute http\(s\) URL: "):
                canonical_url(guid)


@pytest.mark.parametrize("name", _names(NEWS))
def test_captured_permalink_and_link_are_one_article(name):
    _require(NEWS)
    root = SafeET.parse(NEWS / name).getroot()
    assert root is not None
    for item in root.iter("item"):
        link, guid = item.findtext("link"), item.find("guid")
        if link and guid is not None and guid.get("isPermaLink", "true") != "false" and guid.text:
            assert canonical_url(link) == canonical_url(guid.text), (link, guid.text)


def test_real_links_are_in_the_captures():
    _require(NEWS)
    captured = _captured_urls()
    missing = [p.values[0] for p in REAL_LINKS if p.values[0] not in captured]
    assert missing == []
