"""How the counting proxy classifies S3 requests (path-style addressing)."""

from __future__ import annotations

import pytest

from benchmarks.proxy import CountingProxy, Requests, request_kind


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


def test_the_requests_of_a_reading_are_logged_in_order() -> None:
    proxy = CountingProxy("http://127.0.0.1:9")  # never started: counting needs no server
    proxy.count("GET", 10, "/lake/_state/lake.json", 200)
    mark = proxy.reading()
    proxy.count("HEAD", 0, "/lake/clean/a.parquet", 200)
    proxy.count("GET", 5, "/lake/_snapshots/q/0000000002.json", 404)
    assert proxy.log_since(mark) == [
        ("HEAD", "/lake/clean/a.parquet", 200),
        ("GET", "/lake/_snapshots/q/0000000002.json", 404),
    ]
    assert proxy.since(mark).total == 2
