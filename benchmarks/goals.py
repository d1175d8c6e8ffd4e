"""The goals a bench run is judged against, evaluated on its JSON results (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

GIB_MIB = 1024.0

Results = dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    """One goal's outcome. `met` is None when the run did not measure it at the goal's size."""

    goal: str
    target: str
    measured: str
    met: bool | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "target": self.target,
            "measured": self.measured,
            "met": self.met,
            "note": self.note,
        }


def _rows(results: Results, **match: Any) -> list[dict[str, Any]]:
    rows = results.get("dashboard", {}).get("queries", [])
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def _largest(results: Results) -> tuple[int, int]:
    config = results.get("bench", {}).get("config", {})
    days = config.get("days") or [0]
    return int(max(days)), int(config.get("symbols") or 0)


def _full(results: Results) -> bool:
    return bool(results.get("bench", {}).get("mode") == "full")


def _judged(met: bool, results: Results) -> tuple[bool | None, str]:
    if _full(results):
        return met, ""
    return None, "quick mode: sizes smaller than the goal's, not judged"


def _fmt_s(value: float | None) -> str:
    return "missing" if value is None else f"{value:.3f} s"


def overview_latency(results: Results) -> Verdict:
    days, symbols = _largest(results)
    rows = _rows(results, question="overview", lake="local", days=days)
    target = "<= 0.3 s median (365 d x 500 symbols, local lake)"
    if not rows:
        return Verdict("Overview latency", target, "missing", None, "not measured")
    median = float(rows[0]["median_s"])
    met, note = _judged(median <= 0.3 and days >= 365 and symbols >= 500, results)
    note = note or (f"{median / 0.3:.1f}x the goal" if median > 0.3 else "")
    return Verdict("Overview latency", target, f"{median:.3f} s ({days} d x {symbols})", met, note)


def overview_speedup(results: Results) -> Verdict:
    target = ">= 100x faster than the baseline at 30 d"
    rows = _rows(results, question="overview", lake="local", days=30)
    if not rows or rows[0].get("speedup") is None:
        return Verdict("Overview vs baseline", target, "missing", None, "not measured at 30 d")
    speedup = float(rows[0]["speedup"])
    met, note = _judged(speedup >= 100, results)
    note = note or (f"{100 / speedup:.1f}x short" if speedup < 100 else "")
    return Verdict("Overview vs baseline", target, f"{speedup:.0f}x", met, note)


def growth(question: str, title: str) -> Callable[[Results], Verdict]:
    def check(results: Results) -> Verdict:
        target = "latency(365 d) / latency(30 d) <= 2"
        rows = [
            g
            for g in results.get("growth", [])
            if g.get("question") == question and g.get("lake") == "local"
        ]
        if not rows or rows[0].get("ratio") is None:
            return Verdict(title, target, "missing", None, "not measured")
        value = float(rows[0]["ratio"])
        met, note = _judged(value <= 2 and rows[0].get("ratio_of") == "365d/30d", results)
        note = note or (f"{value / 2:.1f}x the goal" if value > 2 else "")
        return Verdict(title, target, f"{value:.2f} ({rows[0].get('ratio_of')})", met, note)

    return check


def clean_rebuilds(results: Results) -> Iterable[Verdict]:
    rebuilds = results.get("clean", {}).get("rebuilds", [])
    target = ">= 200,000 raw records/s, peak RSS <= 1 GiB"
    if not rebuilds:
        yield Verdict("Clean rebuild", target, "missing", None, "not measured")
    for r in rebuilds:
        rate, rss = r.get("records_per_s"), r.get("peak_rss_mib")
        label = f"Clean rebuild {r.get('quote_records', 0) / 1e6:.1f} M records"
        if rate is None:
            yield Verdict(
                label, target, "failed", False if _full(results) else None, str(r.get("error"))
            )
            continue
        met, note = _judged(rate >= 200_000 and rss <= GIB_MIB, results)
        misses = []
        if rate < 200_000:
            misses.append(f"rate {200_000 / rate:.1f}x short")
        if rss > GIB_MIB:
            misses.append(f"RSS {rss / GIB_MIB:.2f} GiB")
        yield Verdict(
            label, target, f"{rate:,.0f}/s, {rss:,.0f} MiB", met, note or "; ".join(misses)
        )


def csv_clean(results: Results) -> Verdict:
    csv = results.get("clean", {}).get("csv")
    target = "peak RSS <= 1 GiB (1 GB-class CSV)"
    if not csv or csv.get("status") == "missing":
        reason = (csv or {}).get("reason", "not measured")
        return Verdict("Generic CSV clean", target, "missing", None, reason)
    rss = csv.get("peak_rss_mib")
    if csv.get("error") or rss is None:
        return Verdict(
            "Generic CSV clean",
            target,
            "failed",
            False if _full(results) else None,
            str(csv.get("error")),
        )
    met, note = _judged(rss <= GIB_MIB and csv.get("csv_mib", 0) >= 900, results)
    base = csv.get("baseline", {})
    beside = f"; pandas {base.get('peak_rss_mib')} MiB" if base else ""
    return Verdict(
        "Generic CSV clean",
        target,
        f"{rss:,.0f} MiB ({csv.get('csv_mib')} MiB CSV){beside}",
        met,
        note,
    )


def ingest(results: Results) -> Iterable[Verdict]:
    scenarios = results.get("ingest", {}).get("scenarios", [])
    target = ">= 95% of the quota used, 0 HTTP 429"
    if not scenarios:
        yield Verdict("Ingest quota", target, "missing", None, "not measured")
    for s in scenarios:
        used, rejected = s.get("quota_used"), s.get("http_429")
        label = f"Ingest, {s.get('shards')} shard(s)"
        if used is None:
            yield Verdict(label, target, "failed", None, "no calls")
            continue
        ok = used >= 0.95 and rejected == 0
        met, note = (ok, "") if _full(results) else _judged(ok, results)
        yield Verdict(label, target, f"{used:.1%}, {rejected} x 429", met, note)


def objects(results: Results) -> Verdict:
    target = "<= 50 new objects per day after compaction (15-minute schedule)"
    default = results.get("objects", {})
    # Judged on the steady state when measured: whole run manifests are a 30-day window that
    # compaction folds, not growth; the note says what the window adds until then.
    section = default.get("steady_state") or default
    value = section.get("objects_per_day_after_compaction")
    if value is None:
        return Verdict(
            "Objects per day", target, "missing", None, section.get("reason", "not measured")
        )
    if section.get("full_day"):
        met, note = _judged(value <= 50, results)
    else:
        met, note = None, "partial days simulated (quick mode)"
    if met is False:
        note = f"{value / 50:.1f}x the goal"
    measured = f"{value:,.0f}"
    if section is not default and default.get("objects_per_day_after_compaction") is not None:
        window = default["objects_per_day_after_compaction"]
        measured += " (steady state)"
        note = "; ".join(
            n for n in (note, f"{window:,.0f}/day during the first 30 days (manifest window)") if n
        )
    return Verdict("Objects per day", target, measured, met, note)


REQUESTS_PER_PAGE = 10  # GET/LIST/HEAD per page on a cold cache (the S3 lake)


def pages(results: Results) -> Iterable[Verdict]:
    """Page time in the browser and store requests per page, cold (see benchmarks/pages.py)."""
    section = results.get("pages") or {}
    for row in section.get("pages", []):
        name, goal = row["page"], row["goal_s"]
        met, note = _judged(row["cold_s"] <= goal, results)
        yield Verdict(
            f"Page time, {name} (cold)",
            f"<= {goal:.1f} s, navigation to the last chart",
            f"{row['cold_s']:.2f} s (warm {row['warm_s']:.2f} s"
            + (f", returning {row['returning_s']:.2f} s)" if "returning_s" in row else ")"),
            met,
            note,
        )
        reads = sum(v for k, v in row["requests_cold"].items() if k in ("GET", "LIST", "HEAD"))
        met, note = _judged(reads <= REQUESTS_PER_PAGE, results)
        yield Verdict(
            f"S3 requests, {name} (cold)",
            f"<= {REQUESTS_PER_PAGE} GET/LIST/HEAD",
            f"{reads}",
            met,
            note,
        )


def sandbox(results: Results) -> Iterable[Verdict]:
    section = results.get("sandbox", {})
    queries, attacks = section.get("queries") or [], section.get("attacks") or []
    target = "<= 50 ms median added by the SQL worker (ordinary query)"
    if not queries:
        yield Verdict("SQL worker latency", target, "missing", None, "not measured")
        return
    added = max(float(q["added_median_ms"]) for q in queries)
    met, note = _judged(added <= 50, results)
    yield Verdict("SQL worker latency", target, f"{added:.1f} ms (worst query)", met, note)
    if attacks:
        bound = int(section["rss_bound_mib"])
        peak = max(int(a["peak_rss_mib"]) for a in attacks)
        met, note = _judged(peak <= bound, results)
        target = f"<= {bound} MiB resident (memory limit + 512 MiB)"
        yield Verdict("SQL worker memory", target, f"{peak} MiB", met, note)
        limit = float(section["timeout_s"]) + 5
        wall = max(float(a["wall_s"]) for a in attacks)
        met, note = _judged(wall <= limit, results)
        target = f"<= {limit:g} s (timeout + 5 s)"
        yield Verdict("SQL query wall time", target, f"{wall:.1f} s", met, note)


def freshness(results: Results) -> Verdict:
    target = "p95 ≤ 30 s from ingest commit to rows on the dashboard, with the watcher"
    watcher = (results.get("freshness") or {}).get("watcher") or {}
    p95 = (watcher.get("dashboard_s") or {}).get("p95")
    if p95 is None:
        return Verdict("Freshness", target, "missing", None)
    sql = (watcher.get("sql_s") or {}).get("p95")
    met, note = _judged(p95 <= 30.0, results)
    note = "; ".join(n for n in (note, f"bucketpipe sql p95 {sql} s (with its start-up)") if n)
    return Verdict("Freshness", target, f"p95 {p95} s", met, note)


def peers(results: Results) -> Iterable[Verdict]:
    section = results.get("peers")
    if not isinstance(section, dict) or section.get("status") == "missing":
        return
    full = results.get("bench", {}).get("mode") == "full"
    ours = section.get("ours") or {}
    rate, rss = ours.get("records_per_s"), ours.get("peak_rss_mib")
    note = "" if full else "quick mode: sizes smaller than the goal's, not judged"
    target = ">= 400k records/s end to end, RSS <= 1 GiB (5M records)"
    if rate is None or rss is None:
        yield Verdict("Generic CSV rate", target, "failed", None, str(ours.get("runs")))
    else:
        met = rate >= 400_000 and rss <= 1024 and section.get("records", 0) >= 5_000_000
        yield Verdict(
            "Generic CSV rate",
            target,
            f"{rate:,}/s, {rss:,.0f} MiB",
            met if full else None,
            note,
        )
    merge = section.get("dlt_duckdb_merge")
    target = ">= 1.0x dlt + DuckDB merge (records/s, same files, same run)"
    if not isinstance(merge, dict) or merge.get("ratio_ours_over_peer") is None:
        yield Verdict("Ahead of dlt", target, "missing", None, str(section.get("dlt", "")))
        return
    ratio = float(merge["ratio_ours_over_peer"])
    parquet = (section.get("dlt_parquet") or {}).get("ratio_ours_over_peer")
    note = "; ".join(n for n in (note, f"{parquet}x dlt to Parquet") if n)
    yield Verdict("Ahead of dlt", target, f"{ratio:.2f}x", ratio >= 1.0 if full else None, note)


def scale(results: Results) -> Iterable[Verdict]:
    """The scale section's figures (benchmarks/scale.py), each with its goal."""
    section = results.get("scale") or {}
    for row in section.get("figures", []):
        value, met = row["value"], row["met"]
        measured = "missing" if value is None else str(value)
        if "seconds" in row and row["seconds"] is not None:
            measured += f" ({row['seconds']} s)"
        if "p50_s" in row:
            measured += f" (p50 {row['p50_s']} s)"
        if met is not None:
            judged, note = _judged(bool(met), results)
        else:
            judged, note = None, "not measured" if value is None else "not judged"
        yield Verdict(f"Scale: {row['figure']}", row["goal"], measured, judged, note)


def evaluate(results: Results) -> list[Verdict]:
    verdicts = [
        overview_latency(results),
        overview_speedup(results),
        growth("overview", "Overview growth")(results),
        growth("stock_year", "Single-symbol growth")(results),
        *clean_rebuilds(results),
        csv_clean(results),
        *ingest(results),
        objects(results),
        *pages(results),
        *sandbox(results),
        freshness(results),
        *peers(results),
        *scale(results),
    ]
    return verdicts
