"""Quality queries: report tables, dimensions against thresholds, quarantine counts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from bucketpipe.app import runcharts
from bucketpipe.context import Context, lake_store
from bucketpipe.coord.signals import Signals
from bucketpipe.quality.report import (
    ColumnProfile,
    Dimension,
    QualityReport,
    TopValue,
    update_latest,
    write_report,
)
from bucketpipe.serve.queries import quality
from tests.conftest import SettingsFactory

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def report(dataset: str, run: str, day: int, score: float, **extra: object) -> QualityReport:
    dims = {
        name: Dimension(
            score=score,
            threshold=mark,
            passed=score >= mark,
            definition=f"{name} definition",
            numerator=int(score),
            denominator=100,
        )
        for name, mark in zip(quality.DIMENSIONS, (80.0, 95.0, 90.0, 85.0), strict=True)
    }
    return QualityReport(
        dataset=dataset,
        run_id=run,
        created_at=T0 + timedelta(days=day),
        rows=100,
        dimensions=dims,
        overall_score=score,
        passed=all(d.passed for d in dims.values()),
        **extra,
    )


@pytest.fixture
def ctx(make_settings: SettingsFactory) -> Context:
    settings = make_settings()
    return Context(settings=settings, store=lake_store(settings), signals=Signals(None))


def test_history_latest_and_overview(ctx: Context) -> None:
    old = report("quotes", "clean-1", 0, 91.0)
    new = report("quotes", "clean-2", 1, 97.0, rows_quarantined=4, recommendations=["fix it"])
    notes = report("notes", "clean-2", 1, 80.0)
    for r in (old, new, notes):
        write_report(ctx.store, r)
    update_latest(ctx.store, [old], run_id="clean-1", now=T0, run_summary={})
    update_latest(ctx.store, [new, notes], run_id="clean-2", now=T0, run_summary={})
    history = quality.history(ctx, ["quotes"])
    assert history["overall_score"].tolist() == [91.0, 97.0]  # oldest first, for a line
    assert quality.latest_score(ctx, "quotes") == 97.0
    assert quality.latest_score(ctx, "missing") is None
    table = quality.overview(quality.latest(ctx))
    assert table["dataset"].tolist() == ["notes", "quotes"]  # worst first
    assert table.set_index("dataset").loc["quotes", "quarantined"] == 4


def test_overview_rows_are_the_datasets_and_recommendations_are_actions() -> None:
    older = report(
        "dividends",
        "clean-2",
        1,
        100.0,
        rows_duplicate=40,
        recommendations=[
            "No action needed: every dimension is above its threshold.",
            "40 duplicates removed (rows repeating a key already in this run or in the "
            "committed data); nothing to fix.",
        ],
    )
    new = report("quotes", "clean-2", 1, 97.0, recommendations=["fix it"], notes=["info"])
    table = quality.overview({"dividends": older, "quotes": new}, {"quotes": 1215})
    table = table.set_index("dataset")
    assert table.loc["quotes", "rows"] == 1215  # the dataset now, from its snapshot
    assert table.loc["quotes", "rows_assessed"] == 100  # what the newest run delivered
    assert table.loc["dividends", "rows"] == 0  # nothing committed: no rows to read
    assert quality.overview({"quotes": new})["rows"].isna().all()  # no snapshots given
    assert table["recommendations"].to_dict() == {"dividends": 0, "quotes": 1}


def test_column_profile_reads_as_text() -> None:
    profiles = [
        ColumnProfile(
            name="volume",
            type="BIGINT",
            nulls=0,
            null_pct=0.0,
            distinct=1_251_278,
            distinct_exact=False,
            min="100.0",
            max="98765432.0",
            mean=53513606.4471,
            issues={"extremes": 5},
        ),
        ColumnProfile(
            name="symbol",
            type="VARCHAR",
            nulls=50_000,
            null_pct=4.76,
            distinct=3,
            top_values=[TopValue(value="AAPL", count=350_000)],
            issues={"empty_strings": 1},
        ),
    ]
    big = report("big", "c", 0, 99.0).model_copy(
        update={"rows": 1_050_000, "column_profiles": profiles}
    )
    table = quality.column_profiles(big)
    assert list(table.columns) == quality.PROFILE_COLUMNS
    volume, symbol = table.to_dict("records")
    assert volume["distinct"] == "≈ 1,050,000"  # an estimate, at most the values counted
    assert (volume["min"], volume["max"], volume["mean"]) == ("100", "98,765,432", "53,513,606")
    assert volume["issues"] == "5 far-out values (beyond 3 \u00d7 IQR)"
    assert symbol["distinct"] == "3" and symbol["empty_pct"] == 4.76
    assert symbol["top_values"] == "AAPL (350,000)"
    assert symbol["issues"] == "1 empty string"


def test_dimensions_against_thresholds() -> None:
    dims = quality.dimensions(report("quotes", "r", 0, 92.0)).set_index("dimension")
    assert dims["passed"].to_dict() == {
        "completeness": True,
        "uniqueness": False,
        "consistency": True,
        "validity": True,
    }
    assert dims.loc["uniqueness", "counted"] == "92 of 100"


def test_quarantine_reasons_are_summed() -> None:
    reports = [
        report("quotes", "a", 0, 90.0, quarantine_reasons={"missing price": 2, "bad": 1}),
        report("quotes", "b", 1, 90.0, quarantine_reasons={"missing price": 3}),
    ]
    table = quality.quarantine_reasons(reports)
    assert table.values.tolist() == [["quotes", "missing price", 5], ["quotes", "bad", 1]]


def test_quarantine_files_counted_by_reason(ctx: Context, tmp_path: Path) -> None:
    con = duckdb.connect()
    for run, reasons in (("clean-1", ["missing price", "bad"]), ("clean-2", ["missing price"])):
        path = tmp_path / f"{run}.parquet"
        values = ", ".join(f"('AAA', '{r}', '{run}')" for r in reasons)
        con.execute(
            f"COPY (SELECT * FROM (VALUES {values}) AS t(symbol, _reject_reason, _clean_run)) "
            f"TO '{path}' (FORMAT parquet)"
        )
        ctx.store.upload(f"quarantine/quotes/dt=2026-01-05/{run}.parquet", path)
    counts, rows = quality.quarantine(ctx, "quotes")
    assert counts.values.tolist() == [["missing price", 2], ["bad", 1]]
    assert list(rows.columns[:2]) == ["_reject_reason", "_clean_run"]
    assert len(rows) == 3
    empty, none = quality.quarantine(ctx, "notes")
    assert empty.empty and none.empty


def test_the_quarantine_panel_reads_only_the_newest_days(ctx: Context, tmp_path: Path) -> None:
    con = duckdb.connect()
    for day in range(1, 10):
        path = tmp_path / f"{day}.parquet"
        con.execute(
            f"COPY (SELECT 'AAA' AS symbol, 'bad' AS _reject_reason, 'c{day}' AS _clean_run) "
            f"TO '{path}' (FORMAT parquet)"
        )
        ctx.store.upload(f"quarantine/quotes/dt=2026-01-0{day}/c{day}.parquet", path)
    keys = quality.quarantine_keys(ctx, "quotes", days=7, files=9)
    assert quality.quarantine_days(keys) == ("2026-01-03", "2026-01-09")
    counts, rows = quality.quarantine(ctx, "quotes", sample=3, days=7, keys=keys)
    assert counts.values.tolist() == [["bad", 7]]  # days 3 to 9
    assert list(rows["_clean_run"]) == ["c9", "c8", "c7"]
    # The panel's default: at most QUARANTINE_FILES files, the newest.
    counts, _ = quality.quarantine(ctx, "quotes", days=7)
    assert counts.values.tolist() == [["bad", quality.QUARANTINE_FILES]]


def test_a_day_file_is_picked_before_the_run_files_it_rolled_up(ctx: Context) -> None:
    day = "quarantine/quotes/dt=2026-01-05"
    for name in ("c1.parquet", "c2.parquet", "_day-m1.parquet"):
        ctx.store.put(f"{day}/{name}", b"x")
    ctx.store.put("quarantine/quotes/dt=2026-01-04/_day-m0.parquet", b"x")
    assert quality.quarantine_keys(ctx, "quotes", files=2) == [
        f"{day}/_day-m1.parquet",
        f"{day}/c2.parquet",
    ]


def _x_axis(chart: Any) -> dict[str, Any]:
    spec = chart.to_dict()
    lines = spec["layer"][0] if "layer" in spec else spec
    return dict(lines["encoding"]["x"])


def test_reports_seconds_apart_get_one_tick_per_run_not_sub_second_ticks() -> None:
    close = [
        report("quotes", f"c{i}", 0, 90.0 + i).model_copy(
            update={"created_at": T0 + timedelta(seconds=2 * i)}
        )
        for i in range(3)
    ]
    chart = runcharts.score_lines(quality.scores_frame(close), ["overall_score"], 80.0)
    x = _x_axis(chart)
    assert x["type"] == "ordinal" and x["field"] == "tick"
    assert x["title"] == "Clean run (UTC, 2026-01-05)"  # one day: the day named once
    rows = [r for data in chart.to_dict()["datasets"].values() for r in data if "run" in r]
    assert sorted({r["tick"] for r in rows}) == ["00:00:00", "00:00:02", "00:00:04"]
    runs = sorted({r["run"] for r in rows})  # the tooltip's
    assert runs == ["2026-01-05 00:00:00", "2026-01-05 00:00:02", "2026-01-05 00:00:04"]
    midnight = [
        report("quotes", f"m{i}", 0, 90.0).model_copy(
            update={"created_at": T0 - timedelta(seconds=2) + timedelta(seconds=3 * i)}
        )
        for i in range(2)
    ]
    x = _x_axis(runcharts.score_lines(quality.scores_frame(midnight), ["overall_score"], 80.0))
    assert x["field"] == "tick" and x["title"] == "Clean run (UTC)"
    apart = [report("quotes", f"d{i}", i, 90.0) for i in range(3)]
    x = _x_axis(runcharts.score_lines(quality.scores_frame(apart), ["overall_score"], 80.0))
    assert x["type"] == "temporal" and x["scale"]["type"] == "utc"
    assert x["axis"]["format"] == "%Y-%m-%d"  # reports days apart: a tick per day
    ticks = [tick_time(v) for v in x["axis"]["values"]]
    assert ticks == [T0 + timedelta(days=d) for d in (0, 1, 2)]  # midnights


def tick_time(value: dict[str, Any]) -> datetime:
    """A Vega-Lite DateTime tick as a UTC datetime."""
    assert value["utc"] is True
    names = ("year", "month", "date", "hours", "minutes", "seconds")
    return datetime(*(value[n] for n in names), tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "step", "label"),
    [
        (0, None, "%H:%M:%S"),
        (3, 1, "%H:%M:%S"),
        (7, 1, "%H:%M:%S"),  # one 5 s tick between: a step finer
        (20 * 60, 300, "%H:%M"),
        (20 * 3600, 6 * 3600, "%m-%d %H:%M"),
        (2 * 86400, 86400, "%Y-%m-%d"),
        (30 * 86400, 7 * 86400, "%Y-%m-%d"),
        (100 * 86400, None, "%Y-%m-%d"),  # month starts
        (400 * 86400, None, "%Y-%m-%d"),  # quarter starts
        (5 * 365 * 86400, None, "%Y-%m-%d"),  # year starts
    ],
)
def test_time_axes_tick_on_whole_steps_never_below_a_second(
    seconds: int, step: int | None, label: str
) -> None:
    start = T0 + timedelta(hours=3, minutes=36, seconds=6, milliseconds=250)
    times = pd.Series([start, start + timedelta(seconds=seconds)])
    axis = runcharts.time_axis(times, "Time").to_dict()
    assert axis["format"] == label
    ticks = [tick_time(v) for v in axis["values"]]
    assert all(start <= t <= start + timedelta(seconds=seconds) for t in ticks[1:])
    assert len(ticks) == len(set(ticks)) and (len(ticks) >= 2 or seconds == 0)
    labels = [t.strftime(label) for t in ticks]
    assert len(labels) == len(set(labels)), labels  # no two ticks read the same
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(ticks)}
    if step is None:
        assert seconds == 0 or all(t.day == 1 and t.hour == 0 for t in ticks)
        months = {t.month for t in ticks}
        assert seconds < 300 * 86400 or months <= {1, 4, 7, 10}
        assert seconds < 4 * 365 * 86400 or months == {1}
    else:
        assert gaps == {step}
        assert all(t.timestamp() % step == 0 for t in ticks) or step == 7 * 86400
        assert step < 7 * 86400 or all(t.weekday() == 0 for t in ticks)


def test_reports_of_the_same_second_keep_a_tick_each() -> None:
    """An ordinal axis draws equal labels as one category: runs that share a second are told
    apart by their milliseconds, in the ticks and in the tooltip."""
    same = [
        report("quotes", f"s{i}", 0, 90.0 + i).model_copy(
            update={"created_at": T0 + timedelta(milliseconds=250 * i)}
        )
        for i in range(3)
    ]
    chart = runcharts.score_lines(quality.scores_frame(same), ["overall_score"], 80.0)
    rows = [r for data in chart.to_dict()["datasets"].values() for r in data if "run" in r]
    assert sorted({r["tick"] for r in rows}) == ["00:00:00.000", "00:00:00.250", "00:00:00.500"]
    assert sorted({r["run"] for r in rows})[0] == "2026-01-05 00:00:00.000"
