"""`bucketpipe sql`: read-only SQL over the committed datasets, in the sandbox.

With a query argument it runs that query. Without one it reads `;`-terminated statements
from standard input and runs them in one session, the way the dashboard's SQL page does,
printing each result in turn; on a terminal it is a small REPL with history.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from datetime import date, datetime
from datetime import time as dt_time
from typing import Any, TextIO

import pandas as pd
import pyarrow as pa
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bucketpipe.config.errors import QueryRefused
from bucketpipe.config.logs import printable
from bucketpipe.config.settings import Settings
from bucketpipe.jobs.argtypes import positive_float, positive_int
from bucketpipe.jobs.common import EXIT_FAILED, EXIT_OK
from bucketpipe.jobs.sql_repl import repl
from bucketpipe.serve.exports import csv_text
from bucketpipe.serve.queries.session import open_sandbox
from bucketpipe.serve.sandbox.limits import format_bytes
from bucketpipe.serve.sandbox.session import QueryResult, SqlSession
from bucketpipe.serve.sandbox.text import split_statements

log = logging.getLogger("bucketpipe.sql")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "sql",
        help="run read-only SQL over the committed datasets",
        description="Every committed dataset is a view of the same name (SHOW TABLES lists "
        "them). Only read-only queries run; files, URLs, settings and secrets are out of "
        "reach. Without a query, statements ending in ';' are read from standard input and "
        "run in one session (a REPL with history on a terminal).",
    )
    parser.add_argument(
        "query",
        nargs="?",
        help='the query, e.g. "SELECT * FROM quotes LIMIT 5"; - or nothing reads statements '
        "from stdin",
    )
    parser.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="output format (default: table; json: one JSON document per result, per line)",
    )
    parser.add_argument(
        "--max-rows",
        type=positive_int,
        help="row cap (default and upper bound: BUCKETPIPE_SQL_MAX_ROWS)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        help="time limit in seconds (default and upper bound: BUCKETPIPE_SQL_TIMEOUT_SECONDS)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    single = args.query not in (None, "-")
    # One statement reads the snapshots of the datasets it names only; a script or a REPL
    # may name any of them.
    session = open_sandbox(settings, query=args.query if single else None)
    try:
        runner = Runner(session, args.format, args.max_rows, args.timeout)
        if single:
            return EXIT_OK if runner.run(args.query, label="") else EXIT_FAILED
        if args.query is None and sys.stdin.isatty():
            return repl(runner.run)
        return runner.script(sys.stdin.read())
    finally:
        session.close()


class Runner:
    """Runs statements on one session and prints each result or one error line."""

    def __init__(
        self,
        session: SqlSession,
        fmt: str,
        max_rows: int | None,
        timeout_s: float | None,
        out: TextIO | None = None,
    ) -> None:
        self.session = session
        self.fmt = fmt
        self.max_rows = max_rows
        self.timeout_s = timeout_s
        self.out = out or sys.stdout

    def script(self, text: str) -> int:
        """Every statement of `text` in turn; exit 1 if any failed."""
        try:  # a NUL anywhere is refused for the whole script: the parser stops at it
            statements = split_statements(text)
        except QueryRefused as exc:
            log.error(str(exc))
            return EXIT_FAILED
        if not statements:
            log.error("no statement to run: give a query, or statements ending in ';' on stdin")
            return EXIT_FAILED
        many = len(statements) > 1
        results = [
            self.run(sql, label=f"statement {n}: " if many else "")
            for n, sql in enumerate(statements, 1)
        ]
        return EXIT_OK if all(results) else EXIT_FAILED

    def run(self, sql: str, label: str = "") -> bool:
        """Run one statement; print its result, or log why it did not run. True when it ran."""
        try:
            result = self.session.run(sql, max_rows=self.max_rows, timeout_s=self.timeout_s)
        except QueryRefused as exc:
            log.error(f"{label}{exc}")
            return False
        try:
            write(result.frame, self.fmt, self.out)
        except (ValueError, TypeError, OverflowError) as exc:  # one bad result, not the session
            log.error(f"{label}the result could not be printed as {self.fmt}: {exc}")
            return False
        self.out.flush()
        if result.truncated:
            log.warning(f"{label}{cut_message(result)}")
        return True


def cut_message(result: QueryResult) -> str:
    if result.cut == "bytes":
        return (
            f"result cut at {result.rows:,} rows: the result cap is "
            f"{format_bytes(result.max_bytes)} (BUCKETPIPE_SQL_MAX_RESULT_BYTES); "
            "select fewer columns, add a LIMIT or aggregate"
        )
    return f"result cut at {result.max_rows:,} rows (the row cap); add a LIMIT or aggregate"


def write(frame: pd.DataFrame, fmt: str, out: TextIO) -> None:
    """Print a result in the chosen format (json: one document on one line)."""
    if fmt == "csv":
        out.write(csv_text(frame))
    elif fmt == "json":
        out.write(json_text(frame) + "\n")
    else:
        # Cells are Text, never markup, with control characters escaped: a value from a file
        # a stranger dropped may hold `[link=...]` or a terminal escape sequence.
        table = Table(show_lines=False)
        for column in frame.columns:
            table.add_column(Text(printable(str(column))), overflow="fold")
        # Pandas holds a text column's NULL as NaN: only in a number column is NaN a value.
        numbers = [pd.api.types.is_float_dtype(frame[c].dtype) for c in frame.columns]
        for row in frame.itertuples(index=False):
            cells = (_cell(v, n) for v, n in zip(row, numbers, strict=True))
            table.add_row(*(Text(printable(cell)) for cell in cells))
        Console(file=out, width=200).print(table)


def json_text(frame: pd.DataFrame) -> str:
    """The rows as one JSON array of objects. JSON has no NaN or infinity: those are written
    as the strings "NaN", "Infinity" and "-Infinity" (as BigQuery's API does), never as null,
    which is SQL's NULL; times are ISO 8601; decimals, intervals, UUIDs and the like are text."""
    rows = pa.Table.from_pandas(frame, preserve_index=False).to_pylist()
    return json.dumps(_plain(rows), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (datetime, date, dt_time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _cell(value: Any, number: bool = True) -> str:
    """A table cell: NULL is blank, NaN and infinities are spelled out (in a column of
    numbers; elsewhere a missing value is NULL)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if not number and isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return str(value)
