"""`wirewatch stats` as text: what the store holds, by day, outlet, actor, topic and country."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from schemas.feeds import FeedState
from schemas.store import Counts, StoreFacets, StoreStats


def feed_health(states: Iterable[FeedState]) -> dict[str, int]:
    """The feeds the store knows: polling normally, failing (the last poll or more failed), disabled."""
    health = {"known": 0, "healthy": 0, "failing": 0, "disabled": 0}
    for state in states:
        health["known"] += 1
        kind = "disabled" if state.disabled else "failing" if state.consecutive_failures else "healthy"
        health[kind] += 1
    return health


def _listed(counts: Counts) -> str:
    return " · ".join(f"{value} {count:,}" for value, count in counts) or "-"


def stats_lines(stats: StoreStats, facets: StoreFacets, feeds: Mapping[str, int]) -> Iterator[str]:
    yield f"store          {stats.location}"
    yield f"articles       {stats.articles:,} ({facets.canonical:,} stories, {facets.copies:,} copies)"
    if stats.earliest_published and stats.latest_published:
        yield f"published      {stats.earliest_published.date()} … {stats.latest_published.date()}"
    yield f"per day        {_listed(facets.per_day)}"
    yield f"outlets        {_listed(facets.outlets)}"
    yield f"actors         {_listed(facets.actors)}"
    yield f"topics         {_listed(facets.topics)}"
    yield f"countries      {_listed(facets.countries)}"
    yield f"bodies         {_listed(facets.body_sources)}"
    if facets.page_statuses:
        yield f"linked pages   {_listed(facets.page_statuses)}"
    yield f"dead letters   {stats.dead_letters:,}" + (
        f"  by stage: {_listed(facets.dead_letters_by_stage)}" if facets.dead_letters_by_stage else ""
    )
    yield f"alerts         {_listed(facets.alerts_by_rule)}"
    if feeds["known"]:
        yield (
            f"feeds          {feeds['known']:,} polled: {feeds['healthy']:,} healthy, "
            f"{feeds['failing']:,} failing, {feeds['disabled']:,} disabled"
        )
    else:
        yield "feeds          none polled yet"
