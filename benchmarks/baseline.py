"""The common design Bucketpipe replaces: a shared volume of timestamped CSVs, read by pandas.

Each ingest run (every 15 minutes) writes one CSV per dataset named by its time, e.g.
`quotes_20261120_1415.csv` with one row per symbol, and each processing run writes
`quality_report_20261120_1415.json`. The dashboard answers every page load by globbing the
volume, reading every matching file with `pd.read_csv`, concatenating and grouping: the code
such projects typically contain. `write_volume` fills a volume with exactly the rows the lake
holds, so both designs answer the same questions from the same data.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bucketpipe.catalog import indicators
from bucketpipe.lake.duck import quote_literal

log = logging.getLogger(__name__)

MARKET_TZ = "America/New_York"
QUOTE_FIELDS = (
    *("symbol", "timestamp", "price", "change", "change_pct", "open", "high", "low"),
    "prev_close",
)
PROFILE_FIELDS = ("symbol", "name", "industry", "exchange", "market_cap")


@dataclass(frozen=True)
class Volume:
    """A filled volume: where it is and what it holds."""

    path: Path
    quote_files: int
    profile_files: int
    quality_files: int
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "quote_csvs": self.quote_files,
            "profile_csvs": self.profile_files,
            "quality_jsons": self.quality_files,
            "mib": round(self.bytes / 1024**2, 1),
        }


def _unpartition(staging: Path, volume: Path, prefix: str, suffix: str) -> int:
    """Move DuckDB's `run=<stamp>/data_0.csv` files to `<prefix>_<stamp>.csv`."""
    moved = 0
    for part in sorted(staging.glob("run=*")):
        stamp = part.name.split("=", 1)[1]
        for index, data in enumerate(sorted(part.glob(f"*{suffix}"))):
            name = (
                f"{prefix}_{stamp}{suffix}" if index == 0 else f"{prefix}_{stamp}-{index}{suffix}"
            )
            data.replace(volume / name)
            moved += 1
    shutil.rmtree(staging)
    return moved


def write_volume(
    con: duckdb.DuckDBPyConnection,
    volume: Path,
    *,
    quality: Sequence[tuple[datetime, float]] = (),
) -> Volume:
    """Fill `volume` from the `quotes` and `company_profiles` views of `con` (the lake).

    One quotes CSV per 15-minute run, one profiles CSV per day (profiles are refreshed daily),
    one quality JSON per processing run (`quality`: run time and overall score). Written a
    day at a time, so memory stays bounded however long the history.
    """
    shutil.rmtree(volume, ignore_errors=True)
    volume.mkdir(parents=True)
    staging = volume / "_staging"
    con.execute("SET TimeZone = 'UTC'")
    columns = ", ".join(["symbol", "CAST(epoch(ts) AS BIGINT) AS timestamp", *QUOTE_FIELDS[2:]])
    days = [r[0] for r in con.execute("SELECT DISTINCT dt FROM quotes ORDER BY 1").fetchall()]
    quote_files = 0
    for day in days:
        con.execute(
            f"COPY (SELECT {columns}, strftime(ts, '%Y%m%d_%H%M') AS run FROM quotes "
            f"WHERE dt = ? ORDER BY ts, symbol) TO {quote_literal(str(staging))} "
            "(FORMAT csv, HEADER true, PARTITION_BY (run), WRITE_PARTITION_COLUMNS false)",
            [day],
        )
        quote_files += _unpartition(staging, volume, "quotes", ".csv")
    profile_days = con.execute("SELECT DISTINCT as_of FROM company_profiles ORDER BY 1")
    profile_files = 0
    for (day,) in profile_days.fetchall():
        # The profiles are fetched once a day, by the run after the close.
        path = volume / f"company_profiles_{day:%Y%m%d}_2100.csv"
        con.execute(
            f"COPY (SELECT {', '.join(PROFILE_FIELDS)} FROM company_profiles WHERE as_of = ? "
            f"ORDER BY symbol) TO {quote_literal(str(path))} (FORMAT csv, HEADER true)",
            [day],
        )
        profile_files += 1
    for at, score in quality:
        report = {"timestamp": at.isoformat(), "dataset": "quotes", "overall_score": score}
        (volume / f"quality_report_{at:%Y%m%d_%H%M}.json").write_text(json.dumps(report))
    size = sum(p.stat().st_size for p in volume.iterdir())
    return Volume(volume, quote_files, profile_files, len(quality), size)


# --- the dashboard of the volume design ----------------------------------------------------------
SENTIMENTS = ((2.0, "strong bullish"), (0.0, "bullish"))


def sentiment(change_pct: float | None) -> str | None:
    """The overview's label of a change in % (0 exactly is 'unchanged')."""
    if change_pct is None or pd.isna(change_pct):
        return None
    if change_pct > 2:
        return "strong bullish"
    if change_pct > 0:
        return "bullish"
    if change_pct == 0:
        return "unchanged"
    if change_pct > -2:
        return "bearish"
    return "strong bearish"


class CsvDashboard:
    """The page loads of the volume design: every answer re-reads the CSVs it needs."""

    def __init__(self, volume: Path) -> None:
        self.volume = volume

    def _read_all(self, pattern: str) -> pd.DataFrame:
        files = sorted(glob.glob(os.path.join(self.volume, pattern)))
        if not files:
            return pd.DataFrame()
        return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)

    def quotes(self) -> pd.DataFrame:
        df = self._read_all("quotes_*.csv")
        df["ts"] = pd.to_datetime(df["timestamp"], unit="s", utc=True)
        return df

    def latest_quotes(self, spark_days: int = 30) -> pd.DataFrame:
        """Newest quote per symbol, sentiment, last `spark_days` daily closes, company name."""
        df = self.quotes().sort_values(["symbol", "ts"])
        latest = df.groupby("symbol", as_index=False).tail(1).copy()
        latest["sentiment"] = latest["change_pct"].map(sentiment)
        df["day"] = df["ts"].dt.date
        closes = df.groupby(["symbol", "day"], as_index=False).tail(1)
        trend = closes.groupby("symbol")["price"].apply(lambda s: list(s.tail(spark_days)))
        latest["trend"] = latest["symbol"].map(trend)
        profiles = self._read_all("company_profiles_*.csv")
        if not profiles.empty:
            names = profiles.drop_duplicates("symbol", keep="last").set_index("symbol")["name"]
            latest["name"] = latest["symbol"].map(names)
        return latest.drop(columns=["timestamp"]).sort_values("symbol").reset_index(drop=True)

    def bars_with_indicators(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """One symbol's daily bars (New York trading days) and its indicators in [start, end].

        Bars follow the product's definition: open = the day's first open, high/low = the
        extremes of the day's highs, lows and prices, close = the last price.
        """
        df = self.quotes()
        df = df[df["symbol"] == symbol].sort_values("ts")
        df["day"] = df["ts"].dt.tz_convert(MARKET_TZ).dt.date
        positive = df.assign(
            open=df["open"].where(df["open"] > 0),
            high=df["high"].where(df["high"] > 0),
            low=df["low"].where(df["low"] > 0),
        )
        grouped = positive.groupby("day")
        first_price = grouped["price"].first()
        bars = pd.DataFrame(
            {
                "open": grouped["open"].first().fillna(first_price),
                "high": pd.concat([grouped["price"].max(), grouped["high"].max()], axis=1).max(
                    axis=1
                ),
                "low": pd.concat([grouped["price"].min(), grouped["low"].min()], axis=1).min(
                    axis=1
                ),
                "close": grouped["price"].last(),
            }
        ).reset_index()
        values = indicators.indicators(bars["close"])
        out = pd.concat([bars, values], axis=1)
        mask = (out["day"] >= start) & (out["day"] <= end)
        return out[mask].reset_index(drop=True)

    def quality_trend(self, limit: int) -> pd.DataFrame:
        """Overall quality score of the newest `limit` processing runs, oldest first."""
        rows = []
        for path in sorted(glob.glob(os.path.join(self.volume, "quality_report_*.json"))):
            with open(path) as fh:
                report = json.load(fh)
            rows.append(
                {"created_at": report["timestamp"], "overall_score": report["overall_score"]}
            )
        frame = pd.DataFrame(rows, columns=["created_at", "overall_score"])
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        return frame.sort_values("created_at").tail(limit).reset_index(drop=True)

    def monthly_summary(self) -> pd.DataFrame:
        """The SQL explorer's aggregate: per symbol and month, snapshots, mean price, range."""
        df = self.quotes()
        df["month"] = df["ts"].dt.tz_localize(None).dt.to_period("M").dt.to_timestamp()
        out = (
            df.groupby(["symbol", "month"])
            .agg(
                snapshots=("price", "size"),
                avg_price=("price", "mean"),
                low=("low", "min"),
                high=("high", "max"),
            )
            .reset_index()
        )
        return out.sort_values(["symbol", "month"]).reset_index(drop=True)
