"""Goals are judged on full runs only, and misses say by how much."""

from __future__ import annotations

from typing import Any

from benchmarks import goals
from benchmarks.goals import Verdict, evaluate


def results(mode: str = "full", **sections: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "bench": {"mode": mode, "config": {"days": [1, 30, 365], "symbols": 500}},
        "dashboard": {
            "queries": [
                {"question": "overview", "lake": "local", "days": 365, "median_s": 0.25},
                {
                    "question": "overview",
                    "lake": "local",
                    "days": 30,
                    "median_s": 0.02,
                    "speedup": 150.0,
                },
            ]
        },
        "growth": [
            {"question": "overview", "lake": "local", "ratio": 1.5, "ratio_of": "365d/30d"},
            {"question": "stock_year", "lake": "local", "ratio": 3.0, "ratio_of": "365d/30d"},
        ],
        "clean": {
            "rebuilds": [
                {"quote_records": 1_000_000, "records_per_s": 250_000, "peak_rss_mib": 800.0},
                {"quote_records": 10_000_000, "records_per_s": 100_000, "peak_rss_mib": 1500.0},
            ],
            "csv": {"csv_mib": 1024, "peak_rss_mib": 700.0, "baseline": {"peak_rss_mib": 5000}},
        },
        "ingest": {
            "scenarios": [
                {"shards": 1, "quota_used": 0.97, "http_429": 0},
                {"shards": 4, "quota_used": 0.99, "http_429": 3},
            ]
        },
        "objects": {"objects_per_day_after_compaction": 42.0, "full_day": True},
    }
    base.update(sections)
    return base


def by_goal(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.goal: v for v in verdicts}


def test_full_run_is_judged() -> None:
    verdicts = by_goal(evaluate(results()))
    assert verdicts["Overview latency"].met is True
    assert verdicts["Overview vs baseline"].met is True
    assert verdicts["Overview growth"].met is True
    assert verdicts["Single-symbol growth"].met is False
    assert "1.5x the goal" in verdicts["Single-symbol growth"].note
    assert verdicts["Clean rebuild 1.0 M records"].met is True
    ten = verdicts["Clean rebuild 10.0 M records"]
    assert ten.met is False and "2.0x short" in ten.note and "1.46 GiB" in ten.note
    assert verdicts["Generic CSV clean"].met is True
    assert "pandas 5000 MiB" in verdicts["Generic CSV clean"].measured
    assert verdicts["Ingest, 1 shard(s)"].met is True
    assert verdicts["Ingest, 4 shard(s)"].met is False
    assert verdicts["Objects per day"].met is True


def test_quick_run_is_not_judged() -> None:
    verdicts = evaluate(results(mode="quick"))
    assert all(v.met is None for v in verdicts)
    assert any("quick mode" in v.note for v in verdicts)


def test_missing_sections_are_reported_not_met() -> None:
    verdicts = by_goal(
        evaluate(
            results(
                dashboard={"queries": []},
                growth=[],
                clean={"rebuilds": [], "csv": {"status": "missing", "reason": "no generic clean"}},
                ingest={"scenarios": []},
                objects={"status": "missing", "reason": "no compaction"},
            )
        )
    )
    assert verdicts["Overview latency"].measured == "missing"
    assert verdicts["Generic CSV clean"].note == "no generic clean"
    assert verdicts["Objects per day"].note == "no compaction"
    assert all(v.met is None for v in verdicts.values())


def test_overview_miss_says_by_how_much() -> None:
    data = results()
    data["dashboard"]["queries"][0]["median_s"] = 0.9
    verdict = by_goal(evaluate(data))["Overview latency"]
    assert verdict.met is False and verdict.note == "3.0x the goal"


def test_objects_are_judged_on_the_steady_state() -> None:
    steady = {"objects_per_day_after_compaction": 41.0, "full_day": True}
    data = results(
        objects={
            "objects_per_day_after_compaction": 234.0,
            "full_day": True,
            "steady_state": steady,
        }
    )
    verdict = by_goal(evaluate(data))["Objects per day"]
    assert verdict.met is True
    assert verdict.measured == "41 (steady state)"
    assert "234/day during the first 30 days" in verdict.note


def test_partial_days_of_objects_are_not_judged() -> None:
    data = results(objects={"objects_per_day_after_compaction": 10.0, "full_day": False})
    assert by_goal(evaluate(data))["Objects per day"].met is None


def test_page_time_and_requests_per_page_are_judged_in_full_mode() -> None:
    row = {
        "page": "overview",
        "cold_s": 0.8,
        "warm_s": 0.3,
        "goal_s": 1.0,
        "requests_cold": {"total": 14, "GET": 9, "LIST": 3, "HEAD": 1, "PUT": 1, "bytes": 10},
        "requests_warm": {"total": 0, "bytes": 0},
    }
    results = {"bench": {"mode": "full"}, "pages": {"pages": [row]}}
    verdicts = {v.goal: v for v in goals.pages(results)}
    assert verdicts["Page time, overview (cold)"].met is True
    requests = verdicts["S3 requests, overview (cold)"]
    assert (requests.measured, requests.met) == ("13", False)  # the PUT is not a read
    quick = {"bench": {"mode": "quick"}, "pages": {"pages": [row]}}
    assert all(v.met is None for v in goals.pages(quick))


def _sandbox(added_ms: float, peak_mib: int, wall_s: float) -> dict[str, Any]:
    return {
        "timeout_s": 10.0,
        "rss_bound_mib": 1466,
        "queries": [{"query": "aggregate", "added_median_ms": added_ms}],
        "attacks": [{"attack": "x", "peak_rss_mib": peak_mib, "wall_s": wall_s}],
    }


def test_the_sql_sandbox_is_judged_on_latency_memory_and_wall() -> None:
    met = by_goal(evaluate(results(sandbox=_sandbox(12.0, 1200, 10.2))))
    assert met["SQL worker latency"].met is True
    assert met["SQL worker memory"].met is True
    assert met["SQL query wall time"].met is True
    missed = by_goal(evaluate(results(sandbox=_sandbox(80.0, 1500, 16.0))))
    assert [missed[g].met for g in ("SQL worker latency", "SQL worker memory")] == [False, False]
    assert missed["SQL query wall time"].met is False
    assert by_goal(evaluate(results()))["SQL worker latency"].measured == "missing"
