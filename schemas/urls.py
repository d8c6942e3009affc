"""Canonical URLs: one spelling per article link, so the same item fetched twice gets the same id."""

from __future__ import annotations

from urllib.parse import unquote_plus, urlsplit, urlunsplit

# Parameters that only say how a reader arrived, never which article it is.
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "__twitter", "_hs")
_TRACKING_NAMES = frozenset(
    [
        "fbclid",
        "gclid",
        "dclid",
        "gclsrc",
        "msclkid",
        "yclid",
        "igshid",
        "mkt_tok",
        "ref_src",
        "cmpid",
        "ocid",
        "ncid",
    ]
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters.

    Raises ValueError for anything that is not an absolute http(s) URL.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url[:200]!r}")
    host = parts.hostname.rstrip(".")
    if ":" in host:  # IPv6 literal: urlsplit took the brackets off
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{parts.port}"
    # Filter the raw pairs, never re-encode them: `?id`, `a=x/y` and `;` stay as the site wrote them.
    kept = [pair for pair in parts.query.split("&") if pair and not _is_tracking(_param_name(pair))]
    return urlunsplit((scheme, host, parts.path or "/", "&".join(kept), ""))


def _param_name(pair: str) -> str:
    return unquote_plus(pair.split("=", 1)[0])
