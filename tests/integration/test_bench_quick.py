"""`bucketpipe bench --quick` end to end: every section runs and the JSON has sane shapes.

A smoke test of the benchmark harness (moto over HTTP, a real redis-server, the fake Finnhub
server, the real jobs in child processes). It asserts nothing about speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

QUESTIONS = {"overview", "stock_year", "sql_aggregate", "quality_trend"}
GOALS = {
    "Overview latency",
    "Overview vs baseline",
    "Overview growth",
    "Single-symbol growth",
    "Generic CSV clean",
    "Objects per day",
    "SQL worker latency",
    "SQL worker memory",
    "SQL query wall time",
    "Freshness",
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("bench")
    out = work / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs",
            "bench",
            "--quick",
            "--json",
            str(out),
            "--out-dir",
            str(work / "scratch"),
        ],
        capture_output=True,
        text=True,
        timeout=850,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Goals" in proc.stdout  # the table was printed
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_run_is_described(results: dict[str, Any]) -> None:
    assert results["bench"]["mode"] == "quick"
    assert results["bench"]["command"].startswith("bucketpipe bench --quick")
    assert results["machine"]["cpus"] >= 1
    assert results["machine"]["memory_gib"] > 0
    assert results["missing"] == []
    assert results["failures"] == []


def test_pages_are_timed_and_their_requests_counted(results: dict[str, Any]) -> None:
    rows = results["pages"]["pages"]
    assert [r["page"] for r in rows] == ["overview", "stock", "explore"]
    for r in rows:
        assert r["cold_s"] > 0 and r["warm_s"] > 0 and r["returning_s"] > 0
        assert r["requests_cold"]["total"] > 0  # a cold page reads the lake
        assert r["requests_returning"]["total"] > 0  # so does a new server process


def test_dashboard_answers_both_designs(results: dict[str, Any]) -> None:
    config = results["bench"]["config"]
    rows = results["dashboard"]["queries"]
    expected = {(q, d, lake) for q in QUESTIONS for d in config["days"] for lake in ("local", "s3")}
    assert {(r["question"], r["days"], r["lake"]) for r in rows} == expected
    for r in rows:
        assert r["answers_match"] is True
        assert 0 < r["median_s"] <= r["p95_s"]
        assert r["runs"] == config["runs"]
        assert r["rows"] > 0
        assert r["baseline_median_s"] > 0 and r["speedup"] > 0
        if r["lake"] == "s3":
            assert r["s3_requests_cold"]["total"] > 0
            assert r["s3_requests_cold"]["total"] >= r["s3_requests_warm"]["total"]
        else:
            assert r["s3_requests_cold"] is None
    assert [lake["days"] for lake in results["dashboard"]["lakes"]] == config["days"]
    assert all(v["quote_csvs"] > 0 for v in results["dashboard"]["volumes"])


def test_growth_compares_longest_with_reference(results: dict[str, Any]) -> None:
    growth = results["growth"]
    assert {(g["question"], g["lake"]) for g in growth} == {
        (q, lake) for q in QUESTIONS for lake in ("local", "s3")
    }
    days = sorted(results["bench"]["config"]["days"])
    for g in growth:
        assert g["ratio_of"] == f"{days[-1]}d/{days[-2]}d"
        assert g["ratio"] > 0


def test_clean_measures_product_and_pandas(results: dict[str, Any]) -> None:
    (rebuild,) = results["clean"]["rebuilds"]
    assert rebuild["quote_records"] > 0
    for run in (rebuild, rebuild["first_clean"]):
        assert run["returncode"] == 0, run.get("error")
        assert run["records_per_s"] > 0
        assert run["peak_rss_mib"] > 0
    assert rebuild["baseline"]["returncode"] == 0 and rebuild["baseline"]["peak_rss_mib"] > 0
    csv = results["clean"]["csv"]
    assert csv["csv_rows"] > 0 and csv["clean"]["returncode"] == 0
    assert csv["peak_rss_mib"] > 0 and csv["baseline"]["peak_rss_mib"] > 0


def test_ingest_one_and_four_shards(results: dict[str, Any]) -> None:
    scenarios = results["ingest"]["scenarios"]
    assert [s["shards"] for s in scenarios] == [1, 4]
    for s in scenarios:
        assert s["calls_accepted"] == s["calls_planned"]
        assert isinstance(s["http_429"], int)
        assert 0 < s["quota_used"] < 1.5
        assert len(s["shard_runs"]) == s["shards"]
        assert all(run["rate_limit"] == "redis" for run in s["shard_runs"])


def test_objects_counted_per_day(results: dict[str, Any]) -> None:
    objects = results["objects"]
    assert len(objects["per_day"]) == objects["days"]
    for day in objects["per_day"]:
        assert day["added_by_runs"] > 0
        assert day["objects_total"] > 0
    assert objects["objects_per_day_after_compaction"] is not None


def test_delta_mirror_measured_on_both_lakes(results: dict[str, Any]) -> None:
    section = results["delta"]
    assert [lake["lake"] for lake in section["lakes"]] == ["local", "s3"]
    for lake in section["lakes"]:
        assert lake["tables"] >= 15 and lake["commit_ms_median"] > 0
        # One commit file per commit, a checkpoint every ten: never a file copied.
        assert 1 <= lake["log_objects_per_commit"] < 1.5
        assert lake["log_objects_after_tidy"] <= 3
    assert section["lakes"][1]["requests_per_commit_by_kind"]["PUT"] >= 1
    assert "delta_log" in results["objects"]["per_day"][0]["added_by_runs_per_area"]


def test_freshness_follows_every_run_to_both_read_paths(results: dict[str, Any]) -> None:
    section = results["freshness"]
    assert section["runs"] == len(section["per_run"]) >= 3 and section["missed"] == 0
    for run in section["per_run"]:
        # Readable on the dashboard's path after the commit, and by a new `bucketpipe sql`
        # process no earlier; the watcher's clean pass of that run is recorded.
        assert 0 < run["dashboard_s"] <= run["sql_s"]
        assert run["clean_pass_s"] is not None and run["clean_pass_s"] > 0
    cron = section["cronjob_only"]
    assert cron["p95_s"] >= cron["offset_minutes"] * 60


def test_every_goal_is_reported(results: dict[str, Any]) -> None:
    goals = {g["goal"] for g in results["goals"]}
    assert goals >= GOALS
    assert any(g.startswith("Clean rebuild") for g in goals)
    assert {"Ingest, 1 shard(s)", "Ingest, 4 shard(s)"} <= goals
    # Quick sizes are not the goals' sizes: nothing is judged.
    assert all(g["met"] is None for g in results["goals"])


def test_sandbox_latency_and_bounds_measured(results: dict[str, Any]) -> None:
    section = results["sandbox"]
    assert {q["query"] for q in section["queries"]} == {"aggregate", "100 rows", "constant"}
    for q in section["queries"]:
        assert q["worker"]["median_ms"] > 0 and q["in_process"]["median_ms"] > 0
    for attack in section["attacks"]:
        assert attack["kind"] in {"memory", "timeout", "ok", "too_large"}, attack
        assert attack["peak_rss_mib"] <= section["rss_bound_mib"], attack
        assert attack["wall_s"] <= section["timeout_s"] + 5, attack


def test_scale_measures_ingest_clean_and_replicas(results: dict[str, Any]) -> None:
    section = results["scale"]
    plan = section["plan"]
    fetched = section["ingest"]
    assert fetched["calls_accepted"] == plan["symbols"]
    assert all(run["rate_limit"] == "redis" for run in fetched["shard_runs"])
    assert len(fetched["shard_runs"]) == plan["shards"]
    # Every symbol was cleaned, from one input per ingest shard.
    assert section["clean"]["returncode"] == 0
    assert section["clean"]["symbols"] == plan["symbols"]
    assert section["clean"]["inputs"] == plan["shards"]
    for served in (section["dashboard"], section["dashboard_uncached"]):
        assert served["page_queries"] > 0 and 0 < served["p50_s"] <= served["p95_s"]
        # Each query function's own figures: the overview's and the stock page's three.
        assert set(served["queries"]) <= {
            "market.latest_quotes",
            "stock.day_bounds",
            "stock.bars",
            "stock.indicators",
        }
        assert all(0 < q["p50_s"] <= q["p95_s"] for q in served["queries"].values())
    # The dashboard's cache answers the repeated overview from memory: more queries served.
    assert section["dashboard"]["cached"] and not section["dashboard_uncached"]["cached"]
    assert {f["figure"] for f in section["figures"]} == {
        "quota used",
        "HTTP 429",
        "symbols landed in one interval",
        "clean, share of the interval",
        "page query p95 (through the dashboard's cache)",
        "page query p95 (no cache: every query a miss)",
        "page query errors",
    }
    for row in section["figures"]:
        assert row["goal"] and row["met"] in (True, False, None), row
    goals = {g["goal"] for g in results["goals"]}
    assert {f"Scale: {f['figure']}" for f in section["figures"]} <= goals


def test_peers_load_the_same_files_with_ours_and_dlt(results: dict[str, Any]) -> None:
    section = results["peers"]
    # Deduplicated on the key by us and by dlt's merge; dlt's Parquet load keeps every row.
    assert section["ours"]["rows"] == section["distinct_keys"] < section["records"]
    assert section["dlt_duckdb_merge"]["rows"] == section["distinct_keys"]
    assert section["dlt_parquet"]["rows"] == section["records"]
    for peer in ("dlt_parquet", "dlt_duckdb_merge"):
        assert section[peer]["ratio_ours_over_peer"] > 0
    assert {"Generic CSV rate", "Ahead of dlt"} <= {g["goal"] for g in results["goals"]}
