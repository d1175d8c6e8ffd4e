"""A counting HTTP proxy in front of an S3 endpoint: how many requests each query really costs.

Clients (boto3 and DuckDB's own HTTP client) are pointed at the proxy as their S3 endpoint;
it forwards every request unchanged (Host header included, so signatures stay valid) to the
upstream server and counts it by kind: GET (object reads, ranged or whole), HEAD, LIST (GET
on a bucket), PUT, POST (multi-delete, multipart) and DELETE, plus the bytes it returned.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "expect"}
    | {"te", "trailer", "proxy-authorization", "proxy-authenticate"}
)


def request_kind(method: str, path: str) -> str:
    """GET, HEAD, LIST, PUT, POST or DELETE for a path-style S3 request."""
    route = urlsplit(path).path.strip("/")
    if method == "GET" and "/" not in route:
        return "LIST"  # a GET on the bucket itself lists it
    return method


@dataclass(frozen=True)
class Requests:
    """Requests counted between two readings."""

    by_kind: dict[str, int]
    bytes_out: int

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, **dict(sorted(self.by_kind.items())), "bytes": self.bytes_out}


class CountingProxy:
    """Forwards HTTP to `upstream` (e.g. `http://127.0.0.1:5000`) and counts the requests."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the counting proxy forwards plain http only, not {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._bytes = 0
        # (kind, path, status) of every request, in order: what a page's count is made of.
        self._log: list[tuple[str, str, int]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- counting ----------------------------------------------------------------------------
    def count(self, kind: str, nbytes: int, path: str = "", status: int = 200) -> None:
        with self._lock:
            self._counts[kind] += 1
            self._bytes += nbytes
            self._log.append((kind, path, status))

    def log_since(self, before: Requests) -> list[tuple[str, str, int]]:
        """The requests counted after `before` was read: kind, path and status of each."""
        with self._lock:
            return list(self._log[sum(before.by_kind.values()) :])

    def reading(self) -> Requests:
        with self._lock:
            return Requests(dict(self._counts), self._bytes)

    def since(self, before: Requests) -> Requests:
        """Requests made after `before` was read."""
        now = self.reading()
        kinds = {
            k: now.by_kind.get(k, 0) - before.by_kind.get(k, 0)
            for k in set(now.by_kind) | set(before.by_kind)
        }
        return Requests({k: v for k, v in kinds.items() if v}, now.bytes_out - before.bytes_out)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> CountingProxy:
        handler = type("Handler", (_Forward,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="s3-counting-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "proxy not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Forward(BaseHTTPRequestHandler):
    proxy: CountingProxy
    protocol_version = "HTTP/1.1"  # keep-alive both ways, and `Expect: 100-continue` handled
    # Headers and body go out as separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK add ~40 ms to every request, which would be the proxy's, not S3's.
    disable_nagle_algorithm = True
    _conn: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the counters are the record

    def _upstream(self) -> http.client.HTTPConnection:
        if self._conn is None:
            conn = http.client.HTTPConnection(
                self.proxy.upstream_host, self.proxy.upstream_port, timeout=120
            )
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
        return self._conn

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _forward(self) -> None:
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):
            conn = self._upstream()
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                conn.close()  # a stale keep-alive connection: reconnect once
                self._conn = None
                if attempt == 2:
                    self.send_error(502, "upstream S3 server unreachable")
                    return
        kind = request_kind(self.command, self.path)
        self.proxy.count(kind, len(data), self.path, response.status)
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        if self.command == "HEAD":
            length = response.getheader("Content-Length")
            self.send_header("Content-Length", length or "0")
            self.end_headers()
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except ConnectionError:
                # The client hung up (a reader that stops early, a process ending): the
                # request was counted; there is no one left to answer.
                self.close_connection = True

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward
