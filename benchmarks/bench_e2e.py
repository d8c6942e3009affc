"""Benchmark: the whole batch pipeline end to end against its baselines, in one run, on both stores.

The input is N articles (default 20,000) of real captured news text, composed by the corpus
generator of benchmarks/bench_runners.py (the RSS captures in ../shared/data/feeds/news/ and the
article bodies of ../shared/data/articles/ground-truth.json), plus a share (default 7 %) of
syndicated copies of some of them made with the recipes of benchmarks/eval_dedup.py (rewritten
headline, byline/dateline, boilerplate paragraph, truncation, a few changed words, combinations)
and exact copies (same text); every copy comes from another outlet (seed files have no URL: the
outlet is the folder a file sits in, so the corpus is `<outlet>/*.txt` and the runs read the glob
`DIR/*/*.txt`), and about a quarter of the copies are dated before their original. Ten articles a
day. The seed files are written once under ~/.cache/wirewatch/bench-e2e/<recipe version>/.

Four variants, each on a fresh store (or a fresh Elasticsearch index prefix) with the same input,
dedup, tagging and the example alert rules (seeds/alerts.yaml) on:

- (a) `wirewatch run --seeds 'DIR/*/*.txt' --store PATH` (or `--es-url … --es-index-prefix …`),
  a subprocess of the CLI, DirectRunner with 1 worker (the default);
- (b) the same with `--direct_num_workers=2 --direct_running_mode=multi_processing`;
- (c) a hand-written loop in a subprocess (`bench_e2e.py loop --mode full`) calling the same
  project functions as the pipeline's DoFns, without Beam: the seed connector's read/parse,
  `normalize_record`, `fingerprint` + `DuplicateResolver` in first-seen order with chunked store
  lookups (`pipelines.dedup.lookup_chunk`), `apply_decision`/`with_keys`, the
  `Tagger` + `apply_tags`, the alert engine (`pipelines.alert_match`, the history replay of
  `pipelines.alerts`), alert delivery to the store, the store's bulk write (`LocalStore.
  write_articles` / `connectors.es_client.bulk_write` of the documents the Elasticsearch sink
  sends) and lineage updates;
- (d) the floor (`loop --mode floor`): read + parse the seed files and bulk-write minimal article
  documents (id, text, dates), nothing else.

The variants alternate (a, b, c, d, a, b, c, d, … per store; `--reps`, default 2) and the median is
reported. Per round: wall time of the subprocess, articles/s (articles read / wall), CPU seconds of
its whole process tree (os.wait4's rusage, which holds every descendant it reaped, cross-checked
with /proc samples of the live descendants; the larger is used, so the worker processes of (b)
count), Elasticsearch's CPU (node stats `process.cpu.total_in_millis`, before and after), the
machine's busy CPU not accounted for by either (other people's work), the load average, and what
the run stored: canonical articles and copies, a digest of every (id, duplicate_of, source_count,
alerts) and of the alerts, so a reader sees (a), (b) and (c) agree.

`--stored N` first fills a template store with N earlier articles made the same way (through the
loop of (c), so they carry dedup keys, tags and alerts) and gives every variant a copy of it: the
SQLite file copied, or the Elasticsearch indices cloned (`_clone`, a hard-linked copy, seconds at
any size). `--backfill` dates the measured articles before everything stored (the alert history
a run replays then spans the whole store).

Elasticsearch: a node of the bench's own (`deploy/elasticsearch/local_es.py --name bench-e2e`,
started if not running and stopped at the end if started here), so nobody else's requests count
as its CPU; `--es-url URL` uses another one. Each round writes under its own index prefix,
deleted afterwards. One unmeasured round of (a) warms the node up first (`--no-warmup` skips it).

Results: benchmarks/results/e2e_bench.{json,md} (another --docs adds -docs<N>, --stored N adds
-stored<N>[-backfill], so the figures for several sizes sit side by side); progress lines on stderr.

    .venv/bin/python benchmarks/bench_e2e.py --docs 20000
    .venv/bin/python benchmarks/bench_e2e.py --docs 3000 --reps 2 --stores embedded,es
    .venv/bin/python benchmarks/bench_e2e.py --docs 20000 --stored 10000 --backfill
    .venv/bin/python benchmarks/bench_e2e.py render benchmarks/results/e2e_bench.json  # the .md again
    make bench-e2e
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.util
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from schemas.records import Article, DeadLetter

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BIN = Path(sys.executable).parent
WIREWATCH = str(BIN / "wirewatch")
LOCAL_ES = REPO / "deploy" / "elasticsearch" / "local_es.py"
ES_NODE = "bench-e2e"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wirewatch" / "bench-e2e"
# Bump when the recipe changes: the cached seed files are keyed by it (and by bench_runners' own).
RECIPE = "e2e-v1"
PER_DAY = 10  # articles a day
MEASURED_FROM = dt.date(2000, 1, 3)
# Seeds for compose(): the stored articles never share an index with the measured ones.
STORED_INDEX_BASE = 10_000_000
EXACT_SHARE = 0.2  # of the copies: the same text from another outlet
BEFORE_SHARE = 0.25  # of the copies: dated 1-3 days before their original
SECOND_COPY_SHARE = 0.2  # of the copies: a second (or third) copy of a story that already has one
OUTLETS = (
    "apnews.example",
    "reuters.example",
    "afp.example",
    "bbc.example",
    "dw.example",
    "yonhap.example",
    "tass.example",
    "nhk.example",
)
VARIANTS = {
    "a": "wirewatch run, DirectRunner, 1 worker",
    "b": "wirewatch run, DirectRunner, 2 workers (multi_processing)",
    "c": "hand-written loop, same functions, no Beam",
    "d": "floor: parse + bulk-write minimal documents",
}
STORES = {"embedded": "embedded store (SQLite)", "es": "Elasticsearch"}
TARGETS = (  # (name, numerator, denominator, minimum, stores it applies to)
    ("a ≥ 0.4 × d (articles/s)", "a", "d", 0.4, ("embedded", "es")),
    ("a ≥ 0.9 × c (articles/s)", "a", "c", 0.9, ("embedded", "es")),
    ("b ≥ 1.5 × a (articles/s)", "b", "a", 1.5, ("embedded",)),
)
MAX_CPU_MS = 1.0  # CPU ms per article of (a), ours
POLL_S = 0.5
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[bench-e2e {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the code the rounds run ------------------------------------------------------------------------

# What the rounds execute. Others edit the repository while the bench runs: by default every round
# runs one snapshot of a commit (`git archive`, put first on PYTHONPATH), not the working tree.
CODE_DIRS = ("pipelines", "connectors", "schemas", "seeds")


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def code_snapshot(ref: str) -> tuple[Path, str]:
    """The code folders of commit `ref`, extracted once under the cache: (folder, commit)."""
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    folder = CACHE / "code" / commit[:12]
    if not (folder / ".complete").is_file():
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", commit, *CODE_DIRS], capture_output=True, check=True
        ).stdout
        building = folder.parent / f".building-{uuid.uuid4().hex[:8]}"
        building.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(building, filter="data")
        (building / ".complete").touch()
        shutil.rmtree(folder, ignore_errors=True)
        building.rename(folder)
    return folder, commit


def code_digest(root: Path) -> str:
    """A short hash of every source file under `root`'s code folders."""
    h = hashlib.blake2b(digest_size=8)
    for folder in CODE_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".yaml", ".json", ".txt"):
                h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


# -- the corpus ------------------------------------------------------------------------------------


def recipe_version() -> str:
    from bench_runners import CORPUS_VERSION

    return f"{RECIPE}+{CORPUS_VERSION}"


@dataclass(frozen=True)
class Corpus:
    folder: Path
    info: dict[str, Any]

    @property
    def pattern(self) -> str:
        """What every variant reads: the seed files of every outlet folder."""
        return str(self.folder / "*" / "*.txt")

    @property
    def articles(self) -> int:
        return int(self.info["articles"])


def build_corpus(
    name: str, originals: int, copy_share: float, first_index: int, first_day: dt.date
) -> Corpus:
    """`originals` composed articles (compose() seeds first_index + n) from PER_DAY a day on, plus
    round(copy_share × originals) syndicated or exact copies; written once, then read from the cache."""
    folder = CACHE / recipe_version() / name
    manifest = folder / "corpus.json"
    if manifest.is_file():
        return Corpus(folder, json.loads(manifest.read_text(encoding="utf-8")))
    from bench_runners import compose, load_pool
    from eval_dedup import Doc, make_variants

    log(f"building corpus {name}: {originals:,} articles + {copy_share:.0%} copies …")
    started = time.monotonic()
    pool = load_pool()
    building = folder.parent / f".building-{uuid.uuid4().hex[:8]}"
    building.mkdir(parents=True)
    for outlet in OUTLETS:
        (building / outlet).mkdir()
    rng = random.Random(f"{RECIPE}:{name}")
    dates: list[dt.date] = []
    sizes: list[int] = []
    heads: list[tuple[str, str]] = []  # (headline, rest) of each original
    outlet_of: list[str] = []

    def write(outlet: str, stem: str, day: dt.date, text: str) -> None:
        (building / outlet / f"{stem}.txt").write_text(f" date {day.isoformat()} {text}\n", encoding="utf-8")
        dates.append(day)
        sizes.append(len(text.encode()))

    for n in range(originals):
        text = compose(pool, first_index + n)
        headline, _, rest = text.partition("\n\n")
        heads.append((headline, rest))
        outlet = OUTLETS[rng.randrange(len(OUTLETS))]
        outlet_of.append(outlet)
        write(outlet, f"o{first_index + n:08d}", first_day + dt.timedelta(days=n // PER_DAY), text)
        if n and n % 5000 == 0:
            log(f"  {n:,} originals written")
    copies = round(copy_share * originals)
    firsts = rng.sample(range(originals), min(originals, copies - round(copies * SECOND_COPY_SHARE)))
    origins = firsts + [rng.choice(firsts) for _ in range(copies - len(firsts))] if firsts else []
    recipes: Counter[str] = Counter()
    before = 0
    copies_of: Counter[int] = Counter()
    for n in origins:
        copies_of[n] += 1
        crng = random.Random(f"{RECIPE}:{name}:{n}:{copies_of[n]}")
        headline, rest = heads[n]
        if crng.random() < EXACT_SHARE:
            recipe, text = "exact", f"{headline}\n\n{rest}"
        else:
            doc = Doc(key=str(n), source="bench", title=headline, text=rest, origin=n, kind="original")
            variant = crng.choice(make_variants(doc, crng))
            recipe = variant.kind
            # Recipes with a new headline put it first; the others keep the original one.
            text = (
                variant.text if "headline" in recipe or recipe == "all" else f"{headline}\n\n{variant.text}"
            )
        recipes[recipe] += 1
        day = first_day + dt.timedelta(days=n // PER_DAY)
        if crng.random() < BEFORE_SHARE:
            day -= dt.timedelta(days=crng.randint(1, 3))
            before += 1
        else:
            day += dt.timedelta(days=crng.randint(0, 2))
        outlet = crng.choice([o for o in OUTLETS if o != outlet_of[n]])
        write(outlet, f"c{first_index + n:08d}-{copies_of[n]}", day, text)
    ordered = sorted(sizes)
    info: dict[str, Any] = {
        "recipe": recipe_version(),
        "name": name,
        "articles": originals + len(origins),
        "originals": originals,
        "copies": len(origins),
        "copy_share": round(len(origins) / max(originals, 1), 4),
        "stories_with_copies": len(copies_of),
        "copies_by_recipe": dict(sorted(recipes.items())),
        "copies_dated_before_original": before,
        "outlets": list(OUTLETS),
        "articles_per_day": PER_DAY,
        "first_date": min(dates).isoformat(),
        "last_date": max(dates).isoformat(),
        "bytes": {"min": ordered[0], "median": ordered[len(ordered) // 2], "max": ordered[-1]},
        "sources": {
            "feeds": pool.feeds,
            "feed_entries": pool.feed_entries,
            "ground_truth_articles": pool.articles,
            "texts": len(pool.texts),
            "sentences": pool.sentences,
            "headlines": len(pool.headlines),
        },
    }
    (building / "corpus.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    if folder.exists():  # a half-written folder of an interrupted older run
        shutil.rmtree(folder)
    building.rename(folder)
    log(f"wrote {info['articles']:,} seed files in {time.monotonic() - started:.0f} s into {folder}")
    return Corpus(folder, info)


def measured_corpus(docs: int, copy_share: float) -> Corpus:
    return build_corpus(f"measured-{docs}-copies{copy_share:g}", docs, copy_share, 0, MEASURED_FROM)


def stored_corpus(stored: int, copy_share: float, measured: Corpus, backfill: bool) -> Corpus:
    """N earlier articles (or, for --backfill, N later ones: the measured run then fills in the past)."""
    days = -(-round(stored * (1 + copy_share)) // PER_DAY) + 4
    if backfill:
        first = dt.date.fromisoformat(measured.info["last_date"]) + dt.timedelta(days=4)
    else:
        first = dt.date.fromisoformat(measured.info["first_date"]) - dt.timedelta(days=days)
    name = f"stored-{stored}-copies{copy_share:g}-from-{first.isoformat()}"
    return build_corpus(name, stored, copy_share, STORED_INDEX_BASE, first)


# -- variant (c) and (d): the pipeline's functions without Beam, run as `bench_e2e.py loop` ------


def _loop_imports_failed(exc: ImportError) -> SystemExit:
    return SystemExit(
        f"bench_e2e loop: cannot import {exc.name or '?'}: {exc}. Variant (c) calls the functions the "
        "pipeline's DoFns call, by their public names; one moved or was renamed: update the imports in "
        "benchmarks/bench_e2e.py (loop_full / loop_floor) to the new place."
    )


class _Stages:
    """CPU and wall seconds per stage of the loop."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self._name = ""
        self._cpu = self._wall = 0.0

    def start(self, name: str) -> None:
        self.stop()
        self._name, self._cpu, self._wall = name, time.process_time(), time.monotonic()

    def stop(self) -> None:
        if self._name:
            self.cpu[self._name] = round(self.cpu.get(self._name, 0.0) + time.process_time() - self._cpu, 3)
            self.wall[self._name] = round(self.wall.get(self._name, 0.0) + time.monotonic() - self._wall, 3)
            self._name = ""


class _Writer:
    """The store's bulk write, as the pipeline's sinks do it: LocalStore.write_articles per batch of
    localstoreio.DEFAULT_BATCH_SIZE, or Elasticsearch `create` bulks through connectors.es_client of
    the documents the sink sends (`connectors.elasticsearchio.article_source`, the JSON bytes;
    `es_indices.article_document` in code from before it)."""

    def __init__(self, config: Any) -> None:
        es = config.elasticsearch
        self.created = self.duplicates = self.rejected = 0
        try:
            if es is None:
                from connectors.localstore import LocalStore
                from connectors.localstoreio import DEFAULT_BATCH_SIZE

                self._local: Any = LocalStore(config.store_path)
                self.batch_size = DEFAULT_BATCH_SIZE
                self._client: Any = None
            else:
                from connectors.elasticsearchio import DEFAULT_BATCH_SIZE as ES_BATCH
                from connectors.es_client import make_client
                from connectors.es_indices import IndexNames, ensure_indices

                self._local = None
                self._client = make_client(es.resolve())
                self._names = IndexNames(config.es_index_prefix)
                ensure_indices(self._client, self._names)
                self._retry = config.es_retry
                self._url = es.url
                try:
                    from connectors.elasticsearchio import article_source

                    self._encode: Any = article_source
                except ImportError:
                    from connectors.es_indices import article_document

                    self._encode = article_document
                self.batch_size = ES_BATCH
        except ImportError as exc:
            raise _loop_imports_failed(exc) from exc

    def articles(self, articles: Sequence[Article]) -> None:
        for start in range(0, len(articles), self.batch_size):
            batch = articles[start : start + self.batch_size]
            if self._local is not None:
                counts = self._local.write_articles(batch)
                self.created += counts.written
                self.duplicates += counts.duplicates
                continue
            from connectors.elasticsearchio import DEFAULT_MAX_BATCH_BYTES
            from connectors.es_client import bulk_write, raise_if_exhausted

            docs = [(a.id, self._encode(a)) for a in batch]
            outcomes = bulk_write(
                self._client,
                self._names.articles_alias,
                docs,
                op_type="create",
                retry=self._retry,
                chunk_size=len(docs),
                max_chunk_bytes=DEFAULT_MAX_BATCH_BYTES,
            )
            raise_if_exhausted(outcomes, self._url)
            for outcome in outcomes:
                if outcome.status == "created":
                    self.created += 1
                elif outcome.status == "duplicate":
                    self.duplicates += 1
                else:
                    self.rejected += 1  # the sink makes these dead letters; none are expected here

    def dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        if not letters:
            return 0
        if self._local is not None:
            return int(self._local.write_dead_letters(letters))
        from connectors.es_client import bulk_write
        from connectors.es_indices import dead_letter_document

        docs = [(d.id, dead_letter_document(d)) for d in letters]
        bulk_write(self._client, self._names.deadletters_alias, docs, op_type="index", retry=self._retry)
        return len(docs)

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
        if self._client is not None:
            self._client.close()


class _Tally:
    """Counts decisions as pipelines.dedup's counters do (re-reads are the sink's to count)."""

    def __init__(self) -> None:
        self.canonical = self.folded = self.near = 0

    def count(self, decision: Any) -> None:
        if decision.already_stored:
            return
        if decision.duplicate_of is None:
            self.canonical += 1
            return
        self.folded += 1
        self.near += decision.reason == "near"


def _read_seeds(pattern: str, max_bytes: int, run_id: str, now: dt.datetime) -> tuple[list[Any], list[Any]]:
    """The seed connector's listing, read and parse (connectors.seedio), bad files as dead letters."""
    try:
        from connectors.seedio import list_seed_paths, read_seed
        from schemas.records import DeadLetter
    except ImportError as exc:
        raise _loop_imports_failed(exc) from exc
    records: list[Any] = []
    dead: list[Any] = []
    for path in list_seed_paths(pattern):
        read = read_seed(path, max_bytes, run_id=run_id, now=now)
        (dead if isinstance(read, DeadLetter) else records).append(read)
    return records, dead


def _lookup(lookup_chunk: Any, index: Any, fps: list[Any], near: Any) -> list[tuple[Any, ...]]:
    """`pipelines.dedup.lookup_chunk` (each fingerprint's stored matches), also in a snapshot from
    before it matched them itself (it returned the chunk's answer, and `relevant` picked)."""
    import inspect

    if len(inspect.signature(lookup_chunk).parameters) == 3:
        return list(lookup_chunk(index, fps, near))
    from pipelines.dedup import relevant  # type: ignore[attr-defined]

    stored = [doc.with_signature(near) for doc in lookup_chunk(index, fps)]
    return [tuple(relevant(fp, stored)) for fp in fps]


def loop_full(config: Any) -> dict[str, Any]:
    """Variant (c): what the batch graph does (pipelines.ingest.build), stage after stage, in one
    process, calling the functions its DoFns call."""
    stages = _Stages()
    stages.start("imports and setup")
    try:
        from pydantic import ValidationError

        from connectors.alert_channels import notify
        from connectors.store import OwnArticles
        from pipelines.alert_match import Facts, RuleMachine, applies
        from pipelines.alerts import HistoryReplay, query_matcher, reliability_of
        from pipelines.dedup import LOOKUP_CHUNK, decide_together, lookup_chunk
        from pipelines.ingest import sink_for
        from pipelines.normalize import STAGE as NORMALIZE_STAGE
        from pipelines.normalize import normalize_record
        from pipelines.tag_fields import apply_tags
        from pipelines.tag_match import Tagger
        from schemas.actors import DEFAULT_FOLDER
        from schemas.alerts import AlertRules, merge_alert
        from schemas.dedup import Candidate, Decision, apply_decision, fingerprint, with_keys
        from schemas.errors import BadRecordError
        from schemas.records import DeadLetter, PipelineInfo
        from schemas.topics import DEFAULT_FILE as DEFAULT_TOPICS
    except ImportError as exc:
        raise _loop_imports_failed(exc) from exc

    sink = sink_for(config)
    now = dt.datetime.now(dt.UTC)
    stages.start("read + parse seeds")
    raws, dead = _read_seeds(config.seeds, config.max_seed_bytes, config.run_id, now)
    summary: dict[str, Any] = {"read": len(raws) + len(dead)}

    stages.start("normalize")
    info = PipelineInfo(version=config.version, run_id=config.run_id)
    articles = []
    for raw in raws:
        try:
            articles.append(normalize_record(raw, ingested_at=config.started_at, pipeline=info))
        except (BadRecordError, ValidationError) as exc:
            dead.append(
                DeadLetter.build(
                    stage=NORMALIZE_STAGE,
                    error_type=type(exc).__name__,
                    error=exc.reason if isinstance(exc, BadRecordError) else str(exc),
                    payload=raw.model_dump_json(),
                    source=raw.uri,
                    occurred_at=dt.datetime.now(dt.UTC),
                    run_id=config.run_id,
                )
            )
    summary["normalized"] = len(articles)

    # Deduplicate, as the batch graph does (pipelines.dedup): fingerprints, and the stored articles
    # sharing their keys looked up LOOKUP_CHUNK articles per store query; then one DuplicateResolver
    # over the whole run in first-seen order (the graph decides each copy group that way, which gives
    # the same decisions); copies of this run's canonical articles go into their documents, copies of
    # stored ones become lineage updates.
    stages.start("dedup: fingerprint + store lookups")
    tally = _Tally()
    lineage: list[Any] = []
    index = None
    if config.dedup.enabled:
        index = sink.open_dedup_index()
        candidates: list[Any] = []  # fingerprints with the stored articles sharing a key
        for start in range(0, len(articles), LOOKUP_CHUNK):
            fps = [fingerprint(a, config.dedup) for a in articles[start : start + LOOKUP_CHUNK]]
            found = _lookup(lookup_chunk, index, fps, config.dedup.near)
            candidates += [Candidate(fp, stored) for fp, stored in zip(fps, found, strict=True)]
        stages.start("dedup: decide (one resolver, first-seen order)")
        decided, lineage = decide_together(candidates, config.dedup, tally.count)
        resolved = {c.fingerprint.article_id: c for c in decided}  # a story read twice: one decision
        stages.start("dedup: apply")
        marked = []
        for article in articles:
            c = resolved[article.id]
            marked.append(with_keys(apply_decision(article, c.decision, c.copies), c.fingerprint))
        articles = marked
    else:
        articles = [apply_decision(a, Decision(a.id)) for a in articles]  # Deduplicate's OwnLineage
    summary |= {"canonical": tally.canonical, "duplicates": tally.folded, "near_duplicates": tally.near}

    stages.start("tag: build tagger")
    tagger = Tagger.from_files(DEFAULT_FOLDER, DEFAULT_TOPICS)
    stages.start("tag")
    articles = [apply_tags(a, tagger.tag(a.title, a.body)) for a in articles]
    summary["tagged"] = len(articles)

    # Alerts, as pipelines.alerts.EvaluateAlerts (batch) and connectors.alertio.DeliverAlerts.
    stages.start("alerts: match")
    fired = updated = failed = 0
    if config.alerts is not None and config.alerts.rules:
        rules = AlertRules(
            version=config.alerts.version, rules=tuple(r for r in config.alerts.rules if r.enabled)
        )
        by_id = {rule.id: rule for rule in rules.rules}
        reliability = reliability_of(config.feeds)
        query = query_matcher(rules)
        needs_doc = any(rule.when.query for rule in rules.rules)
        matched: dict[str, list[Any]] = defaultdict(list)
        out = []
        for article in articles:
            facts = Facts.of_article(article, reliability=reliability.get(article.source.feed_url or ""))
            if needs_doc:
                facts = facts.with_doc(article.model_dump(mode="json"))
            met = [rule for rule in rules.rules if applies(rule, facts, query)]
            out.append(
                article.model_copy(update={"alerts": tuple(rule.id for rule in met)}) if met else article
            )
            for rule in met:
                matched[rule.id].append(facts.without_doc())
        articles = out
        stages.start("alerts: history + decide")
        alert_store = sink.open_alert_store()
        history: dict[str, list[Any]] = defaultdict(list)
        if any(rule.lookback_s for rule in rules.rules):
            replay = HistoryReplay(
                rules, reliability, OwnArticles(run_id=config.run_id, started_at=config.started_at)
            )
            replay.setup()
            # Each rule's span of this run's event times (first, last), as the graph's EventSpanPerRule.
            spans = {
                rule_id: (min(f.event_time for f in found), max(f.event_time for f in found))
                for rule_id, found in matched.items()
            }
            try:
                for rule_id, facts in replay.read(alert_store, spans):
                    history[rule_id].append(facts)
            except TypeError as exc:
                raise SystemExit(
                    f"bench_e2e loop: pipelines.alerts.HistoryReplay.read refused the rules' event spans "
                    f"({exc}): its arguments changed; update loop_full to what EvaluateAlerts passes it"
                ) from exc
        alerts: list[Any] = []
        for rule_id, run in matched.items():
            ids = {f.id for f in run}
            past = [f for f in history.get(rule_id, ()) if f.id not in ids]
            machine = RuleMachine(by_id[rule_id], rules.version)
            latest: dict[str, Any] = {}
            for facts in sorted([*past, *run], key=lambda f: (f.event_time, f.id)):
                for alert in machine.observe(facts, dt.datetime.now(dt.UTC)):
                    latest[alert.id] = alert
            alerts += latest.values()
        stages.start("alerts: deliver + store")
        channels = {rule.id: rule.channels for rule in config.alerts.rules}
        stream = sys.stderr if config.alert_lines == "stderr" else sys.stdout
        for alert in alerts:
            stored_alert = alert_store.get_alert(alert.id)
            if stored_alert is None:
                sent = notify(alert, channels.get(alert.rule_id, ()), stdout=stream)
                failed += sum(1 for n in sent if n.status == "failed")
                alert = alert.model_copy(update={"notifications": (*alert.notifications, *sent)})
                fired += 1
            elif merge_alert(stored_alert, alert).model_copy(
                update={"updated_at": stored_alert.updated_at}
            ) == (stored_alert):
                continue  # connectors.alertio: storing it would change nothing
            else:
                updated += 1
            alert_store.upsert_alert(alert)
        alert_store.close()
    summary |= {"alerts_fired": fired, "alerts_updated": updated, "notifications_failed": failed}

    stages.start("write articles")
    writer = _Writer(config)
    writer.articles(articles)
    stages.start("lineage updates")
    for update in lineage:
        assert index is not None
        if not index.add_sightings(update):
            raise RuntimeError(f"lineage: canonical article {update.canonical_id} is not stored")
    if index is not None:
        index.close()
    stages.start("dead letters")
    summary["dead_letters"] = writer.dead_letters(dead)
    summary |= {
        "written": writer.created,
        "already_stored": writer.duplicates,
        "rejected_by_store": writer.rejected,
    }
    writer.close()
    stages.stop()
    return summary | {"stage_cpu_s": stages.cpu, "stage_wall_s": stages.wall}


def loop_floor(config: Any) -> dict[str, Any]:
    """Variant (d): read + parse the seed files and bulk-write minimal article documents."""
    stages = _Stages()
    stages.start("imports and setup")
    try:
        from schemas.ids import article_id_from_content, content_hash
        from schemas.records import Article, PipelineInfo
    except ImportError as exc:
        raise _loop_imports_failed(exc) from exc
    now = dt.datetime.now(dt.UTC)
    stages.start("read + parse seeds")
    raws, dead = _read_seeds(config.seeds, config.max_seed_bytes, config.run_id, now)
    stages.start("minimal documents")
    info = PipelineInfo(version=config.version, run_id=config.run_id)
    articles = []
    for raw in raws:
        digest = content_hash(raw.body)  # a seed's id is its content hash
        articles.append(
            Article(
                id=article_id_from_content(digest),
                source=raw.source,
                title=raw.title or raw.body[:80],
                body=raw.body,
                published_at=raw.published_at,
                ingested_at=now,
                word_count=0,
                content_hash=digest,
                pipeline=info,
            )
        )
    stages.start("write articles")
    writer = _Writer(config)
    writer.articles(articles)
    written = writer.dead_letters(dead)
    writer.close()
    stages.stop()
    return {
        "read": len(raws) + len(dead),
        "normalized": 0,
        "written": writer.created,
        "already_stored": writer.duplicates,
        "dead_letters": written,
        "stage_cpu_s": stages.cpu,
        "stage_wall_s": stages.wall,
    }


def loop_main(argv: list[str]) -> None:
    """`bench_e2e.py loop --mode full|floor` + the flags of `wirewatch run`: prints a JSON summary."""
    parser = argparse.ArgumentParser(prog="bench_e2e.py loop")
    parser.add_argument("--mode", choices=("full", "floor"), required=True)
    mode, flags = parser.parse_known_args(argv)
    started = time.monotonic()
    try:
        from apache_beam.options.pipeline_options import PipelineOptions

        from pipelines.options import load_config
    except ImportError as exc:
        raise _loop_imports_failed(exc) from exc
    # The same flags, validated the same way, as `wirewatch run` (rules, dedup knobs, run id).
    config = load_config(PipelineOptions(flags))
    if config.elasticsearch is None:
        from connectors.localstore import LocalStore

        LocalStore(config.store_path).close()  # as pipelines.ingest.run
    try:  # every variant runs with the collector settings of the pipeline's workers
        from pipelines.worker_gc import tune_for_throughput

        tune_for_throughput()
    except ImportError:
        pass  # code from before the workers tuned their collector
    summary = loop_full(config) if mode.mode == "full" else loop_floor(config)
    import pipelines

    code = str(Path(pipelines.__file__).resolve().parents[1])
    summary |= {"run_id": config.run_id, "elapsed_s": round(time.monotonic() - started, 3), "code": code}
    print(json.dumps(summary))


# -- measuring one round ---------------------------------------------------------------------------


class TreeSampler(threading.Thread):
    """CPU of every live descendant of `root`, polled from /proc (the last value seen of each)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.last: dict[int, int] = {}
        self.peak_processes = 0
        self.done = threading.Event()

    def sample(self) -> None:
        from bench_runners import descendants, processes

        table = processes()
        found = descendants(self.root, table)
        self.peak_processes = max(self.peak_processes, len(found))
        for pid in found:
            self.last[pid] = table[pid].own

    def run(self) -> None:
        while not self.done.wait(POLL_S):
            self.sample()

    def stop(self) -> float:
        self.done.set()
        self.join()
        return sum(self.last.values()) / CLK_TCK


@dataclass
class Target:
    """Where one round writes: a fresh SQLite file or a fresh index prefix."""

    store: str
    flags: list[str]
    path: Path | None = None
    prefix: str | None = None


@dataclass
class Bench:
    es_url: str | None
    work: Path
    logs: Path
    timeout_s: float
    template_db: Path | None = None
    template_prefix: str | None = None
    stored: int = 0
    es_client: Elasticsearch | None = None
    code_root: Path = REPO
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    # -- stores --

    def es(self) -> Elasticsearch:
        assert self.es_client is not None, "--stores es needs Elasticsearch"
        return self.es_client

    def target(self, store: str, label: str) -> Target:
        if store == "embedded":
            path = self.work / f"{label}.db"
            remove_db(path)
            if self.template_db is not None:
                for suffix in ("", "-wal", "-shm"):
                    source = Path(f"{self.template_db}{suffix}")
                    if source.exists():
                        shutil.copyfile(source, f"{path}{suffix}")
            return Target(store, ["--store", str(path)], path=path)
        assert self.es_url is not None
        prefix = f"bench-e2e-{label}-{uuid.uuid4().hex[:6]}"
        target = Target(store, ["--es-url", self.es_url, "--es-index-prefix", prefix], prefix=prefix)
        if self.template_prefix is not None:
            try:
                clone_prefix(self.es(), self.template_prefix, prefix)
            except BaseException:
                self.drop(target)
                raise
        return target

    def drop(self, target: Target) -> None:
        if target.path is not None:
            remove_db(target.path)
        if target.prefix is not None:
            from bench_runners import delete_prefix

            delete_prefix(self.es(), target.prefix)

    def es_cpu_s(self) -> float:
        if self.es_client is None:
            return 0.0
        from bench_runners import es_cpu_s

        return es_cpu_s(self.es_client)

    def check_code(self) -> None:
        """The rounds' processes import the code under test: `code_root`, not the working tree."""
        probe = "import pipelines, pathlib; print(pathlib.Path(pipelines.__file__).resolve().parents[1])"
        found = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            cwd=self.work,
            env=self.env,
            check=True,
        ).stdout.strip()
        if Path(found) != self.code_root.resolve():
            raise SystemExit(f"bench_e2e: the rounds would import {found}, not {self.code_root}")

    # -- one round --

    def others_cores(self, window_s: float = 3.0) -> float:
        """Cores busy over a short window with work that is not ours (not Elasticsearch, not the bench)."""
        from bench_runners import machine_busy_s, own_cpu_s

        machine, es, own = machine_busy_s(), self.es_cpu_s(), own_cpu_s()
        time.sleep(window_s)
        return (machine_busy_s() - machine - (self.es_cpu_s() - es) - (own_cpu_s() - own)) / window_s

    def wait_quiet(self, limit: float, max_s: float) -> dict[str, float]:
        """Before a round: wait (at most `max_s`) until other people's work uses fewer than `limit` cores."""
        started = time.monotonic()
        others = self.others_cores()
        while others >= limit and time.monotonic() - started < max_s:
            log(f"  other processes use {others:.2f} cores: waiting …")
            others = self.others_cores()
        return {"cores": round(others, 2), "waited_s": round(time.monotonic() - started, 1)}

    def command(self, variant: str, pattern: str, target: Target) -> list[str]:
        if variant in ("a", "b"):
            workers = ["--direct_num_workers=1"]
            if variant == "b":
                workers = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
            return [
                WIREWATCH,
                "run",
                "--seeds",
                pattern,
                *target.flags,
                "--json",
                "--alert-lines",
                "stderr",
                *workers,
            ]
        mode = "full" if variant == "c" else "floor"
        return loop_command(mode, pattern, target.flags)

    def round(self, variant: str, store: str, rep: int, corpus: Corpus) -> dict[str, Any]:
        from bench_runners import machine_busy_s, own_cpu_s

        label = f"{store}-{variant}{rep}"
        target = self.target(store, label)
        command = self.command(variant, corpus.pattern, target)
        log_path = self.logs / f"{label}.log"
        code = code_digest(self.code_root)
        try:
            load_before = os.getloadavg()
            since = dt.datetime.now(dt.UTC)
            es_before = self.es_cpu_s()
            machine_before, bench_before = machine_busy_s(), own_cpu_s()
            started = time.monotonic()
            with open(log_path, "w", encoding="utf-8") as log_file:
                process = subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=log_file,
                    text=True,
                    start_new_session=True,
                    cwd=self.work,
                    env=self.env,
                )
                sampler = TreeSampler(process.pid)
                sampler.start()
                timer = threading.Timer(self.timeout_s, lambda: os.killpg(process.pid, signal.SIGKILL))
                timer.start()
                assert process.stdout is not None
                out = process.stdout.read()
                _, status, usage = os.wait4(process.pid, 0)
                timer.cancel()
            wall = time.monotonic() - started
            sampled = sampler.stop()
            machine_used, bench_used = machine_busy_s() - machine_before, own_cpu_s() - bench_before
            es_used = self.es_cpu_s() - es_before
            load_after = os.getloadavg()
            exit_code = os.waitstatus_to_exitcode(status)
            if exit_code != 0:
                tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(f"{label}: exit {exit_code}; {log_path}: " + " | ".join(tail))
            summary = json.loads(out)
            if "code" in summary and Path(summary["code"]) != self.code_root.resolve():
                raise RuntimeError(f"{label} ran the code in {summary['code']}, not {self.code_root}")
            stored = self.check(target, since)
        finally:
            self.drop(target)
        waited = usage.ru_utime + usage.ru_stime
        cpu = max(waited, sampled)
        read = int(summary["read"])
        others = machine_used - cpu - es_used - bench_used
        return {
            "store": store,
            "variant": variant,
            "rep": rep,
            "command": " ".join(command),
            "read": read,
            "summary": {k: v for k, v in summary.items() if k != "rejected"},
            "wall_s": round(wall, 2),
            "articles_per_s": round(read / wall, 1),
            "cpu_s": round(cpu, 2),
            "cpu_s_wait4": round(waited, 2),
            "cpu_s_proc_sampled": round(sampled, 2),
            "processes_peak": sampler.peak_processes,
            "cpu_ms_per_article": round(1000 * cpu / max(read, 1), 3),
            "es_cpu_s": round(es_used, 2),
            "es_cpu_ms_per_article": round(1000 * es_used / max(read, 1), 3),
            "other_processes_cores": round(others / wall, 2),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in load_after],
            "stored_after": stored,
            "code_digest": code if code == code_digest(self.code_root) else "changed during the round",
            "log": str(log_path),
        }

    # -- what a round stored --

    def check(self, target: Target, since: dt.datetime) -> dict[str, Any]:
        """The articles this round stored (ingested since it started): canonical ones, copies, and a
        digest of every (id, duplicate_of, source_count, alerts); the alerts stored and their digest."""
        rows: list[tuple[str, str, int, str]] = []
        alerts: list[tuple[str, int, int]] = []
        total = 0
        if target.path is not None:
            db = sqlite3.connect(f"file:{target.path}?mode=ro", uri=True)
            try:
                total = db.execute("SELECT count(*) FROM articles").fetchone()[0]
                for article_id, duplicate_of, count, met in db.execute(
                    "SELECT id, json_extract(doc, '$.duplicate_of'), json_extract(doc, '$.source_count'), "
                    "json_extract(doc, '$.alerts') FROM articles WHERE ingested_at >= ?",
                    (since.isoformat(),),
                ):
                    rows.append(
                        (article_id, duplicate_of or "", int(count or 0), ",".join(json.loads(met or "[]")))
                    )
                for alert_id, article_count, source_count in db.execute(
                    "SELECT id, json_extract(doc, '$.article_count'), json_extract(doc, '$.source_count') "
                    "FROM alerts"
                ):
                    alerts.append((alert_id, int(article_count), int(source_count)))
            finally:
                db.close()
        else:
            from elasticsearch import helpers

            assert target.prefix is not None
            client = self.es()
            client.indices.refresh(index=f"{target.prefix}-*")
            total = client.count(index=f"{target.prefix}-articles")["count"]
            query = {"range": {"ingested_at": {"gte": since.isoformat()}}}
            for hit in helpers.scan(
                client,
                index=f"{target.prefix}-articles",
                query={"query": query, "_source": ["duplicate_of", "source_count", "alerts"]},
                size=2000,
            ):
                source = hit["_source"]
                met = source.get("alerts") or []
                met = ",".join(met if isinstance(met, list) else [met])
                rows.append(
                    (hit["_id"], source.get("duplicate_of") or "", int(source.get("source_count") or 0), met)
                )
            for hit in helpers.scan(
                client,
                index=f"{target.prefix}-alerts",
                query={"_source": ["article_count", "source_count"]},
                size=2000,
            ):
                source = hit["_source"]
                alerts.append(
                    (hit["_id"], int(source.get("article_count") or 0), int(source.get("source_count") or 0))
                )
        rows.sort()
        alerts.sort()
        return {
            "articles_in_store": total,
            "articles_this_run": len(rows),
            "canonical": sum(1 for r in rows if not r[1]),
            "copies": sum(1 for r in rows if r[1]),
            "sources_seen_total": sum(r[2] for r in rows if not r[1]),
            "articles_with_alerts": sum(1 for r in rows if r[3]),
            "alerts_in_store": len(alerts),
            "articles_digest": digest(rows),
            "alerts_digest": digest(alerts),
        }


def loop_command(mode: str, pattern: str, flags: list[str]) -> list[str]:
    """Variant (c) (`full`) or (d) (`floor`) in a process of its own, with `wirewatch run`'s flags."""
    script = str(Path(__file__).resolve())
    return [
        sys.executable,
        script,
        "loop",
        "--mode",
        mode,
        "--seeds",
        pattern,
        *flags,
        "--alert-lines",
        "stderr",
    ]


def digest(rows: Sequence[tuple[Any, ...]]) -> str:
    return hashlib.blake2b(json.dumps(rows).encode(), digest_size=6).hexdigest()


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def clone_prefix(client: Elasticsearch, template: str, prefix: str) -> None:
    """Give `prefix` a copy of the template prefix's articles and alerts: `_clone` of the (write-
    blocked) indices behind its aliases, the clones made writable and put behind the new aliases;
    the rest (templates, dead letters, feed state) the writers install as on a fresh prefix."""
    from connectors.es_indices import IndexNames, ensure_indices

    source, names = IndexNames(template), IndexNames(prefix)
    for source_index, index, alias in (
        (source.articles_first_index, names.articles_first_index, names.articles_alias),
        (source.alerts_first_index, names.alerts_first_index, names.alerts_alias),
    ):
        client.indices.clone(
            index=source_index,
            target=index,
            # A clone keeps its source's settings but the replicas (one by default: never allocated
            # on a single node) and the write block (which cloning needs).
            settings={"index.blocks.write": None, "index.number_of_replicas": 0},
            wait_for_active_shards="1",
        )
        client.indices.put_alias(index=index, name=alias, is_write_index=True)
    ensure_indices(client, names)
    client.cluster.health(index=f"{prefix}-*", wait_for_status="green", timeout="60s")


# -- Elasticsearch ----------------------------------------------------------------------------------


def own_es_node() -> tuple[str, bool]:
    """The bench's own node: (url, started here)."""
    status = subprocess.run(
        [sys.executable, str(LOCAL_ES), "url", "--name", ES_NODE], capture_output=True, text=True, check=False
    )
    if status.returncode == 0:
        return status.stdout.strip(), False
    log(f"starting Elasticsearch node {ES_NODE!r} (deploy/elasticsearch/local_es.py) …")
    started = subprocess.run(
        [sys.executable, str(LOCAL_ES), "start", "--name", ES_NODE],
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode != 0:
        raise SystemExit(f"bench_e2e: could not start Elasticsearch: {started.stderr.strip()[-500:]}")
    return started.stdout.strip().splitlines()[-1], True


def stop_es_node() -> None:
    subprocess.run(
        [sys.executable, str(LOCAL_ES), "stop", "--name", ES_NODE], capture_output=True, check=False
    )


# -- pre-filled stores -------------------------------------------------------------------------------


def prefill(bench: Bench, stores: Sequence[str], corpus: Corpus) -> dict[str, Any]:
    """Fill one template store per kind with the stored corpus through the loop of (c)."""
    done: dict[str, Any] = {"articles": corpus.articles, "corpus": corpus.info}
    for store in stores:
        started = time.monotonic()
        if store == "embedded":
            path = bench.work / "template.db"
            remove_db(path)
            flags = ["--store", str(path)]
        else:
            assert bench.es_url is not None
            prefix = f"bench-e2e-template-{uuid.uuid4().hex[:6]}"
            flags = ["--es-url", bench.es_url, "--es-index-prefix", prefix]
        log(f"pre-filling the {STORES[store]} with {corpus.articles:,} stored articles (loop of (c)) …")
        command = loop_command("full", corpus.pattern, flags)
        with open(bench.logs / f"prefill-{store}.log", "w", encoding="utf-8") as log_file:
            finished = subprocess.run(
                command,
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
                cwd=bench.work,
                env=bench.env,
                check=False,
            )
        if finished.returncode != 0:
            raise SystemExit(f"bench_e2e: pre-filling failed, see {bench.logs / f'prefill-{store}.log'}")
        summary = json.loads(finished.stdout)
        if store == "embedded":
            bench.template_db = path
        else:
            client = bench.es()
            names = [f"{prefix}-articles-000001", f"{prefix}-alerts-000001"]
            client.indices.refresh(index=",".join(names))
            client.indices.put_settings(index=",".join(names), settings={"index.blocks.write": True})
            bench.template_prefix = prefix
        seconds = round(time.monotonic() - started, 1)
        done[store] = {"seconds": seconds, "summary": {k: v for k, v in summary.items() if "stage" not in k}}
        log(f"  pre-filled in {seconds:,} s: {summary['written']:,} articles written")
    return done


# -- report ----------------------------------------------------------------------------------------


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        groups[(r["store"], r["variant"])].append(r)
    for (store, variant), group in groups.items():
        out[store][variant] = {
            "rounds": len(group),
            **{
                key: round(statistics.median(r[key] for r in group), 3)
                for key in (
                    "articles_per_s",
                    "wall_s",
                    "cpu_ms_per_article",
                    "es_cpu_ms_per_article",
                    "cpu_s",
                )
            },
            "articles_per_s_each": [r["articles_per_s"] for r in group],
        }
    return dict(out)


def ratios(summary: dict[str, dict[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for store, variants in summary.items():
        rows = []
        for name, top, bottom, minimum, applies_to in TARGETS:
            if top in variants and bottom in variants:
                value = variants[top]["articles_per_s"] / variants[bottom]["articles_per_s"]
                rows.append(
                    {
                        "target": name,
                        "value": round(value, 3),
                        "minimum": minimum,
                        "applies": store in applies_to,
                        "met": value >= minimum,
                    }
                )
        if "a" in variants:
            value = variants["a"]["cpu_ms_per_article"]
            rows.append(
                {
                    "target": f"a: CPU ≤ {MAX_CPU_MS} ms/article (ours)",
                    "value": value,
                    "maximum": MAX_CPU_MS,
                    "applies": True,
                    "met": value <= MAX_CPU_MS,
                }
            )
        out[store] = rows
    return out


AGREEMENT_KEYS = (
    "canonical",
    "copies",
    "sources_seen_total",
    "articles_with_alerts",
    "alerts_in_store",
    "articles_digest",
    "alerts_digest",
)


def agreement(runs: list[dict[str, Any]], store: str) -> dict[str, Any]:
    """Whether the pipeline variants (a, b, c) stored the same decisions, round after round, and
    where not, which figures differ (each value with the rounds that stored it)."""
    rounds = [r for r in runs if r["store"] == store and r["variant"] in "abc"]
    differ: dict[str, dict[str, list[str]]] = {}
    for key in AGREEMENT_KEYS:
        values: dict[str, list[str]] = defaultdict(list)
        for r in rounds:
            values[str(r["stored_after"][key])].append(f"{r['variant']}{r['rep']}")
        if len(values) > 1:
            differ[key] = dict(values)
    by_round = {f"{r['variant']}{r['rep']}": [r["stored_after"][k] for k in AGREEMENT_KEYS] for r in rounds}
    return {"agree": not differ, "differ": differ, "by_round": by_round}


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def store_lines(result: dict[str, Any], store: str) -> list[str]:
    runs = [r for r in result["runs"] if r["store"] == store]
    summary = result["medians"].get(store, {})
    header = ["variant", "median articles/s", "rounds (articles/s)", "median wall s", "CPU ms/article (ours)"]
    header += [
        "ES CPU ms/article",
        "read",
        "canonical / folded (near) / read twice",
        "written",
        "alerts fired",
    ]
    header += ["stored this run: canonical / copies", "decisions digest"]
    rows = []
    for variant, what in VARIANTS.items():
        if variant not in summary:
            continue
        m = summary[variant]
        last = [r for r in runs if r["variant"] == variant][-1]
        s, st = last["summary"], last["stored_after"]
        decided = (
            # Readings the store refused as already there: `wirewatch run` counts those stored by an
            # earlier run and those read twice apart (already_stored, read_twice), the loop (c) not.
            f"{s['canonical']:,} / {s['duplicates']:,} ({s['near_duplicates']:,}) / "
            f"{s['already_stored'] + s.get('read_twice', 0):,}"
            if "canonical" in s
            else "-"
        )
        rows.append(
            [
                f"({variant}) {what}",
                f"{m['articles_per_s']:,.0f}",
                ", ".join(f"{x:,.0f}" for x in m["articles_per_s_each"]),
                f"{m['wall_s']:,.1f}",
                f"{m['cpu_ms_per_article']:.2f}",
                f"{m['es_cpu_ms_per_article']:.2f}" if store == "es" else "-",
                f"{last['read']:,}",
                decided,
                f"{s['written']:,}",
                f"{s.get('alerts_fired', 0):,}",
                f"{st['canonical']:,} / {st['copies']:,}",
                f"`{st['articles_digest']}` `{st['alerts_digest']}`",
            ]
        )
    lines = [f"## {STORES[store]}", "", *table(header, rows), ""]
    target_rows = []
    for t in result["ratios"].get(store, []):
        bound = f"≥ {t['minimum']}" if "minimum" in t else f"≤ {t['maximum']}"
        state = (
            ("met" if t["met"] else "**not met**") if t["applies"] else "(target is for the embedded store)"
        )
        target_rows.append([t["target"], f"{t['value']:.2f}", bound, state])
    lines += table(["target", "measured (medians)", "bound", ""], target_rows)
    agree = result["agreement"][store]
    checked = (
        " (canonical articles, copies, sources seen, articles with alerts, alerts; digests of every (id, "
        "duplicate_of, source_count, alerts) and of every (alert id, article count, source count))"
    )
    if agree["agree"]:
        lines += ["", f"Pipeline variants (a), (b), (c) stored the same decisions in every round{checked}."]
    else:
        differ = "; ".join(
            f"{key}: " + ", ".join(f"{value} in {' '.join(names)}" for value, names in values.items())
            for key, values in agree["differ"].items()
        )
        lines += ["", f"Pipeline variants (a), (b), (c) stored **DIFFERENT** results{checked}: {differ}."]
    return lines


DEFAULT_DOCS = 20_000


def results_stem(docs: int, stored: int, backfill: bool) -> str:
    """e2e_bench[-docs<N>][-stored<N>[-backfill]]: a run of another size never overwrites the default one."""
    stem = "e2e_bench" + (f"-docs{docs}" if docs != DEFAULT_DOCS else "")
    return stem + (f"-stored{stored}" + ("-backfill" if backfill else "") if stored else "")


def write_report(result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    stem = result["results"]
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    corpus, m = result["corpus"], result["machine"]
    size = corpus["bytes"]
    recipes = ", ".join(f"{k} {v}" for k, v in corpus["copies_by_recipe"].items())
    lines = [
        "# End to end: the batch pipeline against its baselines",
        "",
        f"`{result['command']}` — {result['date']}; code: {result['code']['run']}, commit "
        f"{result['code']['commit']}"
        + (" with uncommitted changes" if result["code"].get("uncommitted_changes") else "")
        + ".",
        "",
        f"Input: {corpus['articles']:,} seed files ({corpus['originals']:,} articles of real news text "
        f"composed by bench_runners' generator, {size['min']:,}-{size['max']:,} bytes, "
        f"median {size['median']:,}; "
        f"plus {corpus['copies']:,} copies = {corpus['copy_share']:.1%}: {recipes}; "
        f"{corpus['copies_dated_before_original']:,} copies dated before their original), "
        f"{len(corpus['outlets'])} outlets (folders), {corpus['articles_per_day']} articles a day from "
        f"{corpus['first_date']} to {corpus['last_date']}; recipe `{corpus['recipe']}`.",
        "",
    ]
    stored = result.get("stored")
    if stored:
        mode = "dated after the measured articles (--backfill)" if result["backfill"] else "dated before them"
        lines += [
            f"Each round starts from a store already holding {stored['articles']:,} articles {mode}, "
            "pre-filled once through the loop of (c) and copied for every round (SQLite file copy; "
            "Elasticsearch `_clone`).",
            "",
        ]
    else:
        lines += ["Each round starts from an empty store.", ""]
    lines += [
        f"Machine: {m['cpus']} cores ({m['cpu_model']}), {m['memory_gb']} GB; Python {m['python']}, "
        f"Beam {result['versions']['beam']}, Elasticsearch {result['versions'].get('elasticsearch', '-')} "
        f"({result['es']}). Load average (1/5/15 min) at start {result['load_start']}, "
        f"at end {result['load_end']}; "
        f"other processes used up to {max(r['other_processes_cores'] for r in result['runs']):.2f} cores "
        "during a round (machine busy time minus ours, Elasticsearch and the bench).",
        "",
        f"Rounds alternate a, b, c, d per store, {result['reps']} repetitions; medians. Articles/s = "
        "articles read / wall time of the subprocess (start-up included). CPU (ours) = the subprocess and "
        "every descendant (wait4 rusage, or /proc samples when larger). ES CPU = node stats delta.",
        "",
    ]
    if not result["complete"]:
        lines += [f"**Incomplete: {len(result['runs'])} rounds so far.**", ""]
    for store in result["stores"]:
        if store in result["medians"]:
            lines += [*store_lines(result, store), ""]
    stage = [r for r in result["runs"] if r["variant"] == "c"]
    if stage:
        cpu = stage[-1]["summary"].get("stage_cpu_s", {})
        total = sum(cpu.values()) or 1.0
        lines += [
            f"## Where (c) spends its CPU ({stage[-1]['store']}, last round)",
            "",
            *table(
                ["stage", "CPU s", "share"], [[k, f"{v:,.2f}", f"{v / total:.0%}"] for k, v in cpu.items()]
            ),
            "",
        ]
    lines += ["## Notes", "", *(f"- {note}" for note in [*result["notes"], *result.get("annotations", [])])]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def summarize(result: dict[str, Any], runs: list[dict[str, Any]], *, complete: bool) -> None:
    result["complete"] = complete
    result["runs"] = runs
    result["load_end"] = [round(x, 2) for x in os.getloadavg()]
    result["code"]["head_at_end"] = git("rev-parse", "--short=12", "HEAD")
    _report(result)


def render(path: Path, added: Sequence[str] = ()) -> None:
    """`bench_e2e.py render [JSON] [--note TEXT]`: the report again from a results file's rounds (no
    measuring), with notes a reader of the rounds added (kept in the JSON)."""
    result = json.loads(path.read_text(encoding="utf-8"))
    result["annotations"] = [*result.get("annotations", []), *added]
    _report(result)


def _report(result: dict[str, Any]) -> None:
    """What the rounds add up to (medians, ratios, agreement, notes), written out."""
    runs = result["runs"]
    result["medians"] = medians(runs)
    result["ratios"] = ratios(result["medians"])
    result["agreement"] = {s: agreement(runs, s) for s in result["stores"] if s in result["medians"]}
    result["notes"] = notes(result)
    write_report(result)


def notes(result: dict[str, Any]) -> list[str]:
    out: list[str] = []
    corpus = result["corpus"]
    exact = corpus["copies_by_recipe"].get("exact", 0)
    out.append(
        f"Expected: {corpus['originals']:,} stories; {corpus['copies'] - exact:,} rewritten copies to fold "
        f"and {exact:,} exact copies. A seed's id is the hash of its text, so an exact copy from another "
        "outlet has its original's id: the pipeline reads it as the same article twice (`read_twice` "
        "in the summary), not as a copy with lineage."
    )
    for r in result["runs"]:
        s, st = r["summary"], r["stored_after"]
        if r["variant"] == "a" and "canonical" in s:
            if (s["canonical"], s["duplicates"]) != (st["canonical"], st["copies"]):
                out.append(
                    f"`wirewatch run`'s summary ({r['store']}) counts {s['canonical']:,} canonical and "
                    f"{s['duplicates']:,} folded where {st['canonical']:,} canonical articles and "
                    f"{st['copies']:,} copies were stored: an article read twice (read_twice "
                    f"{s.get('read_twice', 0):,}) is counted again with its first reading's decision."
                )
            break
    digests = {r["code_digest"] for r in result["runs"]}
    if len(digests) == 1 and "changed during the round" not in digests:
        out.append(
            f"Every round executed the same code ({result['code']['run']}, commit "
            f"{result['code']['commit']}; one digest of pipelines/, connectors/, schemas/, seeds/). The "
            "compiled tagger (tagcore) is the one installed in .venv."
        )
    else:
        out.append(
            "THE CODE CHANGED during the bench (others edit the repository): code digest per round: "
            + ", ".join(f"{r['store']}-{r['variant']}{r['rep']} {r['code_digest']}" for r in result["runs"])
        )
    out.append(
        "(c) and (d) import Beam modules (the seed parser and normalize_record live in modules that do) but "
        "build no pipeline; their start-up is in their wall time like (a)'s."
    )
    if result.get("stored"):
        for store in result["stores"]:
            pre = result["stored"].get(store)
            if pre:
                out.append(f"Pre-filling the {STORES[store]}: {pre['seconds']:,} s (not measured).")
    return out


# -- main ------------------------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "loop":
        loop_main(sys.argv[2:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "render":
        again = argparse.ArgumentParser(prog="bench_e2e.py render", description=render.__doc__)
        again.add_argument("json", nargs="?", type=Path, default=RESULTS / "e2e_bench.json")
        again.add_argument("--note", action="append", default=[], help="add a note (what a round showed)")
        found = again.parse_args(sys.argv[2:])
        render(found.json, found.note)
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=int, default=DEFAULT_DOCS, help="articles (before copies)")
    parser.add_argument("--copies", type=float, default=0.07, help="syndicated/exact copies, share of --docs")
    parser.add_argument("--reps", type=int, default=2, help="rounds per variant and store")
    parser.add_argument("--stores", default="embedded,es", help="embedded, es or both")
    parser.add_argument("--variants", default="a,b,c,d", help="which of a,b,c,d")
    parser.add_argument("--stored", type=int, default=0, help="articles stored before each round")
    parser.add_argument("--backfill", action="store_true", help="measured articles dated before the stored")
    parser.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="skip the unmeasured round that warms Elasticsearch up before the measured ones",
    )
    parser.add_argument("--es-url", default=None, help=f"default: the bench's own local node {ES_NODE!r}")
    parser.add_argument(
        "--code",
        default="HEAD",
        help="the commit whose code every round runs (a snapshot, so others' edits cannot change it "
        "mid-bench), or `live` for the working tree",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per round")
    parser.add_argument(
        "--quiet-others", type=float, default=0.3, help="before each round, wait until others use fewer cores"
    )
    parser.add_argument("--quiet-wait", type=float, default=30.0, help="…for at most this many seconds")
    args = parser.parse_args()
    stores = [s for s in args.stores.split(",") if s]
    variants = [v for v in args.variants.split(",") if v]
    for s in stores:
        if s not in STORES:
            parser.error(f"--stores: unknown {s!r}; choose from {', '.join(STORES)}")
    for v in variants:
        if v not in VARIANTS:
            parser.error(f"--variants: unknown {v!r}; choose from {', '.join(VARIANTS)}")
    if args.docs < 1 or args.reps < 1 or args.stored < 0:
        parser.error("--docs and --reps must be at least 1, --stored at least 0")
    if not 0 <= args.copies <= 1:
        parser.error("--copies is a share between 0 and 1")
    if args.backfill and not args.stored:
        parser.error("--backfill needs --stored N")
    run_dir = CACHE / "work" / uuid.uuid4().hex[:8]
    run_dir.mkdir(parents=True)
    try:
        bench_main(args, stores, variants, run_dir)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def bench_main(args: argparse.Namespace, stores: list[str], variants: list[str], run_dir: Path) -> None:
    load_start = [round(x, 2) for x in os.getloadavg()]
    env = dict(os.environ)
    if args.code == "live":
        code_root = REPO
        code: dict[str, Any] = {"run": "the working tree", "commit": git("rev-parse", "--short", "HEAD")}
        code["uncommitted_changes"] = bool(git("status", "--porcelain", "--", *CODE_DIRS))
    else:
        code_root, commit = code_snapshot(args.code)
        code = {"run": f"a snapshot of {args.code} (git archive)", "commit": commit[:12]}
        # The compiled tagger as installed now: a `make native` by someone else mid-bench must not
        # change it under the rounds.
        paths = [str(code_root)]
        native = importlib.util.find_spec("tagcore")
        if native is not None and native.submodule_search_locations:
            lib = run_dir / "lib"
            shutil.copytree(native.submodule_search_locations[0], lib / "tagcore")
            paths.append(str(lib))
            built = max(p.stat().st_mtime for p in (lib / "tagcore").glob("*.so"))
            code["tagcore"] = (
                f"copied from .venv, built {dt.datetime.fromtimestamp(built, dt.UTC):%Y-%m-%d %H:%M} UTC"
            )
        # First on the path, in this process and every child: before the editable install's finder.
        sys.path[:0] = paths
        env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
    code["digest"] = code_digest(code_root)
    import apache_beam
    from bench_runners import machine
    from elasticsearch import Elasticsearch

    corpus = measured_corpus(args.docs, args.copies)
    stored_corpus_ = stored_corpus(args.stored, args.copies, corpus, args.backfill) if args.stored else None
    bench = Bench(
        es_url=None, work=run_dir, logs=CACHE / "logs", timeout_s=args.timeout, code_root=code_root, env=env
    )
    bench.logs.mkdir(parents=True, exist_ok=True)
    bench.check_code()
    started_node = False
    versions = {"beam": apache_beam.__version__}
    es_note = "not used"
    try:
        if "es" in stores:
            if args.es_url:
                bench.es_url, es_note = args.es_url, f"{args.es_url}, given"
            else:
                bench.es_url, started_node = own_es_node()
                es_note = f"the bench's own node {ES_NODE!r} at {bench.es_url}"
            bench.es_client = Elasticsearch(bench.es_url, request_timeout=300)
            versions["elasticsearch"] = ",".join(
                sorted({n["version"] for n in bench.es_client.nodes.info()["nodes"].values()})
            )
        result: dict[str, Any] = {
            "command": " ".join(["python benchmarks/bench_e2e.py", *sys.argv[1:]]),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "versions": versions,
            "es": es_note,
            "code": code,
            "corpus": corpus.info,
            "stores": stores,
            "variants": variants,
            "reps": args.reps,
            "backfill": args.backfill,
            "load_start": load_start,
            "results": results_stem(args.docs, args.stored, args.backfill),
        }
        if stored_corpus_ is not None:
            result["stored"] = prefill(bench, stores, stored_corpus_)
        if "es" in stores and args.warmup:
            # A node fresh from start-up spends CPU compiling (its JIT) during the first rounds,
            # which would count against whichever variant runs first (compare the two reps of (a)
            # with --no-warmup). One unmeasured round of (a) first.
            log("warm-up (not measured): Elasticsearch, (a) …")
            bench.round("a", "es", 0, corpus)
        runs: list[dict[str, Any]] = []
        total = args.reps * len(stores) * len(variants)
        for rep in range(1, args.reps + 1):
            for store in stores:
                for variant in variants:
                    log(f"round {len(runs) + 1}/{total}: {STORES[store]}, ({variant}) {VARIANTS[variant]} …")
                    quiet = bench.wait_quiet(args.quiet_others, args.quiet_wait)
                    r = bench.round(variant, store, rep, corpus)
                    r["others_before"] = quiet
                    runs.append(r)
                    st = r["stored_after"]
                    log(
                        f"  {r['articles_per_s']:,.0f} articles/s, wall {r['wall_s']:,.1f} s, CPU "
                        f"{r['cpu_ms_per_article']:.2f} ms/article, "
                        f"ES {r['es_cpu_ms_per_article']:.2f} ms/article; "
                        f"stored {st['canonical']:,} canonical + {st['copies']:,} copies, "
                        f"{st['alerts_in_store']:,} alerts; load {r['load_after'][0]}"
                    )
                    # After every round: an interrupted bench still leaves what it measured.
                    summarize(result, runs, complete=len(runs) == total)
        log(f"wrote {RESULTS / result['results']}.md and .json")
        print((RESULTS / f"{result['results']}.md").read_text(encoding="utf-8"))
    finally:
        if bench.es_client is not None:
            if bench.template_prefix is not None:
                from bench_runners import delete_prefix

                delete_prefix(bench.es_client, bench.template_prefix)
            bench.es_client.close()
        if started_node:
            stop_es_node()


if __name__ == "__main__":
    main()
