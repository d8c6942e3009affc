"""Stored articles whose near keys are crowded (`schemas.dedup.MAX_KEY_HOLDERS`), and what a store's
lookup must answer for them: the same checks for the embedded store and Elasticsearch."""

from __future__ import annotations

from collections.abc import Callable

from schemas.dedup import MAX_KEY_HOLDERS, StoredDoc, url_key
from schemas.ids import stable_id
from schemas.records import Article
from tests.conftest import seed_articles

X_URL = "https://news.example.com/x"


def crowded_corpus() -> list[Article]:
    """MAX_KEY_HOLDERS + 1 canonical articles holding `b:crowd` (one of them also X_URL), as many
    as allowed holding `b:busy`, and a copy holding `b:crowd` too (copies hold no near keys that
    count)."""
    seed = seed_articles()[0]

    def article(n: int, near: tuple[str, ...], **changes: object) -> Article:
        article_id = stable_id("crowded", str(n))
        return seed.model_copy(
            update={
                "id": article_id,
                "dedup_keys": (f"i:{article_id[:16]}",),
                "near_dup_keys": near,
                **changes,
            }
        )

    crowd = [article(n, ("b:crowd",)) for n in range(MAX_KEY_HOLDERS)]
    crowd.append(article(MAX_KEY_HOLDERS, ("b:crowd",), canonical_url=X_URL, dedup_keys=(url_key(X_URL),)))
    busy = [article(100 + n, ("b:busy",)) for n in range(MAX_KEY_HOLDERS)]
    copy_ = article(200, ("b:crowd",), duplicate_of=crowd[0].id, duplicate_reason="near", similarity=0.9)
    return [*crowd, *busy, copy_]


def check_crowded_keys(lookup: Callable[..., list[StoredDoc]], articles: list[Article]) -> None:
    """A near key held by more than `max_holders` canonical articles finds none of them (also not
    beside another key that finds one); one held by that many finds them all; asked without
    `max_holders`, every holder is found."""
    holder_of_x = articles[MAX_KEY_HOLDERS]
    assert lookup([], ["b:crowd"], max_holders=MAX_KEY_HOLDERS) == []
    assert len(lookup([], ["b:busy"], max_holders=MAX_KEY_HOLDERS)) == MAX_KEY_HOLDERS
    both = lookup([url_key(X_URL)], ["b:crowd", "b:busy"], max_holders=MAX_KEY_HOLDERS)
    assert {d.article_id for d in both} == {holder_of_x.id} | {
        a.id for a in articles if "b:busy" in a.near_dup_keys
    }
    (x,) = [d for d in both if d.article_id == holder_of_x.id]
    assert (x.exact_keys, x.near_keys) == (frozenset({url_key(X_URL)}), frozenset())
    assert len(lookup([], ["b:crowd"])) == MAX_KEY_HOLDERS + 1  # the copy's band key never counts
