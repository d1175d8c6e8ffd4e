"""Snapshot commits: versions created once, the pointer switched last, old files vacuumed."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bucketpipe.config.errors import CommitConflict
from bucketpipe.lake import snapshots
from bucketpipe.lake.layout import current_key, snapshot_key
from bucketpipe.lake.snapshots import FileEntry, commit, discard_orphans, read_current
from bucketpipe.lake.storage import LocalStore
from bucketpipe.maintain.vacuum import vacuum

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def entry(key: str, rows: int = 10, day: str = "2026-11-20") -> FileEntry:
    return FileEntry(
        key=key,
        rows=rows,
        bytes=100,
        partition=day,
        min_time=datetime.fromisoformat(f"{day}T10:00:00+00:00"),
        max_time=datetime.fromisoformat(f"{day}T20:00:00+00:00"),
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "lake")


def test_first_commit_creates_version_one(store: LocalStore) -> None:
    assert read_current(store, "quotes") is None
    snap = commit(store, "quotes", run_id="r1", add=[entry("clean/quotes/a.parquet")])
    assert snap.version == 1 and snap.parent is None
    assert read_current(store, "quotes") == snap
    assert store.head(snapshot_key("quotes", 1)) is not None


def test_commit_adds_and_removes_files(store: LocalStore) -> None:
    commit(store, "quotes", run_id="r1", add=[entry("a"), entry("b")])
    snap = commit(store, "quotes", run_id="r2", add=[entry("c", 5)], remove=["a"])
    assert snap.version == 2 and snap.parent == 1
    assert sorted(snap.keys) == ["b", "c"]
    assert snap.rows == 15


def test_replace_all_keeps_only_new_files(store: LocalStore) -> None:
    commit(store, "quotes", run_id="r1", add=[entry("a"), entry("b")])
    snap = commit(store, "quotes", run_id="rb", add=[entry("z")], replace_all=True)
    assert snap.keys == ["z"]


def test_a_version_can_be_committed_only_once(store: LocalStore) -> None:
    commit(store, "quotes", run_id="r1", add=[entry("a")])
    # Another writer committed version 2 without this writer seeing it yet.
    store.put(snapshot_key("quotes", 2), b"{}")
    with pytest.raises(CommitConflict, match="version 2"):
        commit(store, "quotes", run_id="r2", add=[entry("b")])
    assert read_current(store, "quotes").version == 1  # type: ignore[union-attr]


def test_expected_parent_fences_a_stale_writer(store: LocalStore) -> None:
    commit(store, "quotes", run_id="r1", add=[entry("a")])
    commit(store, "quotes", run_id="r2", add=[entry("b")])
    with pytest.raises(CommitConflict, match="expected to build on version 1"):
        commit(store, "quotes", run_id="r3", add=[entry("c")], expected_parent=1)


def test_adding_a_file_twice_is_refused(store: LocalStore) -> None:
    commit(store, "quotes", run_id="r1", add=[entry("a")])
    with pytest.raises(CommitConflict):
        commit(store, "quotes", run_id="r2", add=[entry("a")])


def test_orphan_versions_from_a_crash_are_discarded(store: LocalStore) -> None:
    snap = commit(store, "quotes", run_id="r1", add=[entry("a")])
    # A writer crashed after creating version 2 but before switching current.json.
    store.put(
        snapshot_key("quotes", 2), snap.model_copy(update={"version": 2}).model_dump_json().encode()
    )
    assert discard_orphans(store, "quotes") == [2]
    assert store.head(snapshot_key("quotes", 2)) is None
    assert commit(store, "quotes", run_id="r2", add=[entry("b")]).version == 2


def test_pruning_by_partition_and_time(store: LocalStore) -> None:
    snap = commit(
        store,
        "quotes",
        run_id="r1",
        add=[
            entry("a", day="2026-11-18"),
            entry("b", day="2026-11-19"),
            entry("c", day="2026-11-20"),
        ],
    )
    assert [f.key for f in snap.files_for(partitions=["2026-11-19"])] == ["b"]
    start = datetime(2026, 11, 19, 12, tzinfo=UTC)
    assert [f.key for f in snap.files_for(start=start)] == ["b", "c"]
    end = datetime(2026, 11, 19, 9, tzinfo=UTC)
    assert [f.key for f in snap.files_for(end=end)] == ["a"]
    assert snap.partitions() == ["2026-11-18", "2026-11-19", "2026-11-20"]


def test_vacuum_respects_the_grace_period_and_live_versions(store: LocalStore) -> None:
    for key in ("clean/quotes/dt=2026-11-20/a.parquet", "clean/quotes/dt=2026-11-20/b.parquet"):
        store.put(key, b"x")
    commit(store, "quotes", run_id="r1", add=[entry("clean/quotes/dt=2026-11-20/a.parquet")])
    commit(
        store,
        "quotes",
        run_id="r2",
        add=[entry("clean/quotes/dt=2026-11-20/b.parquet")],
        remove=["clean/quotes/dt=2026-11-20/a.parquet"],
    )
    store.put("clean/quotes/dt=2026-11-20/uncommitted.parquet", b"x")
    # Within the grace period nothing goes: a reader may still hold version 1.
    assert vacuum(store, "quotes", grace=timedelta(hours=1)) == {
        "files_deleted": 0,
        "versions_deleted": 0,
    }
    later = datetime.now(UTC) + timedelta(hours=2)
    result = vacuum(store, "quotes", grace=timedelta(hours=1), now=later, keep_versions=1)
    assert result == {"files_deleted": 2, "versions_deleted": 1}
    remaining = {info.key for info in store.list_objects("clean/quotes/")}
    assert remaining == {"clean/quotes/dt=2026-11-20/b.parquet"}
    assert store.head(current_key("quotes")) is not None


def test_list_datasets(store: LocalStore) -> None:
    commit(store, "quotes", run_id="r1")
    commit(store, "company_profiles", run_id="r1")
    assert snapshots.list_datasets(store) == ["company_profiles", "quotes"]
