"""The compiled tagger and its Python reference, built once per test process: the rule tests hold
both paths to the same answers."""

from __future__ import annotations

import functools

from pipelines.tag_match import Tagger


@functools.cache
def both_taggers() -> tuple[Tagger, Tagger]:
    compiled = Tagger.from_files()
    assert compiled.native, "the compiled tagger (tagcore) is not installed"
    return compiled, Tagger(compiled.registry, compiled.taxonomy, native=False)
