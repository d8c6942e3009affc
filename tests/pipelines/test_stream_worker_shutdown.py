"""A cancelled stream's in-process SDK worker: a bundle that ends after shutdown discarded it."""

from __future__ import annotations

from apache_beam.runners.worker.sdk_worker import BundleProcessorCache

from pipelines import stream


class _Processor:
    """Stands in for a BundleProcessor: only the calls the cache makes on release and discard."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def reset(self) -> None:
        self.calls.append("reset")

    def shutdown(self) -> None:
        self.calls.append("shutdown")


class _Channels:
    def cleanup(self, instruction_id: str) -> None:
        pass


def _cache_running(instruction_id: str, processor: _Processor) -> BundleProcessorCache:
    cache = BundleProcessorCache(frozenset(), None, _Channels(), {})  # type: ignore[arg-type]
    cache.active_bundle_processors[instruction_id] = ("descriptor-1", processor)
    return cache


def test_a_bundle_ending_after_the_worker_shut_down_releases_without_an_error() -> None:
    stream._tolerate_bundles_ending_after_shutdown()
    processor = _Processor()
    cache = _cache_running("inst012", processor)
    cache.shutdown()  # the cancel: discards the running bundle

    cache.release("inst012")  # its thread, ending normally afterwards (Beam's own raises KeyError)

    assert processor.calls == ["shutdown"]
    assert not cache.cached_bundle_processors["descriptor-1"]


def test_a_running_bundle_is_still_released_into_the_cache() -> None:
    stream._tolerate_bundles_ending_after_shutdown()
    stream._tolerate_bundles_ending_after_shutdown()  # idempotent: one wrapper, not two
    processor = _Processor()
    cache = _cache_running("inst013", processor)

    cache.release("inst013")

    assert processor.calls == ["reset"]
    assert cache.cached_bundle_processors["descriptor-1"] == [processor]
    assert "inst013" not in cache.active_bundle_processors
    cache.shutdown()
