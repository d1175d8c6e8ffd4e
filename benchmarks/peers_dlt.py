"""The same files through dlt: its filesystem destination (Parquet) or DuckDB with a merge.

Run as a child process by the `peers` section (`python -m benchmarks.peers_dlt KIND SRC OUT
KEY...`) so its wall time and peak memory are measured on their own, like the product's jobs.
Each CSV is read on dlt's Arrow path (one `pyarrow.csv.read_csv` table per file, types
inferred by Arrow) and yielded from one resource:

- `parquet`: the filesystem destination, Parquet files, `append` (typed, not deduplicated);
- `duckdb`: the DuckDB destination with `write_disposition="merge"` on the primary key, which
  deduplicates the load on the key (typed and deduplicated, the work our clean does).

Prints one JSON line `{"message": "peer loaded", ...}` with the rows in the destination.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _quiet(out: Path) -> None:
    """dlt's own state, logs and telemetry kept inside `out` and off the network."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ["DLT_DATA_DIR"] = str(out / "dlt-data")
    os.environ["DLT_PROJECT_DIR"] = str(out / "dlt-project")


def _tables(source: Path) -> Iterator[Any]:
    import pyarrow.csv as pacsv

    for path in sorted(glob.glob(str(source / "**" / "*.csv"), recursive=True)):
        yield pacsv.read_csv(path)


def load(kind: str, source: Path, out: Path, key: list[str]) -> dict[str, Any]:
    _quiet(out)
    import dlt

    if kind == "parquet":
        destination: Any = dlt.destinations.filesystem(bucket_url=(out / "files").as_uri())
        resource = dlt.resource(_tables(source), name="ticks", write_disposition="append")
    else:
        destination = dlt.destinations.duckdb(str(out / "peer.duckdb"))
        resource = dlt.resource(
            _tables(source), name="ticks", write_disposition="merge", primary_key=key
        )
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{kind}",
        destination=destination,
        dataset_name="bench",
        pipelines_dir=str(out / "pipelines"),
    )
    started = time.perf_counter()
    pipeline.run(resource, loader_file_format="parquet")
    seconds = time.perf_counter() - started
    return {"message": "peer loaded", "kind": kind, "rows": _rows(kind, out), "run_s": seconds}


def _rows(kind: str, out: Path) -> int:
    import duckdb

    con = duckdb.connect(":memory:" if kind == "parquet" else str(out / "peer.duckdb"))
    try:
        if kind == "parquet":
            files = glob.glob(str(out / "files" / "bench" / "ticks" / "*.parquet"))
            sql = f"SELECT count(*) FROM read_parquet({files!r})"
        else:
            sql = "SELECT count(*) FROM bench.ticks"
        row = con.execute(sql).fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers_dlt")
    parser.add_argument("kind", choices=("parquet", "duckdb"))
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("key", nargs="+")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = load(args.kind, args.source, args.out, args.key)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
