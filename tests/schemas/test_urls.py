"""canonical_url: one spelling per article link."""

from __future__ import annotations

import pytest

from schemas.urls import canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("HTTPS://Example.COM/News/Item", "https://example.com/News/Item", id="case"),
        pytest.param("https://example.com:443/a", "https://example.com/a", id="https-default-port"),
        pytest.param("http://example.com:80/a", "http://example.com/a", id="http-default-port"),
        pytest.param("https://example.com:8443/a", "https://example.com:8443/a", id="other-port-kept"),
        pytest.param("http://example.com:443/a", "http://example.com:443/a", id="https-port-on-http-kept"),
        pytest.param("https://example.com/a#comments", "https://example.com/a", id="fragment"),
        pytest.param(
            "https://example.com/a?id=5#top", "https://example.com/a?id=5", id="fragment-after-query"
        ),
        pytest.param("https://example.com", "https://example.com/", id="empty-path"),
        pytest.param("https://example.com?id=1", "https://example.com/?id=1", id="empty-path-with-query"),
        pytest.param("https://example.com./a", "https://example.com/a", id="trailing-dot-host"),
        pytest.param("  https://example.com/a \n", "https://example.com/a", id="surrounding-space"),
        pytest.param("https://user:secret@example.com/a", "https://example.com/a", id="credentials-dropped"),
        pytest.param("https://user@Example.com:443/a", "https://example.com/a", id="user-and-port"),
        pytest.param("https://example.com/a/", "https://example.com/a/", id="trailing-slash-kept"),
        pytest.param("https://example.com/a?", "https://example.com/a", id="empty-query"),
    ],
)
def test_canonical_url_shape(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x",
            "https://example.com/a",
            id="utm-only",
        ),
        pytest.param(
            "https://example.com/a?b=2&utm_source=rss&a=1&fbclid=XyZ&c=3&gclid=abc",
            "https://example.com/a?b=2&a=1&c=3",
            id="others-kept-in-order",
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
            "https://example.com/a?utmost=1&gclid_x=2",
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
    ],
)
def test_canonical_url_tracking_parameters(url, expected):
    assert canonical_url(url) == expected


# Real link shapes from the news RSS feeds (copied literally; the feeds are not read at test time).
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://restofworld.org/2026/ai-memory-chip-explainer/?utm_source=rss&utm_medium=rss&utm_campaign=feeds",
            "https://restofworld.org/2026/ai-memory-chip-explainer/",
            id="restofworld-utm",
        ),
        pytest.param(
            "https://www.ndtv.com/world-news/iran-temporarily-closes-strait-of-hormuz-amid-us-nuclear-talks-11051442#publisher=newsstand",
            "https://www.ndtv.com/world-news/iran-temporarily-closes-strait-of-hormuz-amid-us-nuclear-talks-11051442",
            id="ndtv-guid-fragment",
        ),
        pytest.param(
            "https://www.bbc.com/news/articles/cze0dk3yd5eo?at_medium=RSS&at_campaign=rss",
            "https://www.bbc.com/news/articles/cze0dk3yd5eo?at_medium=RSS&at_campaign=rss",
            id="bbc-params-kept-in-order",
        ),
        pytest.param(
            "https://japantoday.com/category/world/iran%E2%80%99s-top-diplomat-to-attend-%27indirect%27-talks",
            "https://japantoday.com/category/world/iran%E2%80%99s-top-diplomat-to-attend-%27indirect%27-talks",
            id="japantoday-percent-encoded-path",
        ),
        pytest.param(
            "https://time.com/7379272/spain-x-elon-musk-grok-ai-meta-tiktok-investigation-sexualized-deepfakes-children/",
            "https://time.com/7379272/spain-x-elon-musk-grok-ai-meta-tiktok-investigation-sexualized-deepfakes-children/",
            id="time-unchanged",
        ),
        pytest.param("https://www.aljazeera.com", "https://www.aljazeera.com/", id="aljazeera-bare-host"),
        pytest.param("http://abcnews.com", "http://abcnews.com/", id="abcnews-http-bare-host"),
        pytest.param(
            "http://online.wsj.com/page/2_0006.html",
            "http://online.wsj.com/page/2_0006.html",
            id="wsj-http-kept",
        ),
    ],
)
def test_canonical_url_real_feed_links(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent():
    for url in [
        "HTTPS://Example.COM:443/A/b?utm_source=x&k=v#f",
        "https://www.bbc.com/news/articles/cze0dk3yd5eo?at_medium=RSS&at_campaign=rss",
        "https://example.com",
    ]:
        once = canonical_url(url)
        assert canonical_url(once) == once


def test_canonical_url_same_article_same_spelling():
    variants = [
        "https://restofworld.org/2026/morocco-ai-minister/?utm_source=rss&utm_medium=rss&utm_campaign=feeds",
        "https://RestOfWorld.org:443/2026/morocco-ai-minister/#comments",
        "HTTPS://restofworld.org/2026/morocco-ai-minister/?fbclid=abc",
    ]
    assert {canonical_url(v) for v in variants} == {"https://restofworld.org/2026/morocco-ai-minister/"}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/file.txt",
        "/news/2024/article",
        "news/article",
        "example.com/article",
        "//example.com/article",
        "mailto:desk@example.com",
        "file:///etc/passwd",
        "https://",
        "http:///a",
        "",
        "   ",
    ],
)
def test_canonical_url_rejects(url):
    with pytest.raises(ValueError, match=r"^not an absolute http\(s\) URL: ") as info:
        canonical_url(url)
    assert str(info.value) == f"not an absolute http(s) URL: {url!r}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://[::1]:8080/a", "http://[::1]:8080/a", id="loopback-with-port"),
        pytest.param("https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a", id="default-port"),
    ],
)
def test_canonical_url_keeps_ipv6_brackets(url, expected):
    # Without the brackets the host's colons read as a port: the result is no longer the same link.
    assert canonical_url(url) == expected
