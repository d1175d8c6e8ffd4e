"""A fault-injecting HTTP proxy in front of an S3 server (moto or RGW), for boto3 and DuckDB alike.

Clients use the proxy's URL (plain HTTP) as their S3 endpoint; it forwards requests unchanged (the
Host header included, so signatures stay valid) to the server, over HTTPS too when the server
speaks it, and, at a configurable rate, answers badly instead:

- `500`: HTTP 500 `InternalError`;
- `503`: HTTP 503 `SlowDown` (the throttling answer of S3 and Ceph RGW);
- `reset`: the connection is reset before the request reaches the server;
- `lost`: the request reaches the server (a PUT is applied) but the connection is reset
  before the answer gets back, so the client cannot know it succeeded;
- `delay`: the answer is held back for a while, then sent normally.

Faults can also be aimed: `inject(kind, method=..., path_contains=..., header=...)` hits the
next matching requests. Every request and fault is counted; `retried` counts faulted requests
that the client sent again (the same method and path), a lower bound of the retries that rode
the faults out.
"""

from __future__ import annotations

import http.client
import random
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "expect"}
    | {"te", "trailer", "proxy-authorization", "proxy-authenticate"}
)
KINDS = ("500", "503", "reset", "lost", "delay")
ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
}


@dataclass
class FaultFigures:
    """What the proxy saw and did."""

    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    by_method: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "faults": sum(self.faults.values()),
            **{f"fault_{k}": v for k, v in sorted(self.faults.items())},
            "faulted_requests_sent_again": self.retried,
        }


@dataclass
class _Aimed:
    kind: str
    method: str | None
    path_contains: str | None
    header: str | None
    times: int

    def matches(self, method: str, path: str, headers: Any) -> bool:
        return (
            (self.method is None or method == self.method)
            and (self.path_contains is None or self.path_contains in path)
            and (self.header is None or (headers is not None and self.header in headers))
        )


class S3FaultProxy:
    """Forwards HTTP to `upstream` (e.g. moto's `http://127.0.0.1:5000`, or an RGW over
    `https://` whose certificate `ca_bundle` signed), injecting faults."""

    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.0,
        kinds: tuple[str, ...] = KINDS,
        delay_s: float = 0.3,
        seed: int = 0,
        ca_bundle: str | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the fault proxy forwards to http(s) URLs, not {upstream!r}")
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; use {KINDS}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or (443 if parts.scheme == "https" else 80)
        self.upstream_tls = (
            ssl.create_default_context(cafile=ca_bundle) if parts.scheme == "https" else None
        )
        self.rate = rate
        self.kinds = kinds
        self.delay_s = delay_s
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._figures = FaultFigures()
        self._faulted: set[tuple[str, str]] = set()
        self._aimed: list[_Aimed] = []
        self._server: ThreadingHTTPServer | None = None

    # --- decisions and figures ---------------------------------------------------------------
    def inject(
        self,
        kind: str,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        header: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` requests that match with fault `kind`."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use {KINDS}")
        with self._lock:
            self._aimed.append(_Aimed(kind, method, path_contains, header, times))

    def decide(self, method: str, path: str, headers: Any = None) -> str | None:
        """The fault for this request, or None to forward it (and count it)."""
        with self._lock:
            self._figures.requests += 1
            self._figures.by_method[method] += 1
            if (method, path) in self._faulted:
                self._faulted.discard((method, path))
                self._figures.retried += 1
            kind = self._aimed_fault(method, path, headers)
            if kind is None:
                if self.rate <= 0 or self._random.random() >= self.rate:
                    return None
                kind = self._random.choice(self.kinds)
            self._figures.faults[kind] += 1
            if kind != "delay":
                self._faulted.add((method, path))
            return kind

    def _aimed_fault(self, method: str, path: str, headers: Any) -> str | None:
        for aim in self._aimed:
            if aim.times > 0 and aim.matches(method, path, headers):
                aim.times -= 1
                return aim.kind
        return None

    def figures(self) -> FaultFigures:
        with self._lock:
            return FaultFigures(
                self._figures.requests,
                Counter(self._figures.faults),
                self._figures.retried,
                Counter(self._figures.by_method),
            )

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self.rate = rate

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> S3FaultProxy:
        handler = type("Handler", (_Forward,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        thread = threading.Thread(
            target=self._server.serve_forever, name="s3-fault-proxy", daemon=True
        )
        thread.start()
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

    def __enter__(self) -> S3FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Forward(BaseHTTPRequestHandler):
    proxy: S3FaultProxy
    protocol_version = "HTTP/1.1"
    _conn: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the figures are the record

    def _upstream(self) -> http.client.HTTPConnection:
        if self._conn is None:
            host, port = self.proxy.upstream_host, self.proxy.upstream_port
            tls = self.proxy.upstream_tls
            self._conn = (
                http.client.HTTPSConnection(host, port, timeout=120, context=tls)
                if tls is not None
                else http.client.HTTPConnection(host, port, timeout=120)
            )
        return self._conn

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _reset(self) -> None:
        """Drop the connection with a TCP reset, answering nothing."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _error(self, kind: str) -> None:
        status, code, message = ERRORS[kind]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>fault-{time.monotonic_ns()}</RequestId></Error>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(body)))
        if kind == "503":
            self.send_header("Retry-After", "0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self) -> None:
        body = self._body()
        kind = self.proxy.decide(self.command, self.path, self.headers)
        if kind == "reset":
            self._reset()
            return
        if kind in ERRORS:
            self._error(kind)
            return
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
        if kind == "lost":
            self._reset()
            return
        if kind == "delay":
            time.sleep(self.proxy.delay_s)
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", response.getheader("Content-Length") or "0")
            self.end_headers()
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward
