"""The batch graph is data-parallel and still decides copies as one resolver over the whole run.

The corpus (tests/copy_corpus.py): 1,000 stories of real news sentences plus ~160 copies: chains
A -> B -> C (half of them dated backwards), wire copies and stories read twice, files named so
copies are read before their originals and a chain's links lie in different bundles.
"""

from __future__ import annotations

import base64
import math
import pathlib
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pipeline import AppliedPTransform, PTransformOverride
from apache_beam.pvalue import PCollection

from connectors.localstore import LocalStore
from connectors.seedio import PATH_CHUNK, parse_seed
from pipelines import ingest
from pipelines.normalize import normalize_record
from pipelines.options import load_config
from schemas.dedup import DedupConfig, DuplicateResolver, fingerprint
from schemas.records import PipelineInfo
from tests.conftest import RUN_AT, embedded_docs
from tests.copy_corpus import BROAD_RULES, CopyCorpus, build
from tests.integration.equivalence import stable, stable_alert


@pytest.fixture(scope="module", autouse=True)
def _embedded_store() -> Iterator[None]:
    """These runs write to the embedded store even where `make test` exports an Elasticsearch URL
    (module-wide: the runs below are module fixtures, set up before any per-test fixture)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("ELASTICSEARCH_URL", raising=False)
        yield


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CopyCorpus:
    return build(tmp_path_factory.mktemp("copies") / "seeds")


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(BROAD_RULES, encoding="utf-8")
    return path


def _argv(corpus: CopyCorpus, rules: pathlib.Path, store: pathlib.Path, *extra: str) -> list[str]:
    return ["--seeds", str(corpus.folder), "--store", str(store), "--alerts", str(rules), *extra]


def _alerts(store: pathlib.Path) -> dict[str, dict[str, Any]]:
    reader = LocalStore(str(store))
    try:
        return {a.id: stable_alert(a.model_dump(mode="json")) for a in reader.alerts(limit=100_000)}
    finally:
        reader.close()


class Run(NamedTuple):
    store: pathlib.Path
    summary: ingest.RunSummary


@pytest.fixture(scope="module")
def one_worker(corpus: CopyCorpus, rules: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    store = tmp_path_factory.mktemp("one") / "one.db"
    summary = ingest.run(_argv(corpus, rules, store, "--direct_num_workers=1"))
    assert summary.read == corpus.files
    return Run(store, summary)


def _summary_matches_the_store(run: Run) -> None:
    """The run's counts are what it stored (on an empty store): each story once, as canonical or
    folded, and every further reading of one as read twice."""
    docs = embedded_docs(run.store)
    copies = sum(1 for d in docs.values() if d["duplicate_of"])
    s = run.summary
    assert (s.canonical, s.duplicates, s.already_stored) == (len(docs) - copies, copies, 0)
    assert s.read_twice == s.read - len(docs) > 0


def _one_resolver(corpus: CopyCorpus) -> dict[str, tuple[Any, ...]]:
    """What one DuplicateResolver decides over the whole corpus in first-seen order (the reference
    the data-parallel graph must equal): id -> (duplicate_of, reason, similarity, sources seen, the
    signature the store keeps)."""
    config = DedupConfig()
    pipeline = PipelineInfo(version="test", run_id="test")
    fps = []
    for path in sorted(corpus.folder.glob("*.txt")):
        raw = parse_seed(str(path), path.read_bytes(), read_at=RUN_AT)
        fps.append(fingerprint(normalize_record(raw, ingested_at=RUN_AT, pipeline=pipeline), config))
    resolver = DuplicateResolver(config)
    decisions = {fp.article_id: resolver.decide(fp) for fp in sorted(fps, key=lambda fp: fp.order)}
    seen: dict[str, set[str]] = defaultdict(set)
    for article_id, d in decisions.items():
        seen[d.duplicate_of or article_id].add(article_id)
    kept = {fp.article_id: base64.b64encode(fp.signature).decode() if fp.near_keys else None for fp in fps}
    return {
        i: (
            d.duplicate_of,
            d.reason,
            d.similarity,
            sorted(seen[i]) if d.duplicate_of is None else [i],
            kept[i] if d.duplicate_of is None else None,
        )
        for i, d in decisions.items()
    }


def _decided(docs: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {
        i: (
            d["duplicate_of"],
            d["duplicate_reason"],
            d["similarity"],
            sorted(s["article_id"] for s in d["sources_seen"]),
            d["near_dup_signature"],
        )
        for i, d in docs.items()
    }


def test_the_graph_decides_as_one_resolver_over_the_whole_run(corpus: CopyCorpus, one_worker: Run):
    expected = _one_resolver(corpus)
    docs = embedded_docs(one_worker.store)
    assert _decided(docs) == expected
    # The corpus really has what the test is about: chains whose middle link is a copy of whichever
    # end came first (LSH finds ~80 % of pairs at similarity 0.45-0.5), and in backward chains
    # (C first) an A that stays a story of its own: it only resembles B, which is a copy.
    by_file = {pathlib.Path(d["source"]["file"]).name: d for d in docs.values()}
    linked = [
        n
        for n, (a, b, c) in enumerate(corpus.chains)
        if by_file[b]["duplicate_of"] == by_file[c if n % 2 else a]["id"]
    ]
    assert len(linked) >= len(corpus.chains) // 2
    assert any(by_file[corpus.chains[n][0]]["duplicate_of"] is None for n in linked if n % 2)
    assert {d["duplicate_reason"] for d in docs.values()} == {None, "near"}
    assert sum(1 for d in docs.values() if d["duplicate_of"]) >= len(corpus.chains) + corpus.wire_copies


def test_one_and_two_workers_store_the_same_articles_and_alerts(
    corpus: CopyCorpus, rules: pathlib.Path, one_worker: Run, tmp_path: pathlib.Path
):
    two = tmp_path / "two.db"
    summary = ingest.run(
        _argv(corpus, rules, two, "--direct_num_workers=2", "--direct_running_mode=multi_processing")
    )
    _summary_matches_the_store(one_worker)
    _summary_matches_the_store(Run(two, summary))
    docs_one, docs_two = embedded_docs(one_worker.store), embedded_docs(two)
    assert {i: corpus.comparable(stable(d)) for i, d in docs_one.items()} == {
        i: corpus.comparable(stable(d)) for i, d in docs_two.items()
    }
    alerts = _alerts(one_worker.store)
    assert len({a["rule_id"] for a in alerts.values()}) >= 2
    assert alerts == _alerts(two)


# --- no grouping step sees the run under a single key ------------------------------------------


class _RecordKeys(beam.DoFn):
    """Writes the keys a grouping step is about to see, one file per bundle."""

    def __init__(self, label: str, folder: str) -> None:
        self._label = label
        self._folder = folder

    def start_bundle(self) -> None:
        self._keys: set[str] = set()

    def process(self, element: tuple[Any, Any]) -> Iterator[tuple[Any, Any]]:
        self._keys.add(repr(element[0]))
        yield element

    def finish_bundle(self) -> None:
        if self._keys:
            lines = "".join(f"{self._label}\t{key}\n" for key in self._keys)
            (pathlib.Path(self._folder) / f"{uuid.uuid4().hex}.keys").write_text(lines, encoding="utf-8")


class _Grouping(beam.GroupByKey):
    """A GroupByKey the override leaves alone (it matches the exact class)."""


class _Combining(beam.CombinePerKey):
    pass


class _ProbeGroupings(PTransformOverride):
    """Every `kind` step of the graph (GroupByKey, CombinePerKey; also those inside CoGroupByKey and
    Reshuffle) preceded by a step recording the keys it sees."""

    def __init__(self, kind: type[beam.PTransform[Any, Any]], folder: pathlib.Path) -> None:
        self._kind = kind
        self._folder = str(folder)

    def matches(self, applied_ptransform: AppliedPTransform) -> bool:
        return type(applied_ptransform.transform) is self._kind

    def get_replacement_transform_for_applied_ptransform(
        self, applied_ptransform: AppliedPTransform
    ) -> beam.PTransform[Any, Any]:
        original = applied_ptransform.transform
        label, folder = applied_ptransform.full_label, self._folder

        class Probed(beam.PTransform[PCollection[Any], PCollection[Any]]):
            def expand(self, pcoll: PCollection[Any]) -> PCollection[Any]:
                recorded = pcoll | "RecordKeys" >> beam.ParDo(_RecordKeys(label, folder))
                if isinstance(original, beam.CombinePerKey):
                    inner: beam.PTransform[Any, Any] = _Combining(
                        original.fn, *original.args, **original.kwargs
                    )
                else:
                    inner = _Grouping()
                grouped: PCollection[Any] = recorded | "Group" >> inner
                return grouped

        return Probed()


def test_no_grouping_step_of_the_batch_graph_sees_a_single_key(
    corpus: CopyCorpus, rules: pathlib.Path, tmp_path: pathlib.Path
):
    probes = tmp_path / "keys"
    probes.mkdir()
    options = PipelineOptions(_argv(corpus, rules, tmp_path / "probed.db"))
    config = load_config(options)
    LocalStore(config.store_path).close()
    pipeline = beam.Pipeline(options=options)
    ingest.build(pipeline, config)
    # Combines first: a CombinePerKey holds a GroupByKey, which the second override then probes.
    pipeline.replace_all(
        [_ProbeGroupings(beam.CombinePerKey, probes), _ProbeGroupings(beam.GroupByKey, probes)]
    )
    pipeline.run().wait_until_finish()

    keys: dict[str, set[str]] = defaultdict(set)
    for path in probes.glob("*.keys"):
        for line in path.read_text(encoding="utf-8").splitlines():
            label, key = line.split("\t", 1)
            keys[label].add(key)
    # The probe saw the graph's groupings: the files spread over workers (a key per chunk of
    # paths), dedup's key shards and copy groups, and the rules' one.
    spread = [seen for label, seen in keys.items() if "ReadSeedFiles/Spread" in label]
    assert [len(seen) for seen in spread] == [math.ceil(corpus.files / PATH_CHUNK)]
    for step in ("Deduplicate/ByShard", "Deduplicate/ByGroup", "EvaluateAlerts/PerRule"):
        assert any(step in label for label in keys), step
    single = sorted(label for label, seen in keys.items() if len(seen) == 1)
    assert not single, f"grouping steps that saw one key: {single}"
