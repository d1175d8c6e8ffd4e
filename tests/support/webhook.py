"""An incoming-webhook receiver on loopback (Slack/Mattermost style): it keeps every JSON body
posted to it, and can be told to answer with an error for a while."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class WebhookReceiver:
    """Start it, point BUCKETPIPE_ALERT_WEBHOOK_URL at `url`, read `messages`."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail_with: int | None = None  # answer every post with this status while set
        self.drip_seconds = 0.0  # answer 200, then a body of a byte every 0.1 s this long
        self.attempts = 0
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"receiver": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        # A token-like path, as real webhook URLs have: it must never appear in a log line.
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0SECRET-b7e9c4a1d2f3"

    @property
    def messages(self) -> list[str]:
        with self.lock:
            return [str(b.get("text", "")) for b in self.bodies]

    def start(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    receiver: WebhookReceiver

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        receiver = self.receiver
        with receiver.lock:
            receiver.attempts += 1
            status = receiver.fail_with
            if status is None:
                receiver.bodies.append(json.loads(body))
        self.send_response(status or 200)
        if receiver.drip_seconds:
            self.end_headers()  # no length: the body ends when the connection does
            deadline = time.monotonic() + receiver.drip_seconds
            try:
                while time.monotonic() < deadline:
                    self.wfile.write(b".")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()
