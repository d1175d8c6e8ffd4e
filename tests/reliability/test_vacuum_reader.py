"""A reader holding an old snapshot while a rebuild, a compaction and vacuum run.

The reader resolves version N of quotes and reads its files one at a time, slowly, in DuckDB.
Meanwhile (in child processes whose clocks run days ahead, so every file looks older than the
grace period) quotes is rebuilt, which supersedes version N, and the lake is compacted and
vacuumed with only one version kept by count. Version N was superseded moments ago, so its
files stay and the reader finishes with every row of version N. Once the grace period has
passed since the rebuild, vacuum deletes them; the Delta log is never touched.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bucketpipe.lake.duck import connect
from bucketpipe.lake.snapshots import read_current
from tests.reliability.crash_runner import Step
from tests.reliability.harness import Figures, Lake, local_lake, next_friday_close, run_child

pytestmark = pytest.mark.integration

GRACE_HOURS = 6


class SlowReader(threading.Thread):
    """Reads the files of one snapshot one by one, waiting for a go-ahead half-way."""

    def __init__(self, lake: Lake, paths: list[str]) -> None:
        super().__init__(name="slow-reader", daemon=True)
        self.lake = lake
        self.paths = paths
        self.half_way = threading.Event()
        self.go_on = threading.Event()
        self.rows = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        con = connect(self.lake.settings, threads=1)
        try:
            for index, path in enumerate(self.paths):
                if index == len(self.paths) // 2:
                    self.half_way.set()
                    self.go_on.wait(600)
                got = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
                self.rows += int(got[0]) if got else 0
        except BaseException as exc:  # the assertion below reports it
            self.error = exc
        finally:
            self.half_way.set()
            con.close()


def check(step: Step, lake: Lake) -> None:
    child = run_child(lake, step)
    assert child.exitcode == 0, child.describe()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", ["local", "s3"])
def test_a_reader_on_an_old_version_finishes(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Each run adds a file of its own (no small-file rewrite), as a reader of many files meets.
    values: dict[str, object] = {
        "vacuum_grace_hours": GRACE_HOURS,
        "vacuum_keep_versions": 1,
        "clean_small_file_mb": 0,
    }
    if kind == "s3":
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        values.update(server.settings(bucket, prefix=f"held-{tmp_path.name}"))
    lake = local_lake(tmp_path, **values)
    figures = Figures(f"reader held on an old version, {kind} lake")
    at = next_friday_close(datetime.now(UTC))
    for n in range(3):
        check(Step("ingest", f"i{n}", at.isoformat(), interval_minutes=30 + n), lake)
        check(Step("clean", f"c{n}", at.isoformat()), lake)
    store = lake.store
    held = read_current(store, "quotes")
    assert held is not None and len(held.files) >= 2
    reader = SlowReader(lake, [store.duckdb_path(f.key) for f in held.files])
    reader.start()
    assert reader.half_way.wait(120)
    later = at + timedelta(days=3)
    check(Step("rebuild", "rb", later.isoformat()), lake)
    check(Step("compact", "k1", (later + timedelta(minutes=5)).isoformat()), lake)
    head = read_current(store, "quotes")
    assert head is not None and head.version > held.version
    gone = [k for k in held.keys if k not in head.keys]
    assert gone, "the rebuild replaced every file of the held version"
    assert all(store.head(k) is not None for k in gone), "vacuum deleted files a reader holds"
    reader.go_on.set()
    reader.join(120)
    assert reader.error is None, reader.error
    assert reader.rows == held.rows
    figures.add("files_held", len(held.files))
    figures.add("rows_read", reader.rows)
    # Past the grace period since the rebuild, vacuum deletes what only the old versions held.
    check(Step("compact", "k2", (later + timedelta(hours=GRACE_HOURS + 1)).isoformat()), lake)
    assert all(store.head(k) is None for k in gone)
    assert any("/_delta_log/" in i.key for i in store.list_objects("clean/quotes/"))
    figures.add("files_vacuumed_after_grace", len(gone))
    figures.report()
