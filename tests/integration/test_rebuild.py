"""`clean --rebuild`: new rules re-clean raw and swap the snapshot; readers see old or new."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketpipe.clean.job import rebuild, run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.bucket.mapping import Mapping
from bucketpipe.ingest.bucket.source import land
from bucketpipe.lake.duck import connect, sql_list
from bucketpipe.lake.snapshots import read_current
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.integration

DROP = "defaults:\n  outliers: {min_rows: 5, action: drop}\n"
FLAG = "defaults:\n  outliers: {min_rows: 5, action: flag}\n"


def reader_loop(settings: Settings, stop: threading.Event, seen: list[tuple[int, int]]) -> None:
    """Resolve the current snapshot and count its rows, again and again."""
    ctx = Context.from_settings(settings)
    con = connect(settings)
    while not stop.is_set():
        snapshot = read_current(ctx.store, "vals")
        if snapshot is None:
            continue
        paths = sql_list([ctx.store.duckdb_path(f.key) for f in snapshot.files])
        row = con.execute(f"SELECT count(*) FROM read_parquet({paths})").fetchone()
        assert row is not None
        seen.append((snapshot.version, int(row[0])))
    con.close()
    ctx.close()


def test_rebuild_swaps_atomically_under_a_reader(
    lake_settings: SettingsFactory, tmp_path: Path
) -> None:
    source = tmp_path / "src" / "vals"
    source.mkdir(parents=True)
    config = tmp_path / "clean.yaml"
    config.write_text(DROP)
    settings = lake_settings(source=str(source.parent), clean_config=str(config))
    ctx = Context.from_settings(settings)
    for part in range(3):
        rows = "".join(f"{part}-{i},{i}\n" for i in range(1, 8))
        extra = f"{part}-x,1000\n" if part == 0 else ""
        (source / f"{part}.csv").write_text("id,v\n" + rows + extra)
        land(ctx, run_id=f"b{part}", mapping=Mapping())
        run_clean(ctx, after_clean=AFTER_CLEAN, run_id=f"c{part}")
    old = read_current(ctx.store, "vals")
    assert old is not None and old.rows == 21  # the 1000 went to quarantine

    config.write_text(FLAG)
    seen: list[tuple[int, int]] = []
    stop = threading.Event()
    reader = threading.Thread(target=reader_loop, args=(settings, stop, seen))
    reader.start()
    try:
        manifest = rebuild(ctx, after_clean=AFTER_CLEAN, run_id="rebuild-1", datasets=["vals"])
    finally:
        stop.set()
        reader.join(timeout=60)
    new = read_current(ctx.store, "vals")
    assert new is not None and new.rows == 22 and new.operation == "rebuild"
    assert manifest.datasets["vals"].rows_written == 22
    # Every read saw one whole snapshot: the old rows or the new ones, nothing in between.
    assert seen and {count for _, count in seen} <= {21, 22}
    assert all(count == (21 if version == old.version else 22) for version, count in seen)
    # The old files stay for readers that still hold the old snapshot.
    assert all(ctx.store.head(f.key) is not None for f in old.files)
    ctx.close()


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """`main()` installs a log handler on the test's captured stderr: remove it afterwards."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_bucketpipe", False):
            root.removeHandler(handler)


def test_rebuild_of_an_unknown_dataset_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cli_logging: None,
) -> None:
    from bucketpipe.jobs.cli import main

    monkeypatch.setenv("BUCKETPIPE_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("BUCKETPIPE_TEMP_DIR", str(tmp_path / "tmp"))
    assert main(["clean", "--rebuild", "nosuch"]) == 2
    assert "unknown dataset 'nosuch'" in capsys.readouterr().err
