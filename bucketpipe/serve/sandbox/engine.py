"""The worker's DuckDB: dataset views over hidden file lists, then locked down for good.

Runs only inside the worker process (`worker.py`). Order matters: the views are created and
the httpfs extension loaded while the connection is open; then file access is limited to
exactly the snapshots' files, external access is turned off and the configuration is locked,
so nothing a query says can loosen it. The file lists live in variables the views read, so a
view's definition (`duckdb_views()`, errors, EXPLAIN) shows a dataset name, never a path.

A worker that starts reads nothing from the lake: DuckDB binds a view when it is created, so
each view is first bound on an empty local file of its snapshot's columns, then pointed at the
snapshot's files. Every query binds the views it names again, on their real files, so a query
opens only the datasets it reads.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from bucketpipe.config.settings import Settings
from bucketpipe.lake.duck import (
    connect,
    declared_types,
    empty_relation_sql,
    quote_ident,
    quote_literal,
    read_parquet_sql,
    sql_list,
    typed_nulls_sql,
)

# Built into the wheel (core_functions, json, parquet, icu...) plus httpfs for S3 lakes;
# `delta`, `aws` or anything downloaded must never be there.
ALLOWED_EXTENSIONS = frozenset(
    {"core_functions", "json", "parquet", "icu", "httpfs", "autocomplete", "tpch", "tpcds"}
)
CREDENTIAL_SETTINGS = ("s3_access_key_id", "s3_secret_access_key", "s3_session_token")
ENGINE_CONFIG: dict[str, Any] = {
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    "allow_unredacted_secrets": False,
}
# The lake's data files never change: a worker reads each one's size and footer once.
METADATA_CACHES = ("SET parquet_metadata_cache = true", "SET enable_http_metadata_cache = true")
LOCKDOWN = (
    "SET python_enable_replacements = false",
    "SET enable_progress_bar = false",
    # The common-subexpression optimizer is cubic in the depth of an expression: a few
    # hundred chained terms would keep it busy for minutes.
    "SET disabled_optimizers = 'common_subexpressions'",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)
# What a query must never change, compared after every query. The settings need no check:
# the configuration is locked.
CANARY = (
    "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal ORDER BY ALL",
    "SELECT name FROM duckdb_variables() ORDER BY ALL",
    "SELECT name FROM duckdb_secrets() ORDER BY ALL",
    "SELECT database_name FROM duckdb_databases() ORDER BY ALL",
    "SELECT count(*) FROM duckdb_tables()",
    "SELECT count(*) FROM duckdb_schemas()",
    "SELECT count(*) FROM duckdb_types() WHERE NOT internal",
    "SELECT count(*) FROM duckdb_sequences()",
    "SELECT count(*) FROM duckdb_prepared_statements()",
    "SELECT current_setting('lock_configuration')",
)


@dataclass(frozen=True)
class Dataset:
    """A dataset as the worker gets it: its name, its snapshot's files, its columns."""

    name: str
    files: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Dataset:
        return cls(
            str(data["name"]),
            tuple(str(f) for f in data["files"]),
            tuple((str(c), str(t)) for c, t in data["columns"]),
        )


class Engine:
    """The locked-down connection user SQL runs on."""

    def __init__(self, settings: Settings, datasets: Sequence[Dataset]) -> None:
        self.con = connect(settings, config=dict(ENGINE_CONFIG))
        for statement in METADATA_CACHES:
            self.con.execute(statement)
        self.datasets = {d.name: d for d in datasets}
        self.variables: dict[str, str] = {}
        self.declared: dict[str, dict[str, str]] = {}  # the snapshots' columns, DuckDB's types
        self.checked: set[str] = set()  # views bound on their first file at least once
        self.by_name: set[str] = set()  # views that line their files up by column name
        self.fingerprint: list[list[Any]] | None = None
        templates = Path(settings.temp_dir) / "views"
        try:
            for index, dataset in enumerate(datasets):
                self._create_view(index, dataset, templates / str(index))
        finally:
            shutil.rmtree(templates, ignore_errors=True)
        self.views = [d.name for d in datasets]
        # From the catalog: binds no view, so it opens no file.
        self.schema = self._schema(self.views)
        self._check_extensions()  # duckdb_extensions() reads the home directory: before lockdown
        allowed = sorted({f for d in datasets for f in d.files})
        self.con.execute(f"SET allowed_paths = {sql_list(allowed)}")
        for statement in LOCKDOWN:
            self.con.execute(statement)
        self.self_check()
        self.fingerprint = self.state()
        self.rolled_back = True

    def _create_view(self, index: int, dataset: Dataset, templates: Path) -> None:
        view = quote_ident(dataset.name)
        if not dataset.files:
            self.con.execute(f"CREATE VIEW {view} AS {empty_relation_sql(dataset.columns)}")
            return
        self.variables[dataset.name] = f"lake_{index}"
        self.declared[dataset.name] = declared_types(self.con, dataset.columns)
        template = self._template(templates, dataset)
        if template is not None:
            self.con.execute(f"SET VARIABLE lake_{index} = {sql_list([template])}")
            self.con.execute(f"CREATE VIEW {view} AS {self._relation(dataset.name, False)}")
            self._point(dataset)
            if self._catalog_columns(dataset.name) == self.declared[dataset.name]:
                return  # checked on its first file when a statement first names it
        # No template, or one that does not show the snapshot's columns: check it now.
        self._point(dataset)
        self.con.execute(f"CREATE OR REPLACE VIEW {view} AS {self._relation(dataset.name, False)}")
        if not self._check(dataset.name):
            self.line_up([dataset.name])

    def _relation(self, name: str, union: bool) -> str:
        paths = f"getvariable({quote_literal(self.variables[name])})"
        return read_parquet_sql(paths, union_by_name=union)

    def _point(self, dataset: Dataset) -> None:
        """Set the dataset's variable to its snapshot's files."""
        variable = self.variables[dataset.name]
        self.con.execute(f"SET VARIABLE {variable} = {sql_list(list(dataset.files))}")

    def _template(self, folder: Path, dataset: Dataset) -> str | None:
        """An empty local Parquet file of the snapshot's columns, in the folders of the same
        hive partition as the dataset's first file (so the view gets its `dt` column as
        well); None when the snapshot records no columns or a type cannot be written."""
        rows = typed_nulls_sql(dataset.columns)
        if rows is None:
            return None
        hive = [part for part in dataset.files[0].split("/")[:-1] if "=" in part]
        path = folder.joinpath(*hive, "template.parquet")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con.execute(f"COPY ({rows}) TO {quote_literal(str(path))} (FORMAT parquet)")
        except duckdb.Error:
            return None
        return str(path)

    def _catalog_columns(self, view: str) -> dict[str, str]:
        rows = self.con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?", [view]
        ).fetchall()
        return {str(c): str(t) for c, t in rows if c != "dt"}

    def prepare(self, names: Iterable[str]) -> None:
        """Before a statement runs: check the views of the datasets it names, each once (see
        `_check`). Names that are not datasets are ignored."""
        todo = sorted(set(names).intersection(self.variables) - self.checked)
        self.line_up([name for name in todo if not self._check(name)])

    def line_up(self, names: Iterable[str]) -> bool:
        """Recreate the views of the named datasets lined up by column name (every file's
        footer is read), for files of another schema than the first. True if any was."""
        todo = sorted(set(names).intersection(self.variables) - self.by_name)
        if not todo:
            return False
        # The engine's own change, not a query's: what the next query is compared with, unless
        # the engine had changed already (then the check after the query reports it).
        clean = self.fingerprint is not None and self.unchanged()
        for name in todo:
            self._point(self.datasets[name])
            self.con.execute(
                f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {self._relation(name, True)}"
            )
            self.by_name.add(name)
            self.checked.add(name)
        if clean:
            self.fingerprint = self.state()
        return True

    def _check(self, name: str) -> bool:
        """Bind the view on the dataset's first file (its size and footer stay cached for the
        query): True when that file shows the snapshot's columns (a dataset's files share one
        schema, the common case)."""
        described = self.con.execute(f"DESCRIBE {quote_ident(name)}").fetchall()
        self.checked.add(name)
        return {str(c): str(t) for c, t, *_ in described if c != "dt"} == self.declared[name]

    def _schema(self, names: list[str]) -> dict[str, list[tuple[str, str]]]:
        rows = self.con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE list_contains(?, table_name) ORDER BY table_name, column_index",
            [names],
        ).fetchall()
        out: dict[str, list[tuple[str, str]]] = {name: [] for name in sorted(names)}
        for table, column, typ in rows:
            out.setdefault(str(table), []).append((str(column), str(typ)))
        return out

    def self_check(self) -> None:
        """Refuse to serve if the engine holds what it must not (a mistake upstream)."""
        leaked = [name for name in os.environ if name.upper().startswith("AWS_")]
        if leaked:
            raise RuntimeError(f"the worker's environment holds {sorted(leaked)}")
        held = self.con.execute(
            "SELECT name FROM duckdb_settings() WHERE list_contains(?, name) AND value <> ''",
            [list(CREDENTIAL_SETTINGS)],
        ).fetchall()
        if held:
            raise RuntimeError(f"the engine's settings {sorted(r[0] for r in held)} are set")
        for name, wanted in (("enable_external_access", "false"), ("lock_configuration", "true")):
            row = self.con.execute("SELECT current_setting(?)::VARCHAR", [name]).fetchone()
            if not row or str(row[0]).lower() != wanted:
                raise RuntimeError(f"{name} is not {wanted}")

    def _check_extensions(self) -> None:
        rows = self.con.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE loaded"
        ).fetchall()
        unexpected = {str(r[0]) for r in rows} - ALLOWED_EXTENSIONS
        if unexpected:
            raise RuntimeError(f"unexpected extensions loaded: {sorted(unexpected)}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Run a query inside a transaction that is always rolled back: whatever it might
        create in the catalog (a view, a macro, a temporary table) is gone with it.
        `rolled_back` is False when the rollback failed (a statement ended the transaction)."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        finally:
            try:
                self.con.execute("ROLLBACK")
                self.rolled_back = True
            except duckdb.Error:
                self.rolled_back = False

    def state(self) -> list[list[Any]]:
        return [self.con.execute(sql).fetchall() for sql in CANARY]

    def unchanged(self) -> bool:
        """True when no query has changed what the next one sees."""
        return self.state() == self.fingerprint

    def reader(self, sql: str, batch_rows: int = 2048) -> pa.RecordBatchReader:
        return self.con.execute(sql).to_arrow_reader(batch_rows)

    def close(self) -> None:
        self.con.close()
