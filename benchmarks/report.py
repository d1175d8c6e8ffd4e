"""The bench's output: a JSON document, and tables of every figure with the goals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from benchmarks import pages, peers_report, scale

Results = dict[str, Any]


def write_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:,.0f} ms" if value >= 0.01 else f"{value * 1000:.1f} ms"


def _requests(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "-"
    kinds = [f"{k} {v}" for k, v in entry.items() if k not in ("total", "bytes")]
    return f"{entry['total']} ({', '.join(kinds)})" if kinds else str(entry["total"])


def _speedup(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 10:
        return f"{value:,.0f}x"
    return f"{value:.1f}x" if value >= 1 else f"{value:.2f}x"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} MiB"


def dashboard_table(results: Results) -> Table:
    table = Table(
        title="Dashboard queries (lake: median / p95 of warm runs; baseline: CSVs + pandas)"
    )
    for column in ("Question", "History", "Lake", "Median", "p95", "Cold", "S3 requests cold",
                   "S3 requests warm", "Baseline median", "Speed-up"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("Question", "Lake") else "right")
    for r in results.get("dashboard", {}).get("queries", []):
        table.add_row(
            r["question"],
            f"{r['days']} d x {r['symbols']}",
            r["lake"],
            _ms(r["median_s"]),
            _ms(r["p95_s"]),
            _ms(r["cold_s"]),
            _requests(r.get("s3_requests_cold")),
            _requests(r.get("s3_requests_warm")),
            _ms(r.get("baseline_median_s")),
            _speedup(r.get("speedup")),
        )
    return table


def growth_table(results: Results) -> Table:
    table = Table(title="Growth: latency as history grows")
    rows = results.get("growth", [])
    days = sorted({int(k[9:-1]) for r in rows for k in r if k.startswith("median_s_")})
    table.add_column("Question")
    table.add_column("Lake")
    for d in days:
        table.add_column(f"{d} d", justify="right")
    table.add_column("Ratio", justify="right")
    table.add_column("Baseline ratio", justify="right")
    for r in rows:
        table.add_row(
            r["question"],
            r["lake"],
            *(_ms(r.get(f"median_s_{d}d")) for d in days),
            f"{r['ratio']:.2f} ({r['ratio_of']})",
            "-" if r.get("baseline_ratio") is None else f"{r['baseline_ratio']:.2f}",
        )
    return table


def clean_table(results: Results) -> Table:
    section = results.get("clean", {})
    limit = (section.get("rebuilds") or [section.get("csv") or {}])[0].get("memory_limit", "?")
    table = Table(title=f"Clean (DuckDB memory limit {limit}; peak RSS of the whole process)")
    for column in ("Workload", "Input", "Wall", "CPU", "Rate", "Peak RSS", "pandas wall",
                   "pandas peak RSS"):  # fmt: skip
        table.add_column(column, justify="left" if column == "Workload" else "right")
    for r in section.get("rebuilds", []):
        base = r.get("baseline", {})
        source = f"{r['quote_records']:,} records, {r['raw_mib']:,} MiB gz"
        for label, run in (("first clean", r.get("first_clean") or {}), ("rebuild quotes", r)):
            table.add_row(
                f"{label} ({r['symbols']} symbols)",
                source,
                f"{run.get('wall_s', 0):.1f} s",
                f"{run.get('cpu_s', 0):.1f} s",
                "-" if run.get("records_per_s") is None else f"{run['records_per_s']:,}/s",
                _mib(run.get("peak_rss_mib")),
                _baseline_wall(base) if run is r else "",
                _mib(base.get("peak_rss_mib")) if run is r else "",
            )
    csv = section.get("csv") or {}
    if csv and csv.get("status") != "missing":
        base = csv.get("baseline", {})
        clean = csv.get("clean") or {}
        table.add_row(
            "generic CSV (ingest bucket + clean)",
            f"{csv.get('csv_rows', 0):,} rows, {csv.get('csv_mib')} MiB",
            f"{clean.get('wall_s', 0):.1f} s",
            f"{clean.get('cpu_s', 0):.1f} s",
            "-" if csv.get("rows_per_s") is None else f"{csv['rows_per_s']:,} rows/s",
            _mib(csv.get("peak_rss_mib")),
            _baseline_wall(base),
            _mib(base.get("peak_rss_mib")),
        )
    return table


def _baseline_wall(base: dict[str, Any]) -> str:
    if not base:
        return "-"
    text = f"{base.get('wall_s', 0):.1f} s"
    if base.get("stopped_at_cap"):
        return text + " (stopped at the memory cap)"
    if base.get("returncode"):
        return text + " (failed)"
    return text


def ingest_table(results: Results) -> Table:
    section = results.get("ingest", {})
    table = Table(title=f"Ingest against the fake Finnhub API ({section.get('plan', '?')})")
    for column in ("Shards", "Calls", "Duration", "Calls/s", "Quota/s", "Quota used", "HTTP 429"):
        table.add_column(column, justify="right")
    for s in section.get("scenarios", []):
        table.add_row(
            str(s["shards"]),
            f"{s['calls_accepted']:,}",
            f"{s['seconds']:.1f} s",
            f"{s['calls_per_s'] or 0:.2f}",
            f"{s['quota_per_s']:.2f}",
            "-" if s.get("quota_used") is None else f"{s['quota_used']:.1%}",
            str(s["http_429"]),
        )
    return table


def objects_table(results: Results) -> Table:
    section = results.get("objects", {})
    table = Table(title="Objects added per simulated day (15-minute schedule, daily compaction)")
    for column in ("Manifests kept", "Day", "Runs", "Added by the runs", "Net after compaction",
                   "Lake total"):  # fmt: skip
        table.add_column(column, justify="right")
    for run in (section, section.get("steady_state") or {}):
        kept = run.get("manifest_retention_days") or "30 d (default)"
        kept = f"{kept} d" if isinstance(kept, int) else kept
        for d in run.get("per_day", []):
            table.add_row(
                kept, d["day"], str(d["runs"]), f"{d['added_by_runs']:,}",
                f"{d['net_after_compaction']:,}", f"{d['objects_total']:,}",
            )  # fmt: skip
    return table


def sandbox_table(results: Results) -> Table:
    section = results.get("sandbox", {})
    table = Table(
        title=f"SQL sandbox ({section.get('rows', 0):,} rows, memory limit "
        f"{section.get('memory_limit')}, first worker ready in {section.get('first_worker_s')} s)"
    )
    for header in ("Query or attack", "In process", "Worker", "Added", "Outcome", "Peak RSS"):
        table.add_column(header)
    for q in section.get("queries", []):
        inside, worker = q["in_process"], q["worker"]
        table.add_row(
            q["query"],
            f"{inside['median_ms']:.1f} ms (p95 {inside['p95_ms']:.1f})",
            f"{worker['median_ms']:.1f} ms (p95 {worker['p95_ms']:.1f})",
            f"{q['added_median_ms']:.1f} ms",
            "ok",
            "",
        )
    for a in section.get("attacks", []):
        table.add_row(
            a["attack"],
            "",
            f"{a['wall_s']:.2f} s",
            f"next query {a['next_query_s']:.2f} s",
            f"{a['kind']}: {a['outcome']}",
            f"{a['peak_rss_mib']} MiB",
        )
    return table


def delta_table(results: Results) -> Table:
    section = results.get("delta", {})
    per_day = _delta_per_day(results)
    table = Table(
        title=f"The Delta Lake mirror: {section.get('commits')} appends to quotes, each synced"
        f"{per_day}"
    )
    for column in ("Lake", "Backfill ms/table", "ms/commit (median)", "p90", "S3 requests/commit",
                   "Log objects/commit", "Log objects after", "After tidy"):  # fmt: skip
        table.add_column(column, justify="right")
    for lake in section.get("lakes", []):
        requests = lake.get("requests_per_commit")
        table.add_row(
            lake["lake"], _ms_plain(lake["backfill_ms_per_table"]),
            _ms_plain(lake["commit_ms_median"]), _ms_plain(lake["commit_ms_p90"]),
            "-" if requests is None else f"{requests:g}", f"{lake['log_objects_per_commit']:g}",
            f"{lake['log_objects_after']:,}", f"{lake['log_objects_after_tidy']:,}",
        )  # fmt: skip
    return table


def freshness_table(results: Results) -> Table:
    section = results.get("freshness", {})
    cron = section.get("cronjob_only") or {}
    table = Table(
        title=f"Freshness: {section.get('runs')} ingest runs under `clean --watch` (without it, a "
        f"clean CronJob {cron.get('offset_minutes')} min after each ingest: p95 about "
        f"{cron.get('p95_s')} s)"
    )
    for column in ("Seconds after the ingest commit", "p50", "p95", "max"):
        table.add_column(column, justify="right")
    watcher = section.get("watcher") or {}
    for label, key in (("rows on the dashboard's read path", "dashboard_s"),
                       ("rows from `bucketpipe sql` (a new process)", "sql_s"),
                       ("the watcher's clean pass", "clean_pass_s")):  # fmt: skip
        figures = watcher.get(key) or {}
        table.add_row(label, *(str(figures.get(k, "-")) for k in ("p50", "p95", "max")))
    return table


def _ms_plain(value: float) -> str:
    return f"{value:,.1f}"


def _delta_per_day(results: Results) -> str:
    """The objects section's Delta log figures per simulated day, for the title."""
    days = (results.get("objects") or {}).get("per_day") or []
    steady = days[1:] or days
    if not steady:
        return ""
    added = sum(d["added_by_runs_per_area"].get("delta_log", 0) for d in steady) / len(steady)
    net = sum(d["net_after_compaction_per_area"].get("delta_log", 0) for d in steady) / len(steady)
    runs = steady[0]["runs"]
    return f" (a simulated day of {runs} runs: {added:,.0f} log objects added, {net:+,.0f} net)"


def goals_table(results: Results) -> Table:
    table = Table(title="Goals")
    for column in ("Goal", "Target", "Measured", "Met", "Note"):
        table.add_column(column)
    marks = {True: "[green]yes[/]", False: "[red]no[/]", None: "[yellow]-[/]"}
    for g in results.get("goals", []):
        table.add_row(g["goal"], g["target"], g["measured"], marks[g["met"]], g.get("note", ""))
    return table


def missing_table(results: Results) -> Table | None:
    if not results.get("missing") and not results.get("failures"):
        return None
    table = Table(title="Not measured, or failed")
    table.add_column("Section")
    table.add_column("Why")
    for m in results.get("missing", []):
        table.add_row(m["section"], m["reason"])
    for failure in results.get("failures", []):
        table.add_row("failed run", failure)
    return table


def tables(results: Results) -> list[Table]:
    """Every table of the report, in order (sections that were not measured left out)."""
    builders = {
        "dashboard": dashboard_table,
        "growth": growth_table,
        "pages": pages.table,
        "clean": clean_table,
        "ingest": ingest_table,
        "objects": objects_table,
        "sandbox": sandbox_table,
        "delta": delta_table,
        "freshness": freshness_table,
        "scale": scale.table,
        "peers": peers_report.table,
    }
    out = []
    for name, build in builders.items():
        section = results.get(name)
        if section and not (isinstance(section, dict) and section.get("status") == "missing"):
            out.append(build(results))
    missing = missing_table(results)
    if missing is not None:
        out.append(missing)
    out.append(goals_table(results))
    return out


def _plain(cell: object) -> str:
    return Text.from_markup(str(cell)).plain.replace("|", "\\|")


def markdown(results: Results) -> str:
    """The report's tables as Markdown (for docs/benchmarks.md)."""
    machine = results.get("machine", {})
    bench = results.get("bench", {})
    lines = [
        f"Run: `{bench.get('command')}`, {bench.get('mode')} mode, {bench.get('started_at')}, "
        f"{bench.get('seconds', 0) / 60:.0f} min. Machine: {machine.get('cpus')} CPUs "
        f"({machine.get('cpu_model')}), {machine.get('memory_gib')} GiB RAM, load average "
        f"{machine.get('load_average')} at the start and "
        f"{results.get('machine_after', {}).get('load_average')} at the end; Python "
        f"{machine.get('python')}, DuckDB {machine.get('duckdb')}, pandas {machine.get('pandas')}.",
        "",
    ]
    for table in tables(results):
        lines.append(f"**{_plain(table.title)}**")
        lines.append("")
        headers = [_plain(c.header) for c in table.columns]
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|" + "|".join("---" for _ in headers) + "|")
        for row in zip(*(list(c.cells) for c in table.columns), strict=True):
            lines.append("| " + " | ".join(_plain(cell) for cell in row) + " |")
        lines.append("")
    return "\n".join(lines)


def print_report(results: Results, console: Console) -> None:
    machine = results.get("machine", {})
    bench = results.get("bench", {})
    console.print(
        f"[bold]bucketpipe bench[/] ({bench.get('mode')}) on {machine.get('cpus')} CPUs, "
        f"{machine.get('memory_gib')} GiB RAM, load {machine.get('load_average')}; "
        f"{bench.get('seconds', 0):.0f} s"
    )
    for table in tables(results):
        console.print(table)
