"""Redis signals against a real redis-server: streams, groups, status, locks, versions."""

import logging
import threading
import time

import pytest

from bucketpipe.coord.signals import CLEAN_COMMITTED, INGEST_COMMITTED, Event, Signals
from tests.conftest import RedisServer, free_port

pytestmark = pytest.mark.integration


def signals_for(url: str) -> Signals:
    import redis

    return Signals(redis.Redis.from_url(url, decode_responses=True, socket_timeout=1))


def ingest_event(run: str) -> Event:
    return Event(
        kind=INGEST_COMMITTED,
        run_id=run,
        job="ingest-demo",
        manifest=f"_runs/ingest/{run}.json",
        rows=3,
    )


def test_events_roundtrip_through_a_consumer_group(redis_url: str) -> None:
    signals = signals_for(redis_url)
    assert signals.publish(ingest_event("r1"))
    assert signals.publish(ingest_event("r2"))
    got = signals.read_group("clean", "pod-a")
    assert [e.run_id for e in got] == ["r1", "r2"]
    assert got[0].manifest == "_runs/ingest/r1.json" and got[0].rows == 3
    # Delivered but not acked: pending for this consumer, invisible to new reads.
    assert signals.read_group("clean", "pod-b") == []
    assert [e.run_id for e in signals.pending_events("clean", "pod-a")] == ["r1", "r2"]
    assert signals.ack("clean", [got[0].id or ""]) == 1
    assert signals.pending_count("clean") == 1


def test_abandoned_events_are_claimed_by_another_consumer(redis_url: str) -> None:
    signals = signals_for(redis_url)
    signals.publish(ingest_event("r1"))
    assert len(signals.read_group("clean", "crashed-pod")) == 1
    time.sleep(0.05)
    claimed = signals.claim_abandoned("clean", "new-pod", min_idle_ms=10)
    assert [e.run_id for e in claimed] == ["r1"]
    assert [e.run_id for e in signals.pending_events("clean", "new-pod")] == ["r1"]


def test_group_created_late_still_sees_earlier_events(redis_url: str) -> None:
    signals = signals_for(redis_url)
    signals.publish(ingest_event("before"))
    assert [e.run_id for e in signals.read_group("clean", "c")] == ["before"]


def test_stream_is_capped(redis_url: str) -> None:
    import redis

    signals = Signals(redis.Redis.from_url(redis_url, decode_responses=True), maxlen=100)
    for i in range(1000):
        signals.publish(ingest_event(f"r{i}"))
    length = redis.Redis.from_url(redis_url).xlen("bucketpipe:events")
    assert 100 <= length < 300
    assert signals.recent_events(1)[0].run_id == "r999"


def test_status_is_replaced_whole(redis_url: str) -> None:
    signals = signals_for(redis_url)
    signals.set_status("clean", {"state": "failed", "message": "boom", "errors": 2})
    signals.set_status("clean", {"state": "succeeded", "rows": 10})
    status = signals.get_status("clean")
    assert status["state"] == "succeeded" and status["rows"] == "10"
    assert "message" not in status and "errors" not in status
    assert set(signals.statuses()) == {"clean"}


def test_heartbeat_only_touches_its_own_run(redis_url: str) -> None:
    signals = signals_for(redis_url)
    signals.set_status("clean", {"state": "running", "run_id": "r1"})
    assert signals.heartbeat("clean", "r1")
    assert "heartbeat_at" in signals.get_status("clean")
    assert not signals.heartbeat("clean", "someone-else")


def test_lock_is_exclusive_and_released_only_by_its_holder(redis_url: str) -> None:
    signals = signals_for(redis_url)
    got = signals.try_lock("writer", 10_000)
    assert isinstance(got, tuple)
    token, fence = got
    assert signals.try_lock("writer", 10_000) is False
    assert not signals.release_lock("writer", "not-the-token")
    assert signals.try_lock("writer", 10_000) is False
    assert signals.extend_lock("writer", token, 20_000)
    assert signals.release_lock("writer", token)
    again = signals.try_lock("writer", 10_000)
    assert isinstance(again, tuple) and again[1] == fence + 1


def test_versions(redis_url: str) -> None:
    signals = signals_for(redis_url)
    assert signals.versions() == {}
    signals.bump_version("quotes")
    signals.bump_version("quotes")
    signals.bump_version("company_profiles")
    assert signals.versions() == {"quotes": 2, "company_profiles": 1}


def test_wait_for_events_wakes_on_publish(redis_url: str) -> None:
    signals = signals_for(redis_url)
    publisher = signals_for(redis_url)
    timer = threading.Timer(0.2, lambda: publisher.publish(ingest_event("later")))
    timer.start()
    assert signals.wait_for_events(timeout_ms=5000)
    timer.join()
    assert not signals.wait_for_events(timeout_ms=100)


def test_group_wait_wakes_at_once_for_an_event_that_came_before_it(redis_url: str) -> None:
    # An ingest announced while the watcher was busy cleaning is not yet delivered to the group:
    # the wait returns at once instead of waiting out its timeout, and leaves the entry pending
    # for the consumer, where the next pass reads it.
    signals = signals_for(redis_url)
    signals.ensure_group("clean")
    signals.publish(ingest_event("during-the-pass"))
    kinds = frozenset({INGEST_COMMITTED})
    woke = signals.wait_for_events(60_000, group="clean", consumer="watch", kinds=kinds)
    assert woke
    assert [e.run_id for e in signals.pending_events("clean", "watch")] == ["during-the-pass"]


def test_group_wait_ignores_and_acks_other_kinds(redis_url: str) -> None:
    # A clean's own announcement must not start another pass.
    signals = signals_for(redis_url)
    signals.ensure_group("clean")
    signals.publish(Event(kind=CLEAN_COMMITTED, run_id="clean-1", job="clean"))
    kinds = frozenset({INGEST_COMMITTED})
    assert not signals.wait_for_events(300, group="clean", consumer="watch", kinds=kinds)
    assert signals.pending_count("clean") == 0


def test_group_wait_stops_when_asked(redis_url: str) -> None:
    signals = signals_for(redis_url)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    began = time.monotonic()
    assert not signals.wait_for_events(120_000, group="clean", consumer="w", stop=stop.is_set)
    # Well under the two minutes it would otherwise block.
    assert time.monotonic() - began < 60


def test_redis_off_is_neutral() -> None:
    signals = Signals(None)
    assert signals.state == "off"
    assert signals.publish(ingest_event("r")) is None
    assert signals.read_group("clean", "c") == []
    assert signals.try_lock("writer", 1000) is None
    assert signals.versions() is None
    assert not signals.set_status("clean", {"state": "x"})


def test_redis_down_degrades_with_one_warning(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    signals = signals_for(f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING, logger="bucketpipe.coord.signals"):
        assert signals.publish(ingest_event("r")) is None
        assert signals.versions() is None
        assert signals.try_lock("writer", 1000) is None
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert signals.state == "unavailable"
