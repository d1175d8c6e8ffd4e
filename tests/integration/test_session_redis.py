"""LakeSession with a real redis-server: a bumped data version is the only thing that makes it
sync, and the periodic full check still finds a commit made while Redis was away."""

from __future__ import annotations

from pathlib import Path

import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.coord.signals import Signals
from bucketpipe.lake.index import INDEX_KEY, read_index
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.queries.session import FULL_SYNC_EVERY_S, LakeSession
from tests.conftest import SettingsFactory
from tests.support.lakes import Clock, add_rows

pytestmark = pytest.mark.integration


@pytest.fixture
def lake(make_settings: SettingsFactory) -> tuple[Settings, ObjectStore]:
    settings = make_settings()
    store = lake_store(settings)
    work = Path(settings.temp_dir) / "work"
    add_rows(store, work, "quotes", [1, 2], "r1")
    add_rows(store, work, "notes", [7], "r1")
    return settings, store


def test_with_redis_only_a_bumped_counter_triggers_a_sync(
    lake: tuple[Settings, ObjectStore], redis_url: str
) -> None:
    settings, store = lake
    clock = Clock()
    signals = Signals.from_settings(Settings(redis_url=redis_url))
    s = LakeSession(settings, store, signals, clock=clock)
    first = s.poll()
    assert first.source == "redis" and first.versions == {"notes": 1, "quotes": 1}
    add_rows(store, Path(settings.temp_dir) / "work", "quotes", [10], "r2")
    clock.now += 1
    assert s.poll().changed == ()  # one Redis round trip said nothing moved
    signals.bump_version("quotes")
    clock.now += 1
    assert s.poll().changed == ("quotes",)
    # A commit made while Redis was away is still found by the periodic full check.
    add_rows(store, Path(settings.temp_dir) / "work", "notes", [1], "r3")
    clock.now += FULL_SYNC_EVERY_S
    assert s.poll().changed == ("notes",)
    s.close()


def test_a_commit_the_lake_index_lost_is_found_when_redis_announces_it(
    lake: tuple[Settings, ObjectStore], redis_url: str
) -> None:
    """Two writers replacing the index at once can drop one's entry (no compare-and-swap on
    RGW): the dataset Redis says moved is read from its version documents, not the index."""
    settings, store = lake
    clock = Clock()
    signals = Signals.from_settings(Settings(redis_url=redis_url))
    s = LakeSession(settings, store, signals, clock=clock)
    assert s.poll().versions == {"notes": 1, "quotes": 1}
    stale_index = store.get(INDEX_KEY)
    add_rows(store, Path(settings.temp_dir) / "work", "quotes", [10], "r2")
    store.put(INDEX_KEY, stale_index)  # another writer's update overwrote this commit's entry
    assert read_index(store).snapshots["quotes"].version == 1  # type: ignore[union-attr]
    signals.bump_version("quotes")
    clock.now += 1
    polled = s.poll()
    assert polled.changed == ("quotes",) and polled.versions["quotes"] == 2
    with s.cursor(["quotes"]) as cursor:
        assert cursor.execute("SELECT count(*) FROM quotes").fetchone() == (3,)
    s.close()
