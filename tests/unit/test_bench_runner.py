"""Growth ratios and failed runs, from the results document (pure)."""

from __future__ import annotations

from typing import Any

from benchmarks.runner import failures, growth


def row(question: str, lake: str, days: int, median: float, base: float | None) -> dict[str, Any]:
    return {
        "question": question,
        "lake": lake,
        "days": days,
        "median_s": median,
        "baseline_median_s": base,
    }


def test_growth_is_longest_over_thirty_days() -> None:
    rows = [
        row("overview", "local", 1, 0.01, 0.5),
        row("overview", "local", 30, 0.02, 2.0),
        row("overview", "local", 365, 0.05, 30.0),
        row("overview", "s3", 30, 0.04, 2.0),
        row("overview", "s3", 365, 0.06, 30.0),
    ]
    out = {(g["question"], g["lake"]): g for g in growth(rows, (1, 30, 365))}
    local = out[("overview", "local")]
    assert local["ratio"] == 2.5 and local["ratio_of"] == "365d/30d"
    assert local["baseline_ratio"] == 15.0
    assert local["median_s_1d"] == 0.01
    assert out[("overview", "s3")]["ratio"] == 1.5


def test_growth_without_thirty_days_uses_the_next_shorter() -> None:
    rows = [row("q", "local", 7, 0.01, 1.0), row("q", "local", 90, 0.03, 4.0)]
    (only,) = growth(rows, (7, 90))
    assert only["ratio_of"] == "90d/7d"


def test_growth_needs_two_sizes() -> None:
    assert growth([row("q", "local", 30, 0.01, 1.0)], (30,)) == []


def test_failures_name_the_failed_runs() -> None:
    results: dict[str, Any] = {
        "clean": {
            "rebuilds": [
                {"quote_records": 10, "returncode": 1, "error": "boom", "first_clean": {}},
            ],
            "csv": {"ingest": {"returncode": 0}, "clean": {"returncode": 1}, "error": "bad"},
        },
        "ingest": {
            "scenarios": [
                {"shards": 4, "shard_runs": [{"shard": 2, "status": "failed", "failed_calls": 3}]}
            ]
        },
    }
    found = failures(results)
    assert found[0] == "rebuild of 10 records: boom"
    assert found[1] == "CSV clean: bad"
    assert found[2].startswith("ingest shard 2/4")


def test_no_failures_in_a_clean_run() -> None:
    assert failures({"clean": {"rebuilds": [], "csv": {}}, "ingest": {"scenarios": []}}) == []
