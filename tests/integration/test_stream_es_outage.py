"""`wirewatch stream` rides out an Elasticsearch outage: the node goes away (a TCP proxy in front of
the shared node closes; the node itself is never touched) and comes back, and the stream carries on
without losing or doubling an item, saying once that it went and once that it is back.
"""

from __future__ import annotations

import pathlib
import signal
import threading
import time
from urllib.parse import urlsplit

import pytest
from elastic_transport import ConnectionError

from connectors.es_client import EsSettings, make_client
from tests.feed_server import FeedServer
from tests.integration.tcp_proxy import TcpProxy
from tests.integration.test_stream import (
    POLL_FLAGS,
    STOP_WITHIN_S,
    WIREWATCH,
    Articles,
    Feed,
    StreamProcess,
    wire_catalog,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE_S = 8.0


def _publish(feed: Feed) -> str:
    """One more item in the feed; its title."""
    title = feed.append()
    assert isinstance(title, str)
    return title


def _stderr_lines(stream: StreamProcess) -> list[str]:
    return stream.output().split("--- stderr\n", 1)[1].splitlines()


def test_the_stream_waits_out_an_elasticsearch_outage_and_stores_what_came_meanwhile(
    tmp_path: pathlib.Path, articles: Articles, es_url: str, es_prefix: str
):
    node = urlsplit(es_url)
    with FeedServer() as server, TcpProxy((node.hostname or "127.0.0.1", node.port or 9200)) as proxy:
        feed = Feed(es_prefix)
        server.route("/wire.xml", feed)
        before = _publish(feed)
        argv = [
            WIREWATCH, "stream", "--feeds", str(wire_catalog(tmp_path, server)),
            "--es-url", proxy.url, "--es-index-prefix", es_prefix, *POLL_FLAGS,
        ]  # fmt: skip
        stream = StreamProcess(argv, tmp_path, "stream")
        try:
            articles.wait_searchable(before, stream)

            proxy.down()
            time.sleep(OUTAGE_S / 2)
            during = _publish(feed)  # published while the stream cannot reach its store
            time.sleep(OUTAGE_S / 2)
            assert stream.popen.poll() is None, stream.output()
            assert articles.count(during) == 0  # the outage was real: nothing got through
            proxy.up()

            articles.wait_searchable(during, stream)
            after = _publish(feed)
            articles.wait_searchable(after, stream)
            assert stream.popen.poll() is None, stream.output()

            stream.signal_group(signal.SIGINT)
            assert stream.wait(STOP_WITHIN_S) == 0, stream.output()
            lines = _stderr_lines(stream)
            output = stream.output()
        finally:
            stream.kill_everything()

    articles.refresh()
    assert {title: articles.count(title) for title in feed.titles} == dict.fromkeys(
        (before, during, after), 1
    )
    assert articles.count() == 3
    assert "Traceback" not in output
    assert "stream failed" not in output
    # One line when it went, one when it came back.
    went = [line for line in lines if "unreachable" in line]
    back = [line for line in lines if "back after" in line]
    assert len(went) == 1, output
    assert len(back) == 1, output
    assert proxy.url in went[0]


def test_a_patient_client_waits_for_the_node_and_a_plain_one_does_not(es_url: str):
    node = urlsplit(es_url)
    with TcpProxy((node.hostname or "127.0.0.1", node.port or 9200)) as proxy:
        proxy.down()
        plain = make_client(EsSettings(url=proxy.url))
        with pytest.raises(ConnectionError):
            plain.cluster.health()
        plain.close()

        patient = make_client(EsSettings(url=proxy.url), wait_out_outages=True)
        back = threading.Timer(3.0, proxy.up)
        back.start()
        started = time.monotonic()
        try:
            health = patient.cluster.health()
        finally:
            back.join()
            patient.close()
        assert time.monotonic() - started >= 3.0
        assert health["status"] in ("green", "yellow")
