"""The first wall: user SQL judged on DuckDB's own parse tree, against allowlists.

The exact text the user typed is parsed by DuckDB (`json_serialize_sql`) and the tree is
walked iteratively, so no expression is too deep to check. It must be one read-only query;
every table it names is a dataset view, one of its own CTEs or an allowed system view; every
table function and every scalar, aggregate or window function is on an allowlist
(`policy.py`). The text that runs is the text that was judged: only EXPLAIN is taken apart,
on byte offsets, and the query it explains is judged on its own.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from bucketpipe.config.errors import QueryRefused
from bucketpipe.serve.sandbox import policy, text
from bucketpipe.serve.sandbox.jsontext import loads

HINT = "query the dataset views instead (SHOW TABLES lists them)"
KINDS = "SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE, SUMMARIZE, SHOW TABLES, PIVOT or EXPLAIN"
_PLAIN_NAME = re.compile(r"^\w+$")
_PATH_LIKE = re.compile(r"[/\\:~.]")


@dataclass(frozen=True)
class Checked:
    """A query that passed: the text to run, whether it is an EXPLAIN, and the datasets it
    names (None: not known, the query was not judged)."""

    sql: str
    explain: bool = False
    datasets: frozenset[str] | None = None


class Validator:
    """Judges queries against the allowlists and the names of the dataset views."""

    def __init__(self, views: Iterable[str]) -> None:
        self.views = frozenset(v.lower() for v in views)
        # A connection of its own that only parses: no file, no extension, nothing to change.
        self._con = duckdb.connect(
            ":memory:",
            config={
                "autoload_known_extensions": False,
                "autoinstall_known_extensions": False,
                "enable_external_access": False,
                "lock_configuration": True,
            },
        )
        self._lock = threading.Lock()

    def check(self, sql: str) -> Checked:
        """The query to run, or `QueryRefused` saying in one line why not."""
        text.check_text(sql)
        explain = text.explain_parts(sql)
        if explain is not None:
            tree = self._tree(explain.query, sql, explain.offset)
            named = self._walk(tree)
            return Checked("EXPLAIN " + explain.query.strip().rstrip(";"), True, named)
        tree = self._tree(sql, sql, 0)
        return Checked(sql.strip(), datasets=self._walk(tree))

    def close(self) -> None:
        self._con.close()

    # --- parsing ---------------------------------------------------------------------------
    def _tree(self, query: str, original: str, offset: int) -> dict[str, Any]:
        with self._lock:
            row = self._con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()
        tree: dict[str, Any] = loads(row[0]) if row else {"error": True}
        if tree.get("error"):
            raise QueryRefused(_parse_error(tree, query, original, offset))
        statements = tree.get("statements") or []
        if not statements:
            raise QueryRefused("the query is empty")
        if len(statements) > 1:
            raise QueryRefused(
                f"run one statement at a time (found {len(statements)} separated by ';')"
            )
        return dict(statements[0])

    # --- the walk --------------------------------------------------------------------------
    def _walk(self, tree: Mapping[str, Any]) -> frozenset[str]:
        """Check every node; base tables last, once every CTE name is known. The dataset
        views the query names (a name a CTE shadows in one place counts as well)."""
        tables: list[Mapping[str, Any]] = []
        ctes: set[str] = set()
        stack: list[tuple[Any, bool]] = [(tree, False)]
        while stack:
            value, in_table_function = stack.pop()
            if isinstance(value, list):
                stack.extend((item, False) for item in value)
                continue
            if not isinstance(value, dict):
                continue
            kind = value.get("type")
            if "class" in value:
                _check_expression(value, in_table_function)
            elif isinstance(kind, str) and kind.endswith("_NODE"):
                if kind not in policy.QUERY_NODES:
                    raise QueryRefused(f"{kind.lower()} queries are not allowed here")
                ctes.update(_cte_names(value))
            elif isinstance(kind, str) and "query_location" in value:
                if kind not in policy.TABLE_REFS:
                    raise QueryRefused(f"{kind.lower()} in FROM is not allowed here")
                if kind == "BASE_TABLE":
                    tables.append(value)
                elif kind == "SHOW_REF":
                    _check_show(value, self.views)
                elif kind == "TABLE_FUNCTION":
                    stack.append((value.get("function"), True))
                    value = {k: v for k, v in value.items() if k != "function"}
            stack.extend((child, False) for child in value.values())
        for table in tables:
            self._check_table(table, ctes)
        return frozenset(_named_views(tables, self.views))

    def _check_table(self, node: Mapping[str, Any], ctes: set[str]) -> None:
        catalog = str(node.get("catalog_name") or "").lower()
        schema = str(node.get("schema_name") or "").lower()
        name = str(node.get("table_name") or "").lower()
        if not catalog and not schema and name in ctes:
            return
        if catalog in ("", "memory") and schema in ("", "main") and name in self.views:
            return
        if catalog in ("", "system") and schema in ("", "main") and name in policy.SYSTEM_VIEWS:
            return
        in_info = schema == "information_schema" and catalog in ("", "system")
        if in_info and name in policy.INFORMATION_SCHEMA:
            return
        raw = str(node.get("table_name") or "")
        if _PATH_LIKE.search(raw):
            raise QueryRefused(f"reading files or URLs directly is not allowed; {HINT}")
        if catalog not in ("", "memory", "system"):
            raise QueryRefused(f"other databases ({catalog!r}) are not available; {HINT}")
        if name in policy.reserved_names() or schema in ("pg_catalog", "information_schema"):
            raise QueryRefused(
                f"{raw} is not available: the engine's settings, logs and secrets stay private"
            )
        raise QueryRefused(_no_such_dataset(raw, self.views))


def _named_views(tables: Iterable[Mapping[str, Any]], views: frozenset[str]) -> set[str]:
    named = set()
    for node in tables:
        catalog = str(node.get("catalog_name") or "").lower()
        schema = str(node.get("schema_name") or "").lower()
        name = str(node.get("table_name") or "").lower()
        if catalog in ("", "memory") and schema in ("", "main") and name in views:
            named.add(name)
    return named


def _check_expression(node: Mapping[str, Any], in_table_function: bool) -> None:
    cls = str(node.get("class"))
    if cls == "PARAMETER":
        raise QueryRefused("query parameters ($1, ?) are not supported here")
    if cls not in policy.EXPRESSIONS:
        raise QueryRefused(f"{cls.lower()} expressions are not allowed here")
    if cls not in ("FUNCTION", "WINDOW"):
        return
    name = str(node.get("function_name") or "").lower()
    catalog = str(node.get("catalog") or "").lower()
    schema = str(node.get("schema") or "").lower()
    if catalog not in ("", "system") or schema not in ("", "main", "pg_catalog"):
        raise QueryRefused(f"{catalog or schema}.{name}() is not available here")
    if in_table_function:
        _check_table_function(name)
    elif name not in policy.allowed_functions():
        if name in policy.REASONS:
            raise QueryRefused(f"{name}() is not allowed: {policy.REASONS[name]}")
        raise QueryRefused(
            f"function {name}() is not available here: queries may compute on the datasets "
            "(text, numbers, dates, lists, structs, JSON, aggregates and window functions)"
        )


def _check_table_function(name: str) -> None:
    if name in policy.TABLE_FUNCTIONS:
        return
    if name in policy.REASONS:
        raise QueryRefused(f"{name}() is not allowed: {policy.REASONS[name]}")
    if name.startswith(policy.READER_PREFIXES):
        raise QueryRefused(f"table function {name}() reads files or URLs; {HINT}")
    raise QueryRefused(f"table function {name}() is not available here; {HINT}")


def _check_show(node: Mapping[str, Any], views: frozenset[str]) -> None:
    if node.get("query") is not None:
        return  # DESCRIBE / SUMMARIZE of a query: the walk checks the query
    target = str(node.get("table_name") or "")
    if target in policy.SHOW_TARGETS:
        return
    schema = str(node.get("schema_name") or "").lower()
    catalog = str(node.get("catalog_name") or "").lower()
    if (
        node.get("show_type") == "SHOW_FROM"
        and schema in ("", "main")
        and catalog
        in (
            "",
            "memory",
        )
    ):
        return
    raise QueryRefused(f"SHOW {target.strip(chr(34)) or schema} is not available; SHOW TABLES is")


def _cte_names(node: Mapping[str, Any]) -> set[str]:
    names = set()
    entries = (node.get("cte_map") or {}).get("map") or []
    raw = [str(entry.get("key", "")) for entry in entries if isinstance(entry, dict)]
    if node.get("type") == "RECURSIVE_CTE_NODE" and node.get("cte_name"):
        raw.append(str(node["cte_name"]))
    for name in raw:
        # A CTE may not shadow the engine's own views: where it is out of scope the name
        # would reach them. A plain name also keeps file-like names out.
        if not _PLAIN_NAME.match(name) or name.lower() in policy.reserved_names():
            shown = repr(name) if _PLAIN_NAME.match(name) else "with that name"
            raise QueryRefused(f"rename the CTE {shown}: the name is reserved or not a plain name")
        names.add(name.lower())
    return names


def _no_such_dataset(name: str, views: frozenset[str]) -> str:
    close = difflib.get_close_matches(name.lower(), sorted(views), n=1)
    hint = f' Did you mean "{close[0]}"?' if close else " SHOW TABLES lists the datasets."
    return f"no dataset named {name}.{hint}"


def _parse_error(tree: Mapping[str, Any], query: str, original: str, offset: int) -> str:
    message = str(tree.get("error_message") or "the query could not be parsed")
    if tree.get("error_type") == "parser":
        if "expression depth" in message:
            return (
                "the query nests deeper than the 1,000 levels DuckDB parses; "
                "split the expression (e.g. sum a list) or use fewer parentheses"
            )
        position = str(tree.get("position") or "")
        if position.isdigit():
            start = text.chars_before(original, offset)
            line, column = text.line_and_column(original, start + int(position))
            return f"syntax error: {message} (line {line}, column {column})"
        return f"syntax error: {message}"
    keyword = text.leading_keyword(query)
    pieces = len(text.split_statements(query))
    if keyword == "PIVOT":
        return (
            "PIVOT without an IN list would create a type: name the values, "
            "e.g. PIVOT t ON col IN ('a', 'b') USING sum(x)"
        )
    if pieces > 1:
        return f"run one statement at a time (found {pieces} separated by ';')"
    if keyword == "EXPLAIN":
        return "EXPLAIN takes one query (EXPLAIN of EXPLAIN or of other statements is refused)"
    what = f"{keyword} statements are" if keyword else "this statement is"
    return f"{what} not allowed: only read-only queries run here ({KINDS})"
