"""User-typed SQL run safely: a pure validator and a locked-down DuckDB connection."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from bucketpipe.config.errors import QueryRefused
from bucketpipe.config.logs import mask
from bucketpipe.config.settings import Settings
from bucketpipe.lake.duck import connect, quote_ident, sql_list
from bucketpipe.lake.snapshots import Snapshot
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.reader import relation_sql

log = logging.getLogger(__name__)

MAX_SQL_CHARS = 100_000
# The statement must open with one of these (after comments).
LEADING_KEYWORDS = frozenset(
    {"select", "with", "from", "values", "explain", "describe", "show", "summarize", "table"}
    | {"pivot", "unpivot", "("}
)
# Table functions that compute rows; every other one (read_csv, glob, duckdb_secrets, query,
# pragma_*, ...) reads files, URLs or the engine's internals.
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {"range", "generate_series", "unnest", "json_each", "json_tree", "duckdb_columns"}
    | {"duckdb_views", "duckdb_functions", "duckdb_types", "duckdb_keywords"}
)
REFUSED_FUNCTIONS = {
    "getenv": "environment variables are not available",
    "current_setting": "settings are not available",
    "which_secret": "secrets are not available",
    "duckdb_secrets": "secrets are not available",
}
# System views over the engine's settings and logs (`pg_settings` wraps `duckdb_settings()`).
REFUSED_TABLES = frozenset({"pg_settings", "duckdb_logs", "duckdb_settings", "duckdb_secrets"})
READERS = re.compile(r"^(read_|parquet_|sniff_|glob$|iceberg_|delta_)")
ALLOWED_CATALOGS = frozenset({"", "memory", "system", "temp"})
_HINT = "query the dataset views instead (SHOW TABLES lists them)"


# --- validation --------------------------------------------------------------------------------
_parser_lock = threading.Lock()
_parser: duckdb.DuckDBPyConnection | None = None


def _parse_connection() -> duckdb.DuckDBPyConnection:
    """A private connection that only parses (no file access: the parser can open files)."""
    global _parser
    if _parser is None:
        con = duckdb.connect(":memory:", config={"autoload_known_extensions": False})
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        _parser = con
    return _parser


def _tokens(sql: str) -> list[tuple[int, str, str]]:
    """(offset, kind, lower-case text) of every token; the tokenizer drops comments."""
    tokens = duckdb.tokenize(sql)
    out = []
    for i, (start, kind) in enumerate(tokens):
        end = tokens[i + 1][0] if i + 1 < len(tokens) else len(sql)
        out.append((start, kind.name, sql[start:end].strip().lower()))
    return out


def _select_part(statement: str) -> str:
    """The query an EXPLAIN statement explains (after `EXPLAIN [ANALYZE] [(options)]`)."""
    tokens = _tokens(statement)
    i = 1
    if i < len(tokens) and tokens[i][2] == "analyze":
        i += 1
    if i < len(tokens) and tokens[i][2] == "(":
        depth = 0
        for j in range(i, len(tokens)):
            depth += {"(": 1, ")": -1}.get(tokens[j][2], 0) if tokens[j][1] == "operator" else 0
            if depth == 0:
                i = j + 1
                break
    if i >= len(tokens):
        raise QueryRefused("EXPLAIN needs a SELECT query to explain")
    return statement[tokens[i][0] :]


def _tree(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    row = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise QueryRefused("only SELECT queries (and EXPLAIN of one) are allowed")
    return tree


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


def _check_tree(tree: dict[str, Any]) -> None:
    for node in _nodes(tree):
        if node.get("type") == "TABLE_FUNCTION":
            name = str(node.get("function", {}).get("function_name", "")).lower()
            if name in REFUSED_FUNCTIONS:
                raise QueryRefused(f"{name}() is not allowed: {REFUSED_FUNCTIONS[name]}")
            if name not in ALLOWED_TABLE_FUNCTIONS:
                what = "reads files or URLs" if READERS.match(name) else "is not allowed here"
                raise QueryRefused(f"table function {name}() {what}; {_HINT}")
        elif node.get("class") == "FUNCTION":
            name = str(node.get("function_name", "")).lower()
            if name in REFUSED_FUNCTIONS:
                raise QueryRefused(f"{name}() is not allowed: {REFUSED_FUNCTIONS[name]}")
        elif node.get("type") == "BASE_TABLE":
            _check_table(node)


def _check_table(node: Mapping[str, Any]) -> None:
    name = str(node.get("table_name", ""))
    catalog = str(node.get("catalog_name", "")).lower()
    if re.search(r"[/\\:~]|\.[A-Za-z0-9]{1,8}$", name):
        raise QueryRefused(f"reading files or URLs directly ({name!r}) is not allowed; {_HINT}")
    if name.lower() in REFUSED_TABLES:
        raise QueryRefused(f"{name} is not available: settings, logs and secrets stay private")
    if catalog not in ALLOWED_CATALOGS:
        raise QueryRefused(f"other databases ({catalog!r}) are not available; {_HINT}")


def validate_sql(sql: str) -> str:
    """The one SELECT/EXPLAIN statement in `sql`, or `QueryRefused` saying why not."""
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRefused(f"the query is longer than {MAX_SQL_CHARS:,} characters")
    try:
        tokens = _tokens(sql)
    except duckdb.Error as exc:
        raise QueryRefused(one_line(exc)) from None
    meaningful = [(kind, text) for _, kind, text in tokens if (kind, text) != ("operator", ";")]
    words = [text for _, text in meaningful]
    if not words:
        raise QueryRefused("the query is empty")
    # A misspelt first word is left to the parser, which says where the syntax error is.
    if meaningful[0][0] in ("keyword", "operator") and words[0] not in LEADING_KEYWORDS:
        raise QueryRefused(
            f"{words[0].upper()} statements are not allowed: only SELECT queries "
            "(and EXPLAIN of one) can run here"
        )
    # IMPORT DATABASE is the one statement whose parsing reads files: never hand it over.
    if any(a == "import" and b == "database" for a, b in pairwise(words)):
        raise QueryRefused("IMPORT statements are not allowed")
    with _parser_lock:
        con = _parse_connection()
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryRefused(one_line(exc)) from None
        if len(statements) != 1:
            raise QueryRefused(_many(statements))
        statement = statements[0]
        kind = statement.type
        if kind not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
            name = str(kind).rsplit(".", 1)[-1]
            raise QueryRefused(f"{name} statements are not allowed: only SELECT queries run here")
        text = statement.query.strip().rstrip(";").strip()
        select = _select_part(text) if kind == duckdb.StatementType.EXPLAIN else text
        _check_tree(_tree(con, select))
    return text


def _many(statements: list[Any]) -> str:
    if not statements:
        return "the query is empty"
    if len(statements) == 2 and statements[0].type == duckdb.StatementType.CREATE:
        return (
            "PIVOT without an IN list would create a type: name the values, "
            "e.g. PIVOT t ON col IN ('a', 'b') USING sum(x)"
        )
    return "run one statement at a time (found several separated by ';')"


def one_line(exc: BaseException) -> str:
    """A DuckDB error as one line: its message and any 'Did you mean' hint, no caret context."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    kept = [lines[0]] if lines else [exc.__class__.__name__]
    kept += [line for line in lines[1:] if line.startswith("Did you mean")]
    return mask(" ".join(kept))


# --- running -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryResult:
    """What a user query returned: at most `max_rows` rows, and whether more were cut off."""

    sql: str
    frame: pd.DataFrame
    truncated: bool
    max_rows: int
    elapsed_s: float

    @property
    def rows(self) -> int:
        return len(self.frame)


@dataclass
class Sandbox:
    """A locked-down connection with one view per committed dataset.

    The second wall behind `validate_sql`: the views are created first, then file access is
    limited to exactly their files (`allowed_paths`), external access is turned off, Python
    replacement scans are disabled and the configuration is locked; a timer interrupts
    queries past the time limit and results are streamed and capped.
    """

    con: duckdb.DuckDBPyConnection
    views: dict[str, int]
    timeout_s: float
    max_rows: int
    allowed: tuple[str, ...] = field(default=())

    @classmethod
    def open(
        cls,
        settings: Settings,
        store: ObjectStore,
        snapshots: Mapping[str, Snapshot],
        *,
        extra_views: Mapping[str, str] | None = None,
    ) -> Sandbox:
        """Register the views, then close the connection around their files.

        `settings` should carry the read-only credentials when there are some
        (`queries.session.reader_settings`). `extra_views` are name -> SQL over the datasets.
        """
        con = connect(
            settings,
            config={"allow_community_extensions": False, "allow_persistent_secrets": False},
        )
        views: dict[str, int] = {}
        paths: list[str] = []
        for name, snap in sorted(snapshots.items()):
            con.execute(f"CREATE VIEW {quote_ident(name)} AS {relation_sql(store, snap)}")
            views[name] = snap.version
            paths += [store.duckdb_path(f.key) for f in snap.files]
        for name, sql in (extra_views or {}).items():
            if name not in views:
                con.execute(f"CREATE VIEW {quote_ident(name)} AS {sql}")
                views[name] = 0
        # Order matters: the paths are allowed before access is cut, then nothing can change.
        # GLOBAL: queries run on cursors, and a plain SET of python_enable_replacements stays
        # in this connection's own session (the others are global whichever way they are set).
        con.execute(f"SET GLOBAL allowed_paths = {sql_list(paths)}")
        con.execute("SET GLOBAL python_enable_replacements = false")
        con.execute("SET GLOBAL enable_external_access = false")
        con.execute("SET GLOBAL lock_configuration = true")
        return cls(
            con=con,
            views=views,
            timeout_s=settings.sql_timeout_seconds,
            max_rows=settings.sql_max_rows,
            allowed=tuple(paths),
        )

    def run(
        self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None
    ) -> QueryResult:
        """Validate and run one query; `QueryRefused` with a one-line reason otherwise."""
        text = validate_sql(sql)
        cap = max(1, min(max_rows or self.max_rows, self.max_rows))
        limit = timeout_s or self.timeout_s
        cursor = self.con.cursor()
        timer = threading.Timer(limit, cursor.interrupt)
        timer.daemon = True
        started = time.monotonic()
        timer.start()
        try:
            table = _fetch(cursor, text, cap + 1)
        except duckdb.InterruptException:
            raise QueryRefused(
                f"the query was stopped after its time limit of {limit:g} s; "
                "narrow it (filters, LIMIT, fewer joins)"
            ) from None
        except duckdb.PermissionException:
            raise QueryRefused(
                f"the query tried to read outside the lake's datasets; {_HINT}"
            ) from None
        except duckdb.OutOfMemoryException:
            raise QueryRefused("the query needs more memory than allowed; narrow it") from None
        except duckdb.Error as exc:
            raise QueryRefused(one_line(exc)) from None
        finally:
            timer.cancel()
            cursor.close()
        elapsed = time.monotonic() - started
        truncated = table.num_rows > cap
        frame = table.slice(0, cap).to_pandas()
        log.debug(
            "user query",
            extra={"rows": len(frame), "truncated": truncated, "elapsed_s": round(elapsed, 3)},
        )
        return QueryResult(text, frame, truncated, cap, elapsed)

    def schema(self) -> dict[str, list[tuple[str, str]]]:
        """View -> [(column, type)], for the schema browser."""
        rows = self.con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE list_contains(?, table_name) ORDER BY table_name, column_index",
            [sorted(self.views)],
        ).fetchall()
        out: dict[str, list[tuple[str, str]]] = {name: [] for name in sorted(self.views)}
        for table, column, typ in rows:
            out.setdefault(str(table), []).append((str(column), str(typ)))
        return out

    def close(self) -> None:
        self.con.close()


def _fetch(cursor: duckdb.DuckDBPyConnection, sql: str, limit: int) -> pa.Table:
    """At most `limit` rows, streamed: an enormous result is never materialised."""
    reader = cursor.execute(sql).to_arrow_reader(2048)
    batches: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        batches.append(batch)
        count += batch.num_rows
        if count >= limit:
            break
    return pa.Table.from_batches(batches, schema=reader.schema)
