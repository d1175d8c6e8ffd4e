"""A run SIGKILLed between its commit (the manifest) and its Delta commit: the data stays
committed, the tables lag, and the next run (an idle clean, or compaction) brings every table
level, reading the same as `bucketpipe sql` in deltalake, Polars and DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bucketpipe.lake.delta_log import head_snapshot_version
from bucketpipe.lake.snapshots import list_datasets, read_current
from bucketpipe.serve.tables import describe
from tests.reliability.crash_runner import Step
from tests.reliability.harness import Lake, local_lake, next_friday_close, run_child
from tests.support.delta_readers import Readers, compare

pytestmark = pytest.mark.integration

T1 = next_friday_close(datetime.now(UTC))


def at(moment: datetime) -> str:
    return moment.isoformat()


def kill_point(lake: Lake, step: Step, manifest: str) -> int:
    """The number of object writes of `step` up to and including its manifest's."""
    trial = run_child(lake.copy(f"trial-{step.run_id}"), step)
    assert trial.outcome is not None, trial.describe()
    index = next(i for i, w in enumerate(trial.outcome.writes) if w.endswith(manifest))
    return index + 1


def killed_after_commit(lake: Lake, step: Step) -> None:
    """Run `step`, SIGKILLed right after its manifest is written (before the Delta commit)."""
    point = kill_point(lake, step, f"_runs/{step.job}/{step.run_id}.json")
    child = run_child(lake, step, kill_after=point)
    assert child.killed, child.describe()
    assert lake.store.head(f"_runs/{step.job}/{step.run_id}.json") is not None


def lagging(lake: Lake) -> list[str]:
    store = lake.store
    out = []
    for name in list_datasets(store):
        snapshot = read_current(store, name)
        assert snapshot is not None
        if head_snapshot_version(store, name) != snapshot.version:
            out.append(name)
    return out


def all_level_and_equal(lake: Lake) -> None:
    store = lake.store
    readers = Readers(lake.settings, store)
    try:
        for name in list_datasets(store):
            assert describe(store, name).level, name
            compare(readers, name)
    finally:
        readers.close()


@pytest.mark.timeout(900)
def test_the_next_run_brings_tables_level_after_a_kill_between_commit_and_mirror(
    tmp_path: Path,
) -> None:
    lake = local_lake(tmp_path, sql_max_rows=1_000_000, vacuum_grace_hours=0)
    assert run_child(lake, Step("ingest", "i1", at(T1))).outcome is not None

    # The first clean commits every dataset, then dies before any table exists.
    killed_after_commit(lake, Step("clean", "c1", at(T1)))
    assert lagging(lake) == list_datasets(lake.store)
    idle = run_child(lake, Step("clean", "c2", at(T1 + timedelta(minutes=15))))
    assert idle.outcome is not None and idle.outcome.result == "nothing", idle.describe()
    assert lagging(lake) == []
    all_level_and_equal(lake)

    # With tables in place, a clean that dies after its commit leaves them a version behind;
    # the next compaction (which also rewrites and vacuums) brings them level.
    later = T1 + timedelta(hours=1)
    run_child(lake, Step("ingest", "i2", at(later), interval_minutes=30))
    killed_after_commit(lake, Step("clean", "c3", at(later)))
    assert "quotes" in lagging(lake)
    compacted = run_child(lake, Step("compact", "k1", at(T1 + timedelta(days=3))))
    assert compacted.outcome is not None and compacted.outcome.result == "succeeded"
    assert lagging(lake) == []
    all_level_and_equal(lake)
