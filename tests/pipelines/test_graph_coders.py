"""Everything that crosses a shuffle of the batch graph goes through a coder of its own type.

Beam falls back to its catch-all coder for a PCollection whose type it does not know, which
pickles records: slow, and a format nobody chose. This builds the batch graph with every stage on
(seeds, feeds, dedup, tagging, alert rules with a lookback) and checks the coder of each input of
every GroupByKey, including those inside joins, combines and reshuffles.
"""

from __future__ import annotations

import pathlib

import apache_beam as beam
from apache_beam import coders
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pipeline import AppliedPTransform, PipelineVisitor

from pipelines import ingest
from pipelines.options import load_config
from tests.conftest import SEEDS


def _catch_all(coder: coders.Coder) -> list[str]:
    """The catch-all coders inside `coder`. Beam's Reshuffle carries each element's optional
    timestamp with one (NullableCoder[FastPrimitivesCoder]): Beam's business, not ours."""
    if isinstance(coder, coders.NullableCoder):
        return []
    found = [repr(coder)] if isinstance(coder, coders.FastPrimitivesCoder | coders.PickleCoder) else []
    for component in coder._get_component_coders():
        found += _catch_all(component)
    return found


def test_no_shuffle_of_the_batch_graph_pickles_its_elements(tmp_path: pathlib.Path):
    options = PipelineOptions(
        ["--seeds", str(SEEDS), "--feeds", str(SEEDS / "feeds.yaml"), "--store", str(tmp_path / "x.db")]
    )
    config = load_config(options)
    assert config.alerts is not None
    assert any(rule.lookback_s for rule in config.alerts.rules)
    pipeline = beam.Pipeline(options=options)
    ingest.build(pipeline, config)

    shuffles: dict[str, coders.Coder] = {}

    class Shuffles(PipelineVisitor):
        def visit_transform(self, node: AppliedPTransform) -> None:
            if isinstance(node.transform, beam.GroupByKey):
                (pcoll,) = node.inputs
                shuffles[node.full_label] = coders.registry.get_coder(pcoll.element_type)

    pipeline.visit(Shuffles())
    assert any("Deduplicate" in label for label in shuffles)
    assert any("EvaluateAlerts" in label for label in shuffles)
    pickled = {label: found for label, coder in shuffles.items() if (found := _catch_all(coder))}
    assert not pickled, pickled
