"""`wirewatch stream` on the local Flink session cluster: a real feed server, a real Elasticsearch.

The streaming graph (PeriodicImpulse-driven polling, dedup state, alerts) runs as a Flink job on
two TaskManagers. Ctrl-C cancels the job on the cluster; a second `wirewatch stream` submits it
again, and every item, including the one published while no job ran, is stored exactly once.
"""

from __future__ import annotations

import pathlib
import re
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from connectors import counters, flink_rest
from tests.feed_server import FeedServer
from tests.integration import test_stream
from tests.integration.test_flink import flink_jobs
from tests.integration.test_stream import POLL_FLAGS, STOPPED_LINE, WIREWATCH, StreamProcess, wait_until

# The feed and its server of the Prism stream tests, used by name (`articles`: conftest.py).
feed_server = test_stream.feed_server
feed = test_stream.feed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# A Flink submission starts a job server JVM and two SDK workers first: slower than Prism.
FIRST_ITEM_WITHIN_S = 180.0
STOP_WITHIN_S = 90.0


class ClusterStreams:
    """`wirewatch stream` processes on the cluster, and the Flink jobs they submitted."""

    def __init__(self, master: str, argv: list[str], cwd: pathlib.Path) -> None:
        self.master = master
        self._argv = argv
        self._cwd = cwd
        self._before = {job["jid"] for job in flink_jobs(master)}
        self.started: list[StreamProcess] = []

    def start(self) -> StreamProcess:
        process = StreamProcess(self._argv, self._cwd, f"flink-stream-{len(self.started)}")
        self.started.append(process)
        return process

    def jobs(self) -> list[dict[str, Any]]:
        """The Flink jobs submitted since this object was made."""
        return [job for job in flink_jobs(self.master) if job["jid"] not in self._before]

    def clean_up(self) -> None:
        for process in self.started:
            process.kill_everything()
        for job in self.jobs():
            if job["state"] == "RUNNING":
                flink_rest.cancel_job(self.master, job["jid"])


@pytest.fixture
def cluster_streams(
    flink_master: str, feed_server: FeedServer, es_url: str, es_prefix: str, tmp_path: pathlib.Path
) -> Iterator[ClusterStreams]:
    catalog = test_stream.wire_catalog(tmp_path, feed_server)
    argv = [WIREWATCH, "stream", "--feeds", str(catalog), "--es-url", es_url, "--es-index-prefix", es_prefix]
    argv += [*POLL_FLAGS, "--runner=FlinkRunner", f"--flink_master={flink_master}", "--parallelism=2"]
    streams = ClusterStreams(flink_master, argv, tmp_path)
    try:
        yield streams
    finally:
        streams.clean_up()


def stop_with_ctrl_c(stream: StreamProcess) -> re.Match[str]:
    stream.signal_group(signal.SIGINT)  # what a terminal sends: the CLI and its job server alike
    assert stream.wait(STOP_WITHIN_S) == 0, stream.output()
    lines = [STOPPED_LINE.match(line) for line in stream.stdout().splitlines()]
    found = [line for line in lines if line]
    assert found, stream.output()
    return found[-1]


def publish(feed: test_stream.Feed) -> str:
    title = feed.append()
    assert isinstance(title, str)
    return title


def test_the_stream_runs_on_the_cluster_and_a_cancelled_job_resubmitted_stores_every_item_once(
    feed: test_stream.Feed, articles: test_stream.Articles, cluster_streams: ClusterStreams
):
    first = publish(feed)
    stream = cluster_streams.start()
    articles.wait_searchable(first, stream, within_s=FIRST_ITEM_WITHIN_S)
    added = publish(feed)
    articles.wait_searchable(added, stream)

    # Live counters come from the cluster's REST API (Flink refreshes them every few seconds).
    (job,) = cluster_streams.jobs()

    def written() -> int:
        return flink_rest.job_counters(cluster_streams.master, job["jid"], counters.NAMESPACE).get(
            "articles_written", 0
        )

    wait_until(lambda: written() >= 2, 60, "Flink to report 2 articles written", step_s=0.5)
    stopped = stop_with_ctrl_c(stream)
    assert int(stopped.group(1)) > 0, stream.output()  # polls
    assert int(stopped.group(2)) >= 2, stream.output()  # written
    (job,) = cluster_streams.jobs()
    assert job["state"] == "CANCELED"

    while_down = publish(feed)
    again = cluster_streams.start()
    articles.wait_searchable(while_down, again, within_s=FIRST_ITEM_WITHIN_S)
    after = publish(feed)
    articles.wait_searchable(after, again)
    stop_with_ctrl_c(again)

    assert sorted(job["state"] for job in cluster_streams.jobs()) == ["CANCELED", "CANCELED"]
    articles.refresh()
    assert {title: articles.count(title) for title in feed.titles} == dict.fromkeys(feed.titles, 1)
    assert articles.count() == len(feed.titles) == 4
