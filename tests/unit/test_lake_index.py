"""The lake index: each dataset's newest snapshot and each service's last run in one document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bucketpipe.lake.commits import commit
from bucketpipe.lake.index import (
    INDEX_KEY,
    RECENT_RUNS,
    merged,
    prune_index,
    read_index,
    read_recent_runs,
    record_recent_run,
)
from bucketpipe.lake.layout import current_key
from bucketpipe.lake.runs import RunLog, RunManifest
from bucketpipe.lake.snapshots import FileEntry
from bucketpipe.lake.storage import LocalStore
from bucketpipe.maintain.vacuum import vacuum

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def entry(key: str) -> FileEntry:
    return FileEntry(key=key, rows=10, bytes=100, partition="2026-11-20")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "lake")


def test_every_commit_lands_in_the_index(store: LocalStore) -> None:
    assert read_index(store) is None
    commit(store, "quotes", run_id="r1", add=[entry("a")])
    news = commit(store, "news", run_id="r1", add=[entry("n")])
    quotes = commit(store, "quotes", run_id="r2", add=[entry("b")])
    index = read_index(store)
    assert index is not None
    assert index.snapshots == {"quotes": quotes, "news": news}


def test_the_first_index_of_an_older_lake_holds_every_dataset(store: LocalStore) -> None:
    commit(store, "quotes", run_id="r1", add=[entry("a")])
    commit(store, "news", run_id="r1", add=[entry("n")])
    store.delete([INDEX_KEY])  # a lake committed before the index existed
    commit(store, "news", run_id="r2", add=[entry("m")])
    index = read_index(store)
    assert index is not None
    assert {name: s.version for name, s in index.snapshots.items()} == {"quotes": 1, "news": 2}


def test_an_older_snapshot_never_replaces_a_newer_one(store: LocalStore) -> None:
    first = commit(store, "quotes", run_id="r1", add=[entry("a")])
    second = commit(store, "quotes", run_id="r2", add=[entry("b")])
    index = merged(read_index(store), [first], now=T0)
    assert index.snapshots["quotes"] == second


def test_vacuum_repairs_an_index_left_behind(store: LocalStore) -> None:
    first = commit(store, "quotes", run_id="r1", add=[entry("a")])
    commit(store, "quotes", run_id="r2", add=[entry("b")])
    # A writer died between its version and the index (or lost an update race).
    lagging = merged(None, [first], now=T0)
    store.put(INDEX_KEY, lagging.model_dump_json().encode())
    store.put(current_key("quotes"), first.model_dump_json().encode())
    vacuum(store, "quotes", grace=timedelta(hours=1), now=T0 + timedelta(days=1))
    index = read_index(store)
    assert index is not None and index.snapshots["quotes"].version == 2


def test_each_service_keeps_its_last_run(store: LocalStore) -> None:
    runlog = RunLog(store)
    for run, minute, source in (("i1", 0, "demo"), ("c1", 1, None), ("i2", 2, "demo")):
        at = T0 + timedelta(minutes=minute)
        job = "ingest" if source else "clean"
        runlog.write(
            RunManifest(
                job=job,
                run_id=run,
                source=source,
                started_at=at,
                finished_at=at,
                inputs=["x"],
                rows=minute,
            )
        )
    index = read_index(store)
    assert index is not None
    assert {name: run["run_id"] for name, run in index.services.items()} == {
        "ingest-demo": "i2",
        "clean": "c1",
    }
    assert "inputs" not in index.services["clean"]  # kept small: the sidebar needs no inputs
    # A run that finished earlier (a slow shard) does not hide the newer one.
    late = RunManifest(job="ingest", run_id="i0", source="demo", started_at=T0, finished_at=T0)
    runlog.write(late)
    index = read_index(store)
    assert index is not None and index.services["ingest-demo"]["run_id"] == "i2"


def test_prune_forgets_datasets_deleted_by_hand(store: LocalStore) -> None:
    commit(store, "quotes", run_id="r1", add=[entry("a")])
    commit(store, "news", run_id="r1", add=[entry("n")])
    prune_index(store, ["quotes"])
    index = read_index(store)
    assert index is not None and set(index.snapshots) == {"quotes"}


def test_recent_runs_keep_each_run_once_newest_first(store: LocalStore) -> None:
    for minute in range(RECENT_RUNS + 5):
        at = (T0 + timedelta(minutes=minute)).isoformat()
        record_recent_run(store, "clean", {"run_id": f"c{minute}", "finished_at": at})
    again = (T0 + timedelta(days=1)).isoformat()
    record_recent_run(store, "clean", {"run_id": "c7", "finished_at": again})  # a rerun
    held = read_recent_runs(store)
    assert held is not None
    ids = [r["run_id"] for r in held.runs["clean"]]
    assert len(ids) == RECENT_RUNS and ids[:2] == ["c7", f"c{RECENT_RUNS + 4}"]
    assert ids.count("c7") == 1
