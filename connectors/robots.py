"""Whether robots.txt lets Wirewatch fetch a URL (RFC 9309), with one cached robots.txt per origin.

`RobotsCache` is per process and thread-safe: one fetch of an origin's robots.txt at a time, kept
24 h when it was read, 10 min when it could not be (so a recovered host is asked again soon).
RFC 9309 outcomes: a 2xx is parsed (its first 500 KiB); a 4xx, or a redirect chain that never
ends, means no rules; a 5xx, a 429 (the host asks us to slow down, as Google reads it) or no answer
at all means "disallow everything" until the entry expires.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from connectors.http_fetch import FetchErrorKind, FetchResult

USER_AGENT_TOKEN = "Wirewatch"
MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309 §2.5: crawlers parse at least this much
GOOD_TTL_S = 24 * 3600.0
FAILURE_TTL_S = 600.0

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def _normalize(text: str) -> str:
    """One spelling for comparison (RFC 9309 §2.2.2): non-ASCII percent-encoded, unreserved octets decoded."""
    ascii_only = "".join(char if ord(char) < 128 else quote(char) for char in text)

    def octet(match: re.Match[str]) -> str:
        char = chr(int(match[1], 16))
        return char if char in _UNRESERVED else f"%{match[1].upper()}"

    return _PERCENT.sub(octet, ascii_only)


@dataclass(frozen=True)
class _Rule:
    allow: bool
    length: int  # octets of the normalized pattern: the longest match wins
    regex: re.Pattern[str]

    @classmethod
    def of(cls, allow: bool, pattern: str) -> _Rule:
        pattern = _normalize(pattern)
        anchored = pattern.endswith("$")
        body = pattern[:-1] if anchored else pattern
        regex = ".*".join(re.escape(part) for part in body.split("*")) + (r"\Z" if anchored else "")
        return cls(allow, len(pattern), re.compile(regex, re.DOTALL))


class RobotsRules:
    """The rules of one robots.txt that apply to one product token."""

    def __init__(self, rules: Sequence[_Rule]) -> None:
        self._rules = tuple(rules)

    @classmethod
    def parse(cls, text: str, token: str = USER_AGENT_TOKEN) -> RobotsRules:
        """The groups naming `token` (case-insensitively), merged; else the `*` groups; else no rules."""
        groups: list[tuple[set[str], list[_Rule]]] = []
        has_rules = True  # a user-agent line after rules (or first) starts a new group
        for raw in text.splitlines():
            key, sep, value = raw.split("#", 1)[0].partition(":")
            if not sep:
                continue
            key, value = key.strip().lower(), value.strip()
            if key == "user-agent":
                if has_rules:
                    groups.append((set(), []))
                    has_rules = False
                # "Wirewatch/1.0" names the product as well as "Wirewatch" does.
                groups[-1][0].add(value.split("/", 1)[0].strip().lower())
            elif key in ("allow", "disallow") and groups:
                has_rules = True
                if value:  # an empty Disallow allows everything, i.e. adds no rule
                    groups[-1][1].append(_Rule.of(key == "allow", value))
        wanted = token.lower()
        for agent in (wanted, "*"):
            chosen = [rule for agents, rules in groups if agent in agents for rule in rules]
            if any(agent in agents for agents, _ in groups):
                return cls(chosen)
        return cls(())

    def allows(self, path: str) -> bool:
        """RFC 9309 §2.2.2: the longest matching pattern decides, Allow on a tie; no match allows."""
        path = _normalize(path)
        best: _Rule | None = None
        for rule in self._rules:
            if rule.regex.match(path) and (
                best is None or rule.length > best.length or (rule.length == best.length and rule.allow)
            ):
                best = rule
        return best is None or best.allow


@dataclass(frozen=True)
class _Entry:
    rules: RobotsRules | None  # None: robots.txt could not be read, everything is disallowed
    failure: str | None  # why it could not be read
    expires_at: float
    failure_kind: FetchErrorKind | None = None  # the fetcher's kind of that failure


def robots_url(url: str) -> str:
    """The robots.txt URL for `url`'s scheme, host and port (the user info and the path dropped)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    return f"{scheme}://{host}/robots.txt"


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class RobotsCache:
    """robots.txt verdicts for every URL this process fetches pages from; one entry per origin."""

    def __init__(
        self,
        *,
        token: str = USER_AGENT_TOKEN,
        good_ttl_s: float = GOOD_TTL_S,
        failure_ttl_s: float = FAILURE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if good_ttl_s <= 0 or failure_ttl_s <= 0:
            raise ValueError(f"TTLs must be > 0, got good_ttl_s={good_ttl_s}, failure_ttl_s={failure_ttl_s}")
        self._token = token
        self._good_ttl_s = good_ttl_s
        self._failure_ttl_s = failure_ttl_s
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._entries: dict[str, _Entry] = {}

    def allowed(self, url: str, *, fetch: Callable[[str], FetchResult]) -> tuple[bool, str | None]:
        """(True, None) when `url` may be fetched; else (False, why). `fetch` gets the robots.txt URL
        when the origin's entry is missing or expired; it should follow redirects and cap the body."""
        try:
            origin = robots_url(url)
            path = _path_of(url)
        except ValueError as exc:
            return False, f"invalid URL {url!r}: {exc}"
        if path == "/robots.txt":
            return True, None
        entry = self._entry(origin, fetch)
        if entry.rules is None:
            return (
                False,
                f"robots.txt at {origin} could not be read ({entry.failure}): RFC 9309 disallows all",
            )
        if entry.rules.allows(path):
            return True, None
        return False, f"robots.txt at {origin} disallows {path} for {self._token}"

    def failure_kind(self, url: str) -> FetchErrorKind | None:
        """Why `url`'s robots.txt could not be read, as the fetcher's kind of error (after
        `allowed` said no): "unreachable" or "timeout" tell a host that is down from one that
        forbids."""
        with self._guard:
            entry = self._entries.get(robots_url(url))
        return entry.failure_kind if entry is not None else None

    def _entry(self, origin: str, fetch: Callable[[str], FetchResult]) -> _Entry:
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        # Per origin: other threads wait for the one fetching it, then use what it found.
        with lock:
            with self._guard:
                entry = self._entries.get(origin)
            if entry is None or entry.expires_at <= self._clock():
                entry = self._load(origin, fetch(origin))
                with self._guard:
                    self._entries[origin] = entry
            return entry

    def _load(self, origin: str, result: FetchResult) -> _Entry:
        now = self._clock()
        status = result.status
        if result.outcome == "ok":
            text = result.body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace").lstrip("\ufeff")
            return _Entry(RobotsRules.parse(text, self._token), None, now + self._good_ttl_s)
        unavailable = (result.error_kind == "http_status" and status is not None and 400 <= status < 500) or (
            result.error_kind == "redirect"
        )
        if unavailable and status != 429:
            return _Entry(RobotsRules(()), None, now + self._good_ttl_s)
        failure = result.error or f"outcome {result.outcome}"
        return _Entry(None, failure, now + self._failure_ttl_s, result.error_kind)
