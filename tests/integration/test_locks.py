"""The writer lock: Redis when up, a file lock on a local lake, a bucket lease on S3."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bucketpipe.config.errors import LockBusy
from bucketpipe.coord.locks import writer_lock
from bucketpipe.coord.signals import Signals
from bucketpipe.lake.leases import lease_for
from bucketpipe.lake.storage import LocalStore, ObjectStore, open_store
from tests.conftest import free_port
from tests.support.s3_servers import S3Server

pytestmark = pytest.mark.integration


def redis_signals(url: str) -> Signals:
    import redis

    return Signals(redis.Redis.from_url(url, decode_responses=True, socket_timeout=0.5))


def s3_store(server: S3Server, bucket: str) -> ObjectStore:
    return open_store(
        f"s3://{bucket}/lake",
        endpoint_url=server.endpoint,
        access_key_id=server.writer.access_key,
        secret_access_key=server.writer.secret_key,
        ca_bundle=server.ca_bundle,
    )


def assert_exclusive(store: ObjectStore, signals: Signals, kind: str) -> None:
    with writer_lock("writer", fallback=lease_for(store), signals=signals, ttl_seconds=30) as held:
        assert held.kind == kind
        with (
            pytest.raises(LockBusy, match="another run holds the 'writer' lock"),
            writer_lock("writer", fallback=lease_for(store), signals=signals, ttl_seconds=30),
        ):
            pass
    # Released: the next writer gets it.
    with writer_lock("writer", fallback=lease_for(store), signals=signals, ttl_seconds=30) as again:
        assert again.kind == kind


def test_file_lock_on_a_local_lake(tmp_path: Path) -> None:
    assert_exclusive(LocalStore(tmp_path), Signals(None), "file")


def test_bucket_lease_on_s3_without_redis(s3_server: S3Server, s3_bucket: str) -> None:
    store = s3_store(s3_server, s3_bucket)
    assert_exclusive(store, Signals(None), "bucket")
    assert store.head("_locks/writer.json") is None


def test_expired_bucket_lease_is_taken_over(s3_server: S3Server, s3_bucket: str) -> None:
    store = s3_store(s3_server, s3_bucket)
    store.put("_locks/writer.json", b'{"token": "dead", "expires_at": "2000-01-01T00:00:00+00:00"}')
    with writer_lock("writer", fallback=lease_for(store), signals=Signals(None)) as held:
        assert held.kind == "bucket"


def test_redis_lock(tmp_path: Path, redis_url: str) -> None:
    assert_exclusive(LocalStore(tmp_path), redis_signals(redis_url), "redis")


def test_redis_down_falls_back_to_the_storage_lock(tmp_path: Path) -> None:
    signals = redis_signals(f"redis://127.0.0.1:{free_port()}/0")
    with writer_lock("writer", fallback=lease_for(LocalStore(tmp_path)), signals=signals) as held:
        assert held.kind == "file"


def test_waiting_writer_gets_the_lock_when_released(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    order: list[str] = []
    first_holds = threading.Event()

    def first() -> None:
        with writer_lock("writer", fallback=lease_for(store), signals=Signals(None)):
            order.append("first")
            first_holds.set()
            threading.Event().wait(0.3)

    thread = threading.Thread(target=first)
    thread.start()
    first_holds.wait(5)
    with writer_lock("writer", fallback=lease_for(store), signals=Signals(None), wait_seconds=10):
        order.append("second")
    thread.join()
    assert order == ["first", "second"]
