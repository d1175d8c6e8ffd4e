"""The lake layout: keys are built and parsed in one place."""

from datetime import date

import pytest

from bucketpipe.config.errors import ConfigError
from bucketpipe.lake import layout


def test_raw_key_has_source_day_run_and_shard() -> None:
    day = date(2026, 11, 20)
    assert layout.raw_key("finnhub", day, "ingest-1") == (
        "raw/finnhub/dt=2026-11-20/ingest-1.jsonl.gz"
    )
    assert layout.raw_key("finnhub", day, "ingest-1", shard=3) == (
        "raw/finnhub/dt=2026-11-20/ingest-1-3.jsonl.gz"
    )


def test_clean_and_quarantine_keys() -> None:
    assert layout.clean_key("quotes", date(2026, 1, 2), "r1-v3-0") == (
        "clean/quotes/dt=2026-01-02/r1-v3-0.parquet"
    )
    assert layout.quarantine_key("quotes", "2026-01-02", "r1") == (
        "quarantine/quotes/dt=2026-01-02/r1.parquet"
    )


def test_snapshot_keys_sort_by_version() -> None:
    keys = [layout.snapshot_key("quotes", v) for v in (10, 9, 100)]
    assert sorted(keys) == [
        "_snapshots/quotes/0000000009.json",
        "_snapshots/quotes/0000000010.json",
        "_snapshots/quotes/0000000100.json",
    ]
    assert layout.snapshot_version_of(keys[0]) == 10
    assert layout.snapshot_version_of(layout.current_key("quotes")) is None


def test_manifest_and_report_keys() -> None:
    assert layout.manifest_key("ingest", "ingest-finnhub-29412345-2") == (
        "_runs/ingest/ingest-finnhub-29412345-2.json"
    )
    assert layout.quality_report_key("quotes", "c1") == "reports/quality/quotes/c1.json"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("clean/quotes/dt=2026-11-20/a.parquet", "2026-11-20"),
        ("raw/demo/dt=2026-01-01/r.jsonl.gz", "2026-01-01"),
        ("_snapshots/quotes/current.json", None),
    ],
)
def test_partition_of(key: str, expected: str | None) -> None:
    assert layout.partition_of(key) == expected


@pytest.mark.parametrize("name", ["Quotes", "1abc", "a-b", "a b", "", "x" * 64, "quotes;drop"])
def test_bad_dataset_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError):
        layout.check_name(name)


@pytest.mark.parametrize("run_id", ["", "-x", "a/b", "a b", "x" * 200, "../etc"])
def test_bad_run_ids_are_refused(run_id: str) -> None:
    with pytest.raises(ConfigError):
        layout.check_run_id(run_id)


def test_bad_partition_day_is_refused() -> None:
    with pytest.raises(ConfigError):
        layout.clean_key("quotes", "2026/01/01", "x")
