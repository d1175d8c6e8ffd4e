"""The volume design's cleaning, in pandas: load everything, clean in memory, write.

Run as a child process by the bench (`python -m benchmarks.baseline_clean ...`) so its
peak memory is measured on its own. This is what such processors typically do: read every
input into one DataFrame, normalise, apply the rules, deduplicate, write, with memory growing
with the input. The rules match the quotes dataset's and the generic cleaning's defaults.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def clean_quotes(raw_dir: Path, out: Path) -> dict[str, int]:
    """Raw demo/Finnhub lines -> typed, valid, deduplicated quotes, one Parquet per day."""
    files = sorted(glob.glob(os.path.join(raw_dir, "**", "*.jsonl.gz"), recursive=True))
    raw = pd.concat(
        [pd.read_json(f, lines=True, compression="gzip", dtype=False) for f in files],
        ignore_index=True,
    )
    raw = raw[(raw["endpoint"] == "quote") & (raw["status"] == 200)].reset_index(drop=True)
    body = pd.json_normalize(raw["body"].tolist())
    params = pd.json_normalize(raw["params"].tolist())

    def num(name: str) -> pd.Series:
        if name not in body:
            return pd.Series(np.nan, index=body.index)
        return pd.to_numeric(body[name], errors="coerce")

    price, prev = num("c"), num("pc")
    seconds = num("t")
    df = pd.DataFrame(
        {
            "symbol": params["symbol"].astype("string").str.upper(),
            "ts": pd.to_datetime(seconds.where(seconds > 0), unit="s", utc=True),
            "price": price,
            "open": num("o"),
            "high": num("h"),
            "low": num("l"),
            "prev_close": prev,
            "change": num("d").fillna((price - prev.replace(0, np.nan)).round(4)),
            "change_pct": num("dp").fillna(((price / prev.replace(0, np.nan) - 1) * 100).round(4)),
            "_fetched_at": pd.to_datetime(raw["requested_at"], utc=True),
            "_ingest_run": raw["run"],
        }
    )
    zero = (
        (df["price"].fillna(0) == 0)
        & (df["high"].fillna(0) == 0)
        & (df["low"].fillna(0) == 0)
        & (df["prev_close"].fillna(0) == 0)
    )
    bad = (
        zero
        | df["symbol"].isna()
        | df["ts"].isna()
        | df["price"].isna()
        | (df["price"] <= 0)
        | (
            (df["high"] > 0)
            & (df["low"] > 0)
            & ((df["price"] > df["high"] * 1.01) | (df["price"] < df["low"] * 0.99))
        )
        | ((df["prev_close"] > 0) & ((df["price"] / df["prev_close"] - 1).abs() > 0.5))
    )
    rejected = int(bad.sum())
    df = df[~bad].sort_values("_fetched_at", kind="stable")
    df = df.drop_duplicates(["symbol", "ts"], keep="first")
    df["dt"] = df["ts"].dt.strftime("%Y-%m-%d")
    out.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out, partition_cols=["dt"], index=False)
    return {"rows_in": len(raw), "rows_written": len(df), "rows_rejected": rejected}


def snake(name: str) -> str:
    text = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()
    return text or "column"


def clean_table(path: Path, out: Path) -> dict[str, int]:
    """A CSV of unknown schema, cleaned the way the file pipeline did, all in memory."""
    df = pd.read_csv(path, low_memory=False)
    rows_in = len(df)
    df.columns = [snake(c) for c in df.columns]
    df = df.drop_duplicates()
    empty = df.isna().mean()
    df = df.drop(columns=list(empty[empty > 0.9].index))
    for column in list(df.columns):
        series = df[column]
        if series.dtype != object and not pd.api.types.is_string_dtype(series):
            continue
        text = series.astype("string").str.strip()
        text = text.mask(text == "")
        numbers = pd.to_numeric(text, errors="coerce")
        if numbers.notna().sum() >= 0.9 * text.notna().sum() > 0:
            df[column] = numbers
            continue
        dates = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
        if dates.notna().sum() >= 0.9 * text.notna().sum() > 0:
            df[column] = dates
            continue
        df[column] = text.fillna("unknown")
    for column in df.select_dtypes(include="number").columns:
        if column.endswith("_id") or column == "id":
            continue
        values = df[column]
        q1, q3 = float(values.quantile(0.25)), float(values.quantile(0.75))
        fence = 3 * (q3 - q1)
        df[column] = values.clip(q1 - fence, q3 + fence).fillna(values.median())
    df["_completeness"] = df.notna().mean(axis=1)
    out.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out / "part-0.parquet", index=False)
    return {"rows_in": rows_in, "rows_written": len(df)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pandas cleaning baseline (bench child)")
    parser.add_argument("kind", choices=["quotes", "table"])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.kind == "quotes":
        result = clean_quotes(args.source, args.out)
    else:
        result = clean_table(args.source, args.out)
    result["seconds"] = round(time.perf_counter() - started, 3)  # type: ignore[assignment]
    # The bench reads this one line from the child's output.
    sys.stdout.write(json.dumps({"message": "baseline cleaned", **result}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
