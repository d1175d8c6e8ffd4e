"""The `peers` section's table (see `benchmarks.peers`; its goals are in `benchmarks.goals`)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

Results = dict[str, Any]

LABELS = {
    "ours": "Bucketpipe: ingest bucket + clean (typed, deduplicated, quarantine, quality)",
    "dlt_parquet": "dlt: filesystem destination, Parquet (typed, not deduplicated)",
    "dlt_duckdb_merge": "dlt: DuckDB destination, merge on the key (typed, deduplicated)",
}


def table(results: Results) -> Table:
    section = results.get("peers") or {}
    title = (
        f"Ours against dlt: {section.get('records', 0):,} quote-like CSV records in "
        f"{section.get('files')} files, {section.get('repeats')} runs each back to back "
        f"(load average {section.get('load_average_before_each', [[None]])[0]} at the start)"
    )
    out = Table(title=title)
    for column in ("Load", "Median wall", "Records/s", "Peak RSS", "Rows out", "Ours / peer"):
        out.add_column(column, justify="right" if column != "Load" else "left")
    for name, label in LABELS.items():
        entry = section.get(name)
        if not isinstance(entry, dict):
            out.add_row(label, "-", "-", "-", "-", str(section.get("dlt", "not measured")))
            continue
        wall, rate = entry.get("median_wall_s"), entry.get("records_per_s")
        rss, ratio = entry.get("peak_rss_mib"), entry.get("ratio_ours_over_peer")
        out.add_row(
            label,
            f"{wall:.1f} s" if wall else "failed",
            f"{rate:,}" if rate else "-",
            f"{rss:,.0f} MiB" if rss else "-",
            f"{entry.get('rows'):,}" if entry.get("rows") is not None else "-",
            f"{ratio:.2f}x" if ratio else "-",
        )
    return out
