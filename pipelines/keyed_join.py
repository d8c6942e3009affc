"""JoinByKey: CoGroupByKey whose values cross the shuffle through their own coders.

Beam's CoGroupByKey gives the values of its inputs one union type, which only its catch-all coder
takes: every Article, fingerprint or alert fact would be pickled on the way. Here each value is
encoded with the coder of its input's type before the shuffle and decoded after it; a value type
without a coder of its own is refused when the graph is built, not pickled at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import apache_beam as beam
from apache_beam import coders
from apache_beam.pvalue import PCollection
from apache_beam.typehints import typehints

Joined = tuple[str, dict[str, list[Any]]]


def _value_coder(name: str, pcoll: PCollection[Any]) -> coders.Coder:
    hint = pcoll.element_type
    if not isinstance(hint, typehints.TupleHint.TupleConstraint) or len(hint.tuple_types) != 2:
        raise TypeError(f"JoinByKey input {name!r}: declare its type as tuple[str, V], not {hint}")
    coder = coders.registry.get_coder(hint.tuple_types[1])
    if isinstance(coder, coders.FastPrimitivesCoder | coders.PickleCoder):
        raise TypeError(f"JoinByKey input {name!r}: {hint.tuple_types[1]} has no coder of its own")
    return coder


def _tag(element: tuple[str, Any], index: int, coder: coders.Coder) -> tuple[str, tuple[int, bytes]]:
    return element[0], (index, coder.encode(element[1]))


class _Regroup:
    def __init__(self, names: list[str], value_coders: list[coders.Coder]) -> None:
        self._names = names
        self._coders = value_coders

    def __call__(self, element: tuple[str, Iterable[tuple[int, bytes]]]) -> Joined:
        key, tagged = element
        out: dict[str, list[Any]] = {name: [] for name in self._names}
        for index, encoded in tagged:
            out[self._names[index]].append(self._coders[index].decode(encoded))
        return key, out


class JoinByKey(beam.PTransform[Mapping[str, PCollection[Any]], PCollection[Joined]]):
    """{name: PCollection[(key, value)]} -> (key, {name: [values]}), like CoGroupByKey."""

    def expand(self, inputs: Mapping[str, PCollection[Any]]) -> PCollection[Joined]:
        names = sorted(inputs)
        value_coders = [_value_coder(name, inputs[name]) for name in names]
        tagged = [
            inputs[name]
            | f"Tag{name.title()}"
            >> beam.Map(_tag, index, value_coders[index]).with_output_types(tuple[str, tuple[int, bytes]])
            for index, name in enumerate(names)
        ]
        joined: PCollection[Joined] = (
            tagged
            | "Flatten" >> beam.Flatten()
            | "GroupByKey" >> beam.GroupByKey()
            | "Regroup" >> beam.Map(_Regroup(names, value_coders))
        )
        return joined
