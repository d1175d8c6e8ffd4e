"""How the counting proxy classifies S3 requests (path-style addressing)."""

from __future__ import annotations

import pytest

from benchmarks.proxy import Requests, request_kind


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("GET", "/lake/clean/quotes/dt=2026-11-20/a.parquet", "GET"),
        ("GET", "/lake?list-type=2&prefix=_snapshots%2F&delimiter=%2F", "LIST"),
        ("GET", "/lake/", "LIST"),
        ("HEAD", "/lake/_snapshots/quotes/current.json", "HEAD"),
        ("PUT", "/lake/raw/demo/x.jsonl.gz", "PUT"),
        ("POST", "/lake?delete", "POST"),
        ("DELETE", "/lake/a", "DELETE"),
    ],
)
def test_request_kind(method: str, path: str, kind: str) -> None:
    assert request_kind(method, path) == kind


def test_requests_total_and_json() -> None:
    seen = Requests({"GET": 3, "HEAD": 2}, 1024)
    assert seen.total == 5
    assert seen.as_dict() == {"total": 5, "GET": 3, "HEAD": 2, "bytes": 1024}
