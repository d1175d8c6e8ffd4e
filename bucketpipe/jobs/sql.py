"""`bucketpipe sql`: one read-only query over the committed datasets, on the sandbox."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from bucketpipe.config.settings import Settings
from bucketpipe.jobs.argtypes import positive_float, positive_int
from bucketpipe.jobs.common import EXIT_OK
from bucketpipe.serve.exports import csv_text
from bucketpipe.serve.queries.session import open_sandbox

log = logging.getLogger("bucketpipe.sql")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "sql",
        help="run a read-only SQL query over the committed datasets",
        description="Every committed dataset is a view of the same name (SHOW TABLES lists "
        "them). Only SELECT and EXPLAIN run; files, URLs and settings are out of reach.",
    )
    parser.add_argument(
        "query", help='the query, e.g. "SELECT * FROM quotes LIMIT 5"; - reads stdin'
    )
    parser.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="output format (default: table)",
    )
    parser.add_argument(
        "--max-rows",
        type=positive_int,
        help="row cap (default and upper bound: BUCKETPIPE_SQL_MAX_ROWS)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        help="time limit in seconds (default: BUCKETPIPE_SQL_TIMEOUT_SECONDS)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    sql = sys.stdin.read() if args.query == "-" else args.query
    sandbox = open_sandbox(settings)
    try:
        result = sandbox.run(sql, max_rows=args.max_rows, timeout_s=args.timeout)
    finally:
        sandbox.close()
    write(result.frame, args.format)
    if result.truncated:
        log.warning(
            f"result cut at {result.max_rows:,} rows (the row cap); add a LIMIT or aggregate"
        )
    return EXIT_OK


def write(frame: pd.DataFrame, fmt: str) -> None:
    """Print a result to stdout in the chosen format."""
    if fmt == "csv":
        sys.stdout.write(csv_text(frame))
    elif fmt == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", indent=1) + "\n")
    else:
        table = Table(show_lines=False)
        for column in frame.columns:
            table.add_column(str(column), overflow="fold")
        for row in frame.itertuples(index=False):
            table.add_row(*(_cell(v) for v in row))
        Console(file=sys.stdout, width=200).print(table)


def _cell(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)
