"""A fake Finnhub API on loopback that behaves like the real one where Bucketpipe cares.

- Bodies shaped like the published docs (`finnhub_samples/`), deterministic per request.
- Keys with a plan: a free key gets HTTP 403 `{"error": "You don't have access to this
  resource."}` from the premium endpoints; an unknown or missing key gets 401.
- Per-key sliding-window limits (per second and per "minute", window lengths configurable so
  tests can run fast) answered with 429 and Finnhub's body once exceeded.
- Injectable faults: any status (5xx bursts, 429 storms), slow answers and timeouts,
  malformed, truncated or empty bodies, HTML error pages, dropped connections, a body without
  end (`huge`: `size` bytes, no length) and one dripped a byte at a time under any read
  timeout for `delay` seconds (`drip`).
- A request log (path, parameters, headers with the key replaced by its plan) to assert on.
- A token in the URL query is refused with 400 and counted: Bucketpipe must never send one.
- `rewrite`: a function per path that changes a 200 body, for the answers a hostile or
  compromised API could give (text written to attack the page that shows it).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from tests.support.finnhub_data import REQUIRED, ROUTES, body_for

API_PREFIX = "/api/v1"
FREE_KEY = "free-test-key-7f3a9c2e51d04b86"
PREMIUM_KEY = "premium-test-key-c81e0d5a6b2f4937"
PREMIUM_PATHS = frozenset({"/stock/candle", "/stock/social-sentiment", "/stock/dividend"})
NOT_ENTITLED = {"error": "You don't have access to this resource."}
RATE_LIMITED = {"error": "API limit reached. Please try again later. Remaining Limit: 0"}
INVALID_KEY = {"error": "Invalid API key"}

FaultKind = Literal[
    "status", "slow", "timeout", "malformed", "truncated", "empty", "html", "drop", "huge", "drip"
]


@dataclass
class Fault:
    """Answer the next `times` matching requests badly instead of normally."""

    kind: FaultKind
    times: int = 1
    path: str | None = None
    status: int = 503
    delay: float = 0.0
    retry_after: float | None = None
    size: int = 0  # "huge": bytes of the endless body


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the server saw it; the key's value is replaced by `<plan key>`."""

    at: float
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    plan: str | None
    status: int
    fault: str | None = None


class FakeFinnhub:
    """The fake API. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        *,
        keys: dict[str, str] | None = None,
        per_second: int = 30,
        per_minute: int = 60,
        second_window: float = 1.0,
        minute_window: float = 60.0,
        send_retry_after: bool = False,
        unknown_symbols: frozenset[str] = frozenset({"ZZZZQ"}),
        clock: Callable[[], datetime] | None = None,
        rewrite: dict[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        self.keys = keys if keys is not None else {FREE_KEY: "free", PREMIUM_KEY: "premium"}
        self.per_second = per_second
        self.per_minute = per_minute
        self.second_window = second_window
        self.minute_window = minute_window
        self.send_retry_after = send_retry_after
        self.unknown_symbols = unknown_symbols
        self.clock = clock or (lambda: datetime.now(UTC))
        self.rewrite = rewrite or {}
        self.lock = threading.Lock()
        self.log: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self.accepted: dict[str, deque[float]] = {}
        self.rate_limited = 0
        self.token_in_url = 0
        self.stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeFinnhub:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeFinnhub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}{API_PREFIX}"

    # --- test controls ---------------------------------------------------------------------
    def inject(self, kind: FaultKind, **options: Any) -> Fault:
        fault = Fault(kind, **options)
        with self.lock:
            self.faults.append(fault)
        return fault

    def requests(self, path: str | None = None) -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.log if path is None or r.path == path]

    def max_in_window(self, seconds: float, plan: str | None = None) -> int:
        """The most requests the server accepted (not 429) within any window of `seconds`."""
        times = sorted(
            r.at
            for r in self.requests()
            if r.status != 429 and r.plan is not None and (plan is None or r.plan == plan)
        )
        best, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= seconds:
                first += 1
            best = max(best, last - first + 1)
        return best

    # --- the API ---------------------------------------------------------------------------
    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.path in (None, path):
                    fault.times -= 1
                    return fault
        return None

    def _admit(self, key: str) -> tuple[bool, dict[str, str]]:
        """Sliding-window limits per key; (allowed, rate-limit headers).

        `X-Ratelimit-Reset` is when the window that is full frees a call again.
        """
        now = time.monotonic()
        with self.lock:
            window = self.accepted.setdefault(key, deque())
            while window and now - window[0] >= self.minute_window:
                window.popleft()
            recent = [t for t in window if now - t < self.second_window]
            second_full = len(recent) >= self.per_second
            minute_full = len(window) >= self.per_minute
            allowed = not (second_full or minute_full)
            if allowed:
                window.append(now)
            else:
                self.rate_limited += 1
            if minute_full:
                frees_at = window[0] + self.minute_window
            elif second_full:
                frees_at = recent[0] + self.second_window
            else:
                frees_at = now
            remaining = max(0, self.per_minute - len(window))
        wait = max(0.0, frees_at - now)
        headers = {
            "X-Ratelimit-Limit": str(self.per_minute),
            "X-Ratelimit-Remaining": str(remaining),
            "X-Ratelimit-Reset": f"{time.time() + wait:.3f}",
        }
        if not allowed and self.send_retry_after:
            headers["Retry-After"] = f"{wait:.3f}"
        return allowed, headers

    def answer(
        self, path: str, params: dict[str, str], key: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, headers) for a request that reached the API proper."""
        if key is None or key not in self.keys:
            return 401, INVALID_KEY, {}
        allowed, headers = self._admit(key)
        if not allowed:
            return 429, RATE_LIMITED, headers
        if path not in ROUTES:
            return 404, {"error": "Not found"}, headers
        if path in PREMIUM_PATHS and self.keys[key] != "premium":
            return 403, NOT_ENTITLED, headers
        missing = [p for p in REQUIRED[path] if not params.get(p)]
        if missing:
            return 422, {"error": f"Missing parameters: {', '.join(missing)}"}, headers
        body = body_for(path, params, self.clock(), self.unknown_symbols)
        change = self.rewrite.get(path)
        return 200, change(body) if change else body, headers

    def record(self, entry: LoggedRequest) -> None:
        with self.lock:
            self.log.append(entry)


def _fault_status(fault: Fault) -> int:
    """The status a fault answers with (0: no answer at all)."""
    if fault.kind in ("status", "html"):
        return fault.status
    return 0 if fault.kind in ("timeout", "drop") else 200


class _Handler(BaseHTTPRequestHandler):
    fake: FakeFinnhub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is the record; stderr stays quiet

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path.removeprefix(API_PREFIX)
        path = "/" + path.lstrip("/")
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        key = self.headers.get("X-Finnhub-Token")
        fake = self.fake
        plan = fake.keys.get(key) if key else None
        headers = {k: v for k, v in self.headers.items() if k.lower() != "x-finnhub-token"}
        if key is not None:
            headers["X-Finnhub-Token"] = f"<{plan or 'unknown'} key>"
        logged = {k: v for k, v in params.items() if k.lower() != "token"}
        if any(k.lower() == "token" for k in params):
            fake.token_in_url += 1
            logged["token"] = "<refused>"
            self._send(400, {"error": "Token in the URL refused by the test server."}, {})
            fake.record(LoggedRequest(time.monotonic(), path, logged, headers, plan, 400))
            return
        status, body, extra = fake.answer(path, params, key)
        fault = fake.take_fault(path) if status in (200, 403) else None
        sent = _fault_status(fault) if fault is not None else status
        fake.record(LoggedRequest(time.monotonic(), path, logged, headers, plan, sent,
                                  fault.kind if fault else None))  # fmt: skip
        if fault is not None:
            self._fault(fault, body, extra)
        else:
            self._send(status, body, extra)

    def _fault(self, fault: Fault, body: Any, headers: dict[str, str]) -> None:
        if fault.kind in ("slow", "timeout"):
            deadline = time.monotonic() + fault.delay
            while time.monotonic() < deadline and not self.fake.stopping.is_set():
                time.sleep(0.01)
            if fault.kind == "timeout":
                self.close_connection = True
                return
            self._send(200, body, headers)
        elif fault.kind == "status":
            extra = dict(headers)
            if fault.retry_after is not None:
                extra["Retry-After"] = f"{fault.retry_after:g}"
            payload = RATE_LIMITED if fault.status == 429 else {"error": "Internal error"}
            self._send(fault.status, payload, extra)
        elif fault.kind == "html":
            html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            self._raw(fault.status, html, "text/html", headers)
        elif fault.kind == "malformed":
            self._raw(200, json.dumps(body).encode()[:-7] + b',"x":', "application/json", headers)
        elif fault.kind == "empty":
            self._raw(200, b"", "application/json", headers)
        elif fault.kind == "truncated":
            data = json.dumps(body).encode()
            self._raw(200, data[: len(data) // 2], "application/json", headers, len(data))
            self.close_connection = True
        elif fault.kind == "drop":
            self.close_connection = True
        elif fault.kind in ("huge", "drip"):
            self._endless(fault)

    def _endless(self, fault: Fault) -> None:
        """A 200 whose JSON array never ends soon: `size` bytes as fast as the socket takes
        them, or (drip) one byte every 0.1 s for `delay` seconds. No Content-Length."""
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"[")
            chunk, sent = b"0," * 32768, 0
            deadline = time.monotonic() + fault.delay
            while not self.fake.stopping.is_set():
                if fault.kind == "huge" and sent < fault.size:
                    self.wfile.write(chunk)
                    sent += len(chunk)
                elif fault.kind == "drip" and time.monotonic() < deadline:
                    self.wfile.write(b"0")
                    self.wfile.flush()
                    time.sleep(0.1)
                else:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self._raw(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

    def _raw(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: dict[str, str],
        length: int | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data) if length is None else length))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
