"""What an `ingest bucket` run lands, from a listing and the state (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from bucketpipe.ingest.bucket.mapping import Mapping, parse_mapping
from bucketpipe.ingest.bucket.source import copy_key, plan
from bucketpipe.ingest.bucket.state import SourceState, source_id
from bucketpipe.lake.storage import ObjectInfo

WHEN = datetime(2025, 1, 1, tzinfo=UTC)


def info(key: str, etag: str = "e1", size: int = 10) -> ObjectInfo:
    return ObjectInfo(key=key, size=size, etag=etag, last_modified=WHEN)


def test_new_changed_unchanged_ignored_and_too_large() -> None:
    state = SourceState(source="s3://b/p")
    state.record("a/old.csv", "e1", 10, "landed", "r0")
    state.record("a/changed.csv", "e1", 10, "landed", "r0")
    listing = [
        info("a/old.csv"),
        info("a/changed.csv", etag="e2"),
        info("a/new.csv"),
        info("a/huge.csv", size=1000),
        info("_SUCCESS"),
        info("a/.hidden"),
    ]
    todo = plan(listing, Mapping(), state, max_bytes=100)
    assert [i.key for i, _ in todo.land] == ["a/changed.csv", "a/new.csv"]
    assert [i.key for i, _ in todo.too_large] == ["a/huge.csv"]
    assert (todo.unchanged, todo.ignored, todo.unmapped) == (1, 2, 0)


def test_failed_and_too_large_files_come_back_when_allowed() -> None:
    state = SourceState(source="s3://b/p")
    state.record("bad.json", "e1", 10, "failed", "r0", "not valid JSON")
    state.record("big.csv", "e1", 1000, "too_large", "r0")
    listing = [info("bad.json"), info("big.csv", size=1000)]
    assert plan(listing, Mapping(), state, max_bytes=100).land == []
    again = plan(listing, Mapping(), state, max_bytes=10_000, retry_failed=True)
    assert [i.key for i, _ in again.land] == ["bad.json", "big.csv"]


def test_reserved_dataset_names_are_marked() -> None:
    mapping = parse_mapping("rules: [{pattern: '*.csv', dataset: quotes}]")
    (only,) = plan([info("q.csv")], mapping, SourceState(source="x"), max_bytes=100).land
    assert only[1].options.get("_reserved") is True


def test_unmapped_objects_are_counted() -> None:
    mapping = parse_mapping("unmatched: skip\nrules: [{pattern: 'keep/*', dataset: kept}]")
    todo = plan(
        [info("keep/a.csv"), info("other/b.csv")], mapping, SourceState(source="x"), max_bytes=100
    )
    assert [i.key for i, _ in todo.land] == ["keep/a.csv"] and todo.unmapped == 1


def test_copy_keys_and_source_ids() -> None:
    assert copy_key("2025-01-01", "run-1", 7, "x/Sales.CSV.gz") == (
        "raw/bucket/dt=2025-01-01/run-1/00007.csv.gz"
    )
    assert copy_key("2025-01-01", "r", 0, "noext") == "raw/bucket/dt=2025-01-01/r/00000.bin"
    assert source_id("s3://b/p/") == source_id("s3://b/p") != source_id("s3://b/q")
