"""Bounds on source files: the decompressed cap, the line cap, workbooks and Parquet checked
whole, the scratch space a file may take, and run directories that clean up after themselves."""

from __future__ import annotations

import gzip
import io
import multiprocessing
import os
import signal
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bucketpipe.config import scratch
from bucketpipe.config.values import MIB, parse_size, size_text
from bucketpipe.formats.bounds import Limits, TooLarge, UnreadableFile, copy_capped, open_capped
from bucketpipe.formats.containers import check_parquet, check_workbook
from bucketpipe.formats.lines import cut_long_lines, find_long_lines
from tests.conftest import SettingsFactory


def test_sizes_read_both_unit_styles() -> None:
    assert parse_size("8GiB") == 8 * 1024**3 and parse_size("512Mi") == 512 * MIB
    assert parse_size("2GB") == 2 * 1000**3 and parse_size("1048576") == MIB
    assert parse_size("1.5GiB") == 3 * 1024**3 // 2 and size_text(384 * MIB) == "384MiB"
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


def test_spill_cap_defaults_below_the_scratch_space(make_settings: SettingsFactory) -> None:
    assert make_settings().duckdb_max_temp_size == "1536MiB"
    assert make_settings(scratch_bytes="2GiB").duckdb_max_temp_size == "1536MiB"
    small = make_settings(scratch_bytes="512Mi")
    assert small.duckdb_max_temp_size == "384MiB"
    space = scratch.scratch_space(small)
    assert space.for_files == 512 * MIB - 384 * MIB - 32 * MIB
    with pytest.raises(ValueError, match="must be below"):
        make_settings(scratch_bytes="1GiB", duckdb_max_temp_size="1GiB")


def test_gzip_bomb_stops_at_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(b"0" * (64 * MIB)))
    limits = Limits(max_decompressed=16 * MIB)
    with (
        open_capped(path, "gzip", limits) as fh,
        pytest.raises(TooLarge, match="BUCKETPIPE_SOURCE_MAX_DECOMPRESSED_BYTES"),
    ):
        fh.read()


def test_truncated_gzip_is_unreadable_with_a_reason(tmp_path: Path) -> None:
    data = gzip.compress(os.urandom(MIB))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with open_capped(path, "gzip", Limits()) as fh, pytest.raises(UnreadableFile, match="trunc"):
        fh.read()


def test_a_copy_stops_at_the_scratch_bound(tmp_path: Path) -> None:
    with pytest.raises(TooLarge, match="scratch space"):
        copy_capped(io.BytesIO(b"x" * (3 * MIB)), tmp_path / "copy", Limits(scratch=MIB))


def test_long_lines_are_found_across_chunk_boundaries() -> None:
    data = b"a\n" + b"x" * 5000 + b"\nb\n" + b"y" * 3000
    found = find_long_lines(io.BytesIO(data), 1024)
    assert [(line.number, line.size) for line in found] == [(2, 5000), (4, 3000)]
    assert found[0].head.startswith(b"xxx") and len(found[0].head) == 1024
    assert find_long_lines(io.BytesIO(b"short\n" * 1000), 1024) == []


def test_long_lines_are_cut_out_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "f.ndjson"
    path.write_bytes(b'{"a": 1}\n{"a": "' + b"z" * 4096 + b'"}\n{"a": 3}\n')
    kept, long = cut_long_lines(path, "none", Limits(max_line=1024), tmp_path / "short")
    assert kept.read_bytes() == b'{"a": 1}\n{"a": 3}\n'
    assert [line.number for line in long] == [2]
    assert "BUCKETPIPE_SOURCE_MAX_LINE_BYTES" in long[0].reason(1024)


def test_workbook_parts_declared_past_the_cap_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<row>" + b" " * (8 * MIB) + b"</row>")
    with pytest.raises(TooLarge, match="unpacks to"):
        check_workbook(path, Limits(max_decompressed=MIB))
    with pytest.raises(TooLarge, match="row 1 of"):
        check_workbook(path, Limits(max_line=MIB))


def test_parquet_is_decoded_whole_and_checksums_verified(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"v": list(range(50_000))}), path, write_page_checksum=True,
                   compression="none")  # fmt: skip
    assert check_parquet(path, Limits()) == 50_000
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableFile, match="not valid Parquet"):
        check_parquet(path, Limits())


def _hold_directory(base: str, ready: multiprocessing.synchronize.Event) -> None:
    with scratch.run_directory(base):
        ready.set()
        signal.pause()


def test_run_directories_of_live_runs_stay_and_of_killed_runs_go(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    other = ctx.Process(target=_hold_directory, args=(str(tmp_path), ready), daemon=True)
    other.start()
    assert ready.wait(30)
    (theirs,) = tmp_path.iterdir()
    with scratch.run_directory(tmp_path) as mine:
        assert theirs.exists(), "a live run's directory is never removed"
        (mine / "spill.tmp").write_bytes(b"x")
    assert not mine.exists()
    os.kill(other.pid or 0, signal.SIGKILL)
    other.join(30)
    assert scratch.sweep(tmp_path) == [theirs.name]
    assert list(tmp_path.iterdir()) == []
