"""Snapshot commits: versions created once (the commit point), current.json a hint readers probe
forward from, old files vacuumed from supersede time."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bucketpipe.config.errors import CommitConflict
from bucketpipe.lake import snapshots
from bucketpipe.lake.commits import Basis, VersionTaken, commit
from bucketpipe.lake.layout import current_key, snapshot_key
from bucketpipe.lake.snapshots import FileEntry, read_current, read_hint
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
    first = commit(store, "quotes", run_id="r1", add=[entry("a")])
    commit(store, "quotes", run_id="r2", add=[entry("b")])
    # A writer that planned against version 1 loses: version 2 is taken, nothing overwritten.
    with pytest.raises(VersionTaken, match="version 2"):
        commit(store, "quotes", run_id="r3", add=[entry("c")], basis=Basis(first))
    assert read_current(store, "quotes").keys == ["a", "b"]  # type: ignore[union-attr]


def test_a_rebase_applies_a_rewrite_on_the_newer_version(store: LocalStore) -> None:
    first = commit(store, "quotes", run_id="r1", add=[entry("a"), entry("b")])
    commit(store, "quotes", run_id="r2", add=[entry("c")])
    # Compaction planned on version 1: its files are all still there, so it rebases.
    snap = commit(
        store,
        "quotes",
        run_id="rc",
        add=[entry("ab")],
        remove=["a", "b"],
        operation="compact",
        basis=Basis(first),
        rebase=True,
    )
    assert snap.version == 3 and sorted(snap.keys) == ["ab", "c"]
    assert sorted(snap.removed) == ["a", "b"]


def test_a_rebase_is_refused_when_its_files_are_gone(store: LocalStore) -> None:
    first = commit(store, "quotes", run_id="r1", add=[entry("a")])
    commit(store, "quotes", run_id="rb", add=[entry("z")], replace_all=True)
    with pytest.raises(CommitConflict):
        commit(
            store,
            "quotes",
            run_id="rc",
            add=[entry("a2")],
            remove=["a"],
            basis=Basis(first),
            rebase=True,
        )


def test_adding_a_file_twice_is_refused(store: LocalStore) -> None:
    commit(store, "quotes", run_id="r1", add=[entry("a")])
    with pytest.raises(CommitConflict):
        commit(store, "quotes", run_id="r2", add=[entry("a")])


def test_readers_probe_past_a_lagging_hint(store: LocalStore) -> None:
    first = commit(store, "quotes", run_id="r1", add=[entry("a")])
    commit(store, "quotes", run_id="r2", add=[entry("b")])
    # A writer died between its version document and the hint: the version is committed.
    store.put(current_key("quotes"), first.model_dump_json().encode())
    assert read_hint(store, "quotes").version == 1  # type: ignore[union-attr]
    assert read_current(store, "quotes").version == 2  # type: ignore[union-attr]
    # The next writer builds on version 2, never overwriting it.
    assert commit(store, "quotes", run_id="r3", add=[entry("c")]).version == 3


def test_readers_never_go_backwards(store: LocalStore) -> None:
    first = commit(store, "quotes", run_id="r1", add=[entry("a")])
    commit(store, "quotes", run_id="r2", add=[entry("b")])
    store.delete([current_key("quotes")])
    assert read_current(store, "quotes", at_least=2).version == 2  # type: ignore[union-attr]
    store.put(current_key("quotes"), first.model_dump_json().encode())
    assert read_current(store, "quotes", at_least=2).version == 2  # type: ignore[union-attr]


def test_a_version_records_its_inputs(store: LocalStore) -> None:
    snap = commit(store, "quotes", run_id="c1", add=[entry("a")], basis=Basis(None, ("i1", "i2")))
    assert snap.inputs == ("i1", "i2") and snap.open_inputs == ("i1", "i2")
    # Once a clean manifest lists i1, versions stop carrying it as open.
    nxt = commit(store, "quotes", run_id="c2", add=[entry("b")], basis=Basis(snap, ("i3",), {"i1"}))
    assert nxt.inputs == ("i3",) and nxt.open_inputs == ("i2", "i3")


def test_an_old_protocol_leftover_is_stepped_over(store: LocalStore) -> None:
    snap = commit(store, "quotes", run_id="r1", add=[entry("a")])
    # Before this protocol, a crash between version 2 and current.json left version 2
    # uncommitted (never visible): it is not read, and its number is skipped.
    leftover = snap.model_copy(update={"version": 2, "protocol": 1, "run_id": "dead"})
    store.put(snapshot_key("quotes", 2), leftover.model_dump_json().encode())
    assert read_current(store, "quotes").version == 1  # type: ignore[union-attr]
    assert commit(store, "quotes", run_id="r2", add=[entry("b")]).version == 3
    assert read_current(store, "quotes").version == 3  # type: ignore[union-attr]


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


def test_vacuum_grace_counts_from_supersede_time(store: LocalStore) -> None:
    old_key, new_key = (
        "clean/quotes/dt=2026-11-20/old.parquet",
        "clean/quotes/dt=2026-11-20/new.parquet",
    )
    store.put(old_key, b"x")
    store.put(new_key, b"x")
    created = datetime.now(UTC)
    commit(store, "quotes", run_id="r1", add=[entry(old_key)], now=created - timedelta(days=30))
    commit(store, "quotes", run_id="r2", add=[entry(new_key)], remove=[old_key], now=created)
    # The old file is a month old, but was unreferenced only now: it stays for the grace.
    soon = created + timedelta(minutes=30)
    assert vacuum(store, "quotes", grace=timedelta(hours=1), now=soon, keep_versions=1) == {
        "files_deleted": 0,
        "versions_deleted": 0,
    }
    later = created + timedelta(hours=2)
    assert vacuum(store, "quotes", grace=timedelta(hours=1), now=later, keep_versions=1) == {
        "files_deleted": 1,
        "versions_deleted": 1,
    }
    assert store.head(old_key) is None and store.head(new_key) is not None


def test_vacuum_keeps_the_newest_versions_whatever_their_age(store: LocalStore) -> None:
    keys = [f"clean/quotes/dt=2026-11-20/{n}.parquet" for n in "abcd"]
    t0 = datetime.now(UTC) - timedelta(days=10)
    for key in keys:
        store.put(key, b"x")
        # Uploaded when their versions were committed (vacuum also checks a file's own age).
        os.utime(store.root / key, (t0.timestamp(), t0.timestamp()))
    previous: list[str] = []
    for day, key in enumerate(keys):
        commit(
            store,
            "quotes",
            run_id=f"r{day}",
            add=[entry(key)],
            remove=previous,
            now=t0 + timedelta(days=day),
        )
        previous = [key]
    result = vacuum(store, "quotes", grace=timedelta(hours=1), keep_versions=3)
    assert result == {"files_deleted": 1, "versions_deleted": 1}
    assert store.head(keys[0]) is None and all(store.head(k) for k in keys[1:])


def test_list_datasets(store: LocalStore) -> None:
    commit(store, "quotes", run_id="r1")
    commit(store, "company_profiles", run_id="r1")
    assert snapshots.list_datasets(store) == ["company_profiles", "quotes"]
