"""A real HTTP proxy on 127.0.0.1 in front of Elasticsearch that can throttle or play dead on cue."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Plan:
    """What the proxy does with the next bulk requests; tests change it while a run is going."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: list[int] = []  # answer the next bulk requests with these, then forward
        self.always: int | None = None  # answer every bulk request with this status
        self.down_after: int | None = None  # after this many bulk requests, drop every connection
        self.drop_first = 0  # drop the connection of this many first requests (a node starting up)
        self.bulk_requests = 0
        self.forwarded_bulk = 0

    def next_action(self, is_bulk: bool) -> str | int:
        with self.lock:
            if self.drop_first > 0:
                self.drop_first -= 1
                return "drop"
            if self.down_after is not None and self.bulk_requests >= self.down_after:
                return "drop"
            if not is_bulk:
                return "forward"
            self.bulk_requests += 1
            if self.always is not None:
                return self.always
            if self.statuses:
                return self.statuses.pop(0)
            self.forwarded_bulk += 1
            return "forward"


def _handler(upstream: str, plan: Plan) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            action = plan.next_action("_bulk" in self.path)
            if action == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if isinstance(action, int):
                error = b'{"type":"es_rejected_execution_exception","reason":"proxy says no"}'
                payload = b'{"error":%s,"status":%d}' % (error, action)
                self.send_response(action)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    return Handler


@contextmanager
def es_proxy(upstream: str) -> Iterator[tuple[str, Plan]]:
    """Yield (proxy URL, plan); the proxy forwards to `upstream` unless the plan says otherwise."""
    plan = Plan()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, plan))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", plan
    finally:
        server.shutdown()
        server.server_close()
