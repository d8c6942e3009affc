"""The garbage collector's settings for a process that runs pipeline stages (a Beam SDK worker,
the DirectRunner's own process, `wirewatch stream`).

Every article allocates hundreds of short-lived container objects (models, tuples, dicts of its
tags and evidence). At CPython's default first-generation threshold (700 allocations) the
collector runs every article or two, and its older generations' passes walk the worker's whole
long-lived heap (Beam, the tagger's tables) again and again, a sizeable share of a batch run's
CPU (timed by hand with and without, one DirectRunner worker). Articles form no reference
cycles, so collecting 70 times less often frees the same memory, only later; reference counting
still frees each article at once.
"""

from __future__ import annotations

import gc

# (generation 0 allocations, generation-0 passes per generation-1 pass, generation-1 passes per
# full pass): CPython's defaults are (700, 10, 10).
THRESHOLDS = (50_000, 50, 100)


def tune_for_throughput() -> None:
    """Raise the collector's thresholds to THRESHOLDS; never lowers ones set higher. Idempotent."""
    current = gc.get_threshold()
    gc.set_threshold(*(max(c, t) for c, t in zip(current, THRESHOLDS, strict=True)))
