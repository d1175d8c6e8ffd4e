"""Files loaded side by side never need more scratch than one file may take.

Copies of landed files are fetched from the S3 lake into the run's scratch space. A file may
use all of the space a file may take (`Limits.scratch`), so a second file is fetched beside
the ones still loading only when it surely fits; otherwise they finish first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import IO

import duckdb
import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.formats.bounds import Limits
from bucketpipe.formats.loading import FileRef, Loader
from bucketpipe.formats.readers import ReadOptions
from bucketpipe.formats.refs import INPUT
from bucketpipe.lake.storage import ObjectStore

pytestmark = pytest.mark.integration

LANDED = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


class Watched:
    """The lake's store, noting how many other files were being loaded when each copy was
    opened (the folders `load-<n>` in the scratch space, less the opening file's own)."""

    def __init__(self, store: ObjectStore, scratch: Path) -> None:
        self.store = store
        self.scratch = scratch
        self.loading_at_open: list[int] = []

    def open(self, key: str) -> IO[bytes]:
        self.loading_at_open.append(len(list(self.scratch.glob("load-*"))) - 1)
        return self.store.open(key)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def _landed(ctx: Context, tmp_path: Path, files: int) -> tuple[list[FileRef], int]:
    refs, size = [], 0
    for index in range(files):
        text = "id,value\n" + "".join(f"{index}-{i},{i}\n" for i in range(20_000))
        local = tmp_path / f"f{index}.csv"
        local.write_text(text)
        size = local.stat().st_size
        key = f"raw/files/f{index}.csv"
        ctx.store.upload(key, local)
        refs.append(
            FileRef(
                dataset="things",
                uri=f"s3://source/f{index}.csv",
                key=key,
                copy=key,
                read=ReadOptions(format="csv", delimiter=","),
                run="run-1",
                landed_at=LANDED,
                size=size,
            )
        )
    return refs, size


def _load(
    ctx: Context, tmp_path: Path, refs: list[FileRef], scratch_bytes: int, name: str
) -> tuple[Watched, Loader, int]:
    scratch = tmp_path / name
    scratch.mkdir()
    store = Watched(ctx.store, scratch)
    con = duckdb.connect(str(tmp_path / f"{name}.db"))
    try:
        con.execute("SET threads = 2")
        loader = Loader(
            con,
            store,  # type: ignore[arg-type]
            scratch,
            null_tokens=("",),
            limits=Limits(scratch=scratch_bytes),
        )
        loader.load_all(refs, workers=2)
        row = con.execute(f"SELECT count(*) FROM {INPUT}").fetchone()
    finally:
        con.close()
    return store, loader, int(row[0]) if row else 0


def test_files_overlap_only_when_they_fit_beside_each_other(
    s3_settings: Callable[..., Settings],
    make_context: Callable[[Settings], Context],
    tmp_path: Path,
) -> None:
    ctx = make_context(s3_settings())
    refs, size = _landed(ctx, tmp_path, 4)

    # A file may take three times its size: with room for less than a copy beside that, two
    # files are never loaded at once.
    tight, loader, rows = _load(ctx, tmp_path, refs, int(3.5 * size), "tight")
    assert tight.loading_at_open == [0, 0, 0, 0]
    assert rows == loader.report.rows == 80_000
    assert not loader.report.failed

    # Room for many: the next file is fetched while earlier ones load.
    roomy, loader, rows = _load(ctx, tmp_path, refs, 100 * size, "roomy")
    assert max(roomy.loading_at_open) >= 1
    assert rows == loader.report.rows == 80_000
    assert not loader.report.failed
