"""Canonical URLs: one spelling per article link, so the same item fetched twice gets the same id.

News sites and feeds publish one article under many spellings: http and https, with and without
`www.`, on a mobile or AMP host, as an AMP page, behind Google's AMP cache, with campaign and
click-tracking parameters, with the query in any order. `canonical_url` maps these to one string.

Every rule below is chosen so that two URLs it merges are, in practice, the same article; when a
rule could merge two different articles it is left out (a missed duplicate is cheaper than a lost
article). The result is an identity key first and a clickable link second: the spelling is one a
browser can open, but it need not be the exact one the site wrote.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

# --- Query parameters that only say how a reader arrived, never which article it is ---------------
# Compared case-insensitively, after percent-decoding the name (`UTM_Source`, `utm%5Fsource`).
_TRACKING_PREFIXES = (
    # Google Analytics / Urchin campaign tags (utm_source, utm_medium, utm_campaign, utm_term, ...).
    "utm_",
    # Matomo/Piwik campaign tags (pk_campaign, pk_kwd, mtm_source, ...).
    "pk_",
    "mtm_",
    # AT Internet / Piano Analytics campaign tags: BBC feeds add at_medium=RSS&at_campaign=rss; the
    # family also has at_format, at_link_*, at_ptr_name, at_custom1..4, at_bbc_team, ...
    "at_",
    # HubSpot email tracking (_hsenc, _hsmi, __hstc, __hssc, __hsfp).
    "_hs",
    "__hs",
    # Twitter's impression marker (__twitter_impression=true).
    "__twitter",
    # Webtrends campaign tags (WT.mc_id, WT.mc_ev, ...).
    "wt.",
)
_TRACKING_NAMES = frozenset(
    [
        # Ad-click identifiers: one random token per click, the article is in the path.
        "fbclid",  # Facebook
        "gclid",  # Google Ads
        "gclsrc",
        "dclid",  # Google Display (DoubleClick)
        "gbraid",  # Google Ads (iOS)
        "wbraid",
        "msclkid",  # Microsoft Advertising
        "yclid",  # Yandex
        "ysclid",
        "twclid",  # Twitter/X ads
        "ttclid",  # TikTok ads
        "tblci",  # Taboola
        "dicbo",  # Outbrain
        # Share identifiers added by apps when a reader shares a link.
        "igshid",  # Instagram
        "igsh",
        "mibextid",  # Facebook app
        "ref_src",  # Twitter (ref_src=twsrc^tfw)
        "ref_url",
        "smid",  # New York Times share medium (smid=tw-nytimes)
        "smtyp",  # New York Times share type
        "sr_share",  # share-button marker (sr_share=facebook)
        "share",  # WordPress/Jetpack share buttons (?share=twitter)
        "taid",  # Yahoo share id
        # Email marketing: Mailchimp campaign/recipient, Marketo token.
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        # Google Analytics cross-domain linker.
        "_ga",
        "_gl",
        # Publishers' own campaign/referral tags.
        "cmp",  # The Guardian (CMP=share_btn_tw)
        "cmpid",
        "icid",  # internal campaign id (csmonitor: icid=rss)
        "ito",  # internal traffic origin (BBC, Telegraph)
        "ocid",  # MSN
        "ncid",  # Yahoo
        "s_cid",  # Adobe Analytics campaign
        "spm",  # Alibaba "super position model" click path
        "traffic_source",  # Al Jazeera (traffic_source=rss)
        "xtor",  # AT Internet/XiTi legacy (Le Monde, France 24: xtor=RSS-1)
        # comScore campaign tags (the BBC used them before AT Internet).
        "ns_campaign",
        "ns_mchannel",
        "ns_source",
        "ns_linkname",
        "ns_fee",
        # Yahoo consent-wall round trip: a counter and where the reader came from.
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        # AMP viewer and cache parameters: how the AMP page was served, not what it shows.
        "usqp",
        "amp_js_v",
        "_js_v",
        "amp_gsa",
        "amp_ct",
        "amp_tf",
        "amp_r",
        "__amp_source_origin",
    ]
)
# Deliberately *not* dropped: id, p, t, story, storyid, articleid, page, cid, ref, source, lang, ... —
# each names the content (or a page of it) on some site.

_DEFAULT_PORTS = {"http": 80, "https": 443}

# --- Hosts --------------------------------------------------------------------------------------
# Leading labels that name another front end of the same site, serving the same paths: the bare
# site (www.), its mobile edition (m., mobile.) and its AMP edition (amp.).
_ALIAS_LABELS = frozenset(["www", "m", "mobile", "amp"])
# Second-level labels of two-label public suffixes (co.uk, com.au, ne.jp, ...): `m.co.uk` or
# `amp.com.au` (a company) must not become a public suffix.
_SUFFIX_SECOND_LEVEL = frozenset(
    ["ac", "co", "com", "edu", "go", "gob", "gov", "gv", "ltd", "mil", "ne", "net", "nic", "or", "org", "plc"]
)
# A host written inside a path (AMP cache URLs): DNS labels, optionally a port.
_HOST_IN_PATH = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+\.?(:[0-9]{1,5})?$", re.IGNORECASE)
_AMP_CACHE_SUFFIX = ".cdn.ampproject.org"
# Google's AMP cache serves a document as /c/<host>/<path> (http origin) or /c/s/<host>/<path>
# (https); /v/ is the viewer form of the same. Images and resources (/i/, /r/) are not articles.
_AMP_CACHE_KINDS = frozenset(["c", "v"])

_ESCAPE = re.compile(r"%[0-9a-f]{2}", re.IGNORECASE)
_NOT_IN_URI = re.compile(r"[^!-~]")  # space, controls and non-ASCII: never valid in a URI as written


def canonical_url(url: str) -> str:
    """The one spelling of `url` that every variant of the same article shares.

    https; lower-case host without `www.`, mobile or AMP label, default port or trailing dot; the
    non-AMP path without duplicate or trailing slashes and with upper-case percent-escapes; no
    tracking or AMP parameters; the other query pairs sorted by name, each as the site wrote it;
    no fragment. Raises ValueError for anything that is not an absolute http(s) URL.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    # urlsplit lower-cases the host (DNS names are case-insensitive); `example.com.` is the same name
    # written fully qualified.
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(f"not an absolute http(s) URL: {url[:200]!r}")
    port = parts.port  # raises ValueError for a port that is not a number in 0-65535
    cached = _amp_cache_origin(host, parts)
    if cached is not None:
        return canonical_url(cached)
    # The same site serves both schemes (or redirects one to the other): https is the one to keep.
    # An explicit other port belongs to its scheme (http://host:8080 is not https://host:8080).
    if port is None or port == _DEFAULT_PORTS[scheme]:
        scheme, port = "https", None
    # An IPv6 literal: urlsplit took the brackets off, and without them its colons read as a port.
    host = f"[{host}]" if ":" in host else _site_host(host)
    if port is not None:
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, _canonical_path(parts.path), _canonical_query(parts.query), ""))


def _site_host(host: str) -> str:
    """`host` without the `www.`, `m.`, `mobile.` or `amp.` labels in front of the site's own name."""
    if _is_ip(host):
        return host
    labels = host.split(".")
    # Only while the rest is still a registrable-looking name: `m.co`, `www.com`, `m.co.uk` stay.
    while labels[0] in _ALIAS_LABELS and len(labels) > 2 and not _is_public_suffix(labels[1:]):
        labels = labels[1:]
    return ".".join(labels)


def _is_public_suffix(labels: list[str]) -> bool:
    return len(labels) == 2 and labels[0] in _SUFFIX_SECOND_LEVEL and len(labels[1]) == 2


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _amp_cache_origin(host: str, parts: SplitResult) -> str | None:
    """The publisher's URL inside a Google AMP cache or viewer URL, or None for any other URL.

    `https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a?x=1` and
    `https://www.google.com/amp/s/www.example.com/a` both serve `https://www.example.com/a?x=1`:
    the cache only mirrors the publisher's page, and the path spells out the publisher's host.
    """
    segments = parts.path.split("/")  # ["", kind, ("s"), host, rest...]
    if len(segments) < 3:
        return None
    cache = host.endswith(_AMP_CACHE_SUFFIX) and segments[1] in _AMP_CACHE_KINDS
    viewer = _site_host(host) == "google.com" and segments[1] == "amp"
    if not (cache or viewer):
        return None
    inner = segments[2:]
    secure = inner[0] == "s" and len(inner) > 1
    if secure:
        inner = inner[1:]
    if not _HOST_IN_PATH.match(inner[0]):
        return None
    origin = f"{'https' if secure else 'http'}://{'/'.join(inner)}"
    return f"{origin}?{parts.query}" if parts.query else origin


def _canonical_path(path: str) -> str:
    """The non-AMP path: no empty segments (so no duplicate or trailing slash), escapes upper-cased.

    Case is kept (paths are case-sensitive) and escapes are not decoded (`%2F` is not `/`).
    """
    # Dropping empty segments collapses `//` and the trailing slash: news CMSs route `/a/b`, `/a/b/`
    # and `/a//b` to one page (or redirect one to another), and feeds and share links mix them.
    segments = [_canonical_escapes(s) for s in path.split("/") if s]
    while True:  # until nothing changes, so that the result is its own canonical form
        before = list(segments)
        # WordPress's AMP plugin and many news CMSs serve the AMP edition of `/a/b` at `/a/b/amp`.
        # A lone `/amp` is left alone: it may be the site's own AMP section.
        while len(segments) > 1 and segments[-1] == "amp":
            segments.pop()
        # `/news/world-123.amp` (BBC) and `/a/page.amp.html` (the AMP project's convention) are the
        # AMP editions of `/news/world-123` and `/a/page.html`.
        if segments:
            last = segments[-1]
            if last.endswith(".amp.html") and len(last) > len(".amp.html"):
                segments[-1] = last[: -len(".amp.html")] + ".html"
            elif last.endswith(".amp") and len(last) > len(".amp"):
                segments[-1] = last[: -len(".amp")]
        if segments == before:
            return "/" + "/".join(segments)


def _canonical_query(query: str) -> str:
    """The content-bearing pairs, sorted by name; each pair kept byte for byte as the site wrote it.

    The pairs are never decoded and re-encoded: `?id`, `a=x/y` and `x=1;y=2` stay as they are
    (only escapes are upper-cased and raw non-ASCII is encoded, as for the path).
    """
    kept = []
    for raw_pair in query.split("&"):
        pair = _canonical_escapes(raw_pair)
        if pair and not _is_tracking(pair):
            kept.append(pair)
    # Servers read parameters by name, so `?b=2&a=1` and `?a=1&b=2` are the same page. The sort is
    # stable: repeated names (`page=2&page=3`) keep their order, which may matter.
    kept.sort(key=_param_name)
    return "&".join(kept)


def _is_tracking(pair: str) -> bool:
    name = _param_name(pair).lower()
    if name in _TRACKING_NAMES or name.startswith(_TRACKING_PREFIXES):
        return True
    value = unquote_plus(pair.partition("=")[2]).lower()
    # The AMP edition selected by a parameter: ?amp, ?amp=1 (WordPress), ?outputType=amp (Washington
    # Post). ?amp=0 and other outputType values are left alone.
    return (name == "amp" and value in ("", "1", "true")) or (name == "outputtype" and value == "amp")


def _param_name(pair: str) -> str:
    return unquote_plus(pair.partition("=")[0])


def _canonical_escapes(text: str) -> str:
    """Upper-case percent-escapes (`%e2` and `%E2` are the same octet, RFC 3986 6.2.2.1) and
    percent-encode, as UTF-8, what a URI cannot hold as written: space, controls and non-ASCII (an
    IRI and its URI are the same link, RFC 3987 3.1). Nothing is decoded."""
    text = _ESCAPE.sub(lambda m: m.group().upper(), text)
    return _NOT_IN_URI.sub(_percent_encode, text)


def _percent_encode(match: re.Match[str]) -> str:
    return "".join(f"%{octet:02X}" for octet in match.group().encode("utf-8", "surrogatepass"))
