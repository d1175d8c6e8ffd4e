"""A job's work relations: tables of its work database, or views of Parquet files it staged.

A clean writes its rows a few times before it commits them (the loaded text, the checked
rows, the deduplicated batch) and reads each copy a few times. Where its work database is a
file (scratch bounded only by the disk), DuckDB compresses every table it writes there: on
two CPUs five million text rows take it about one and a half times as long as writing them
as a Parquet file of the run's scratch directory, which later steps scan as fast. So there
such rows are *staged*: written as Parquet files and read through a view of the same name. A
work database in memory (a sized scratch volume) keeps them as tables, which DuckDB spills
within its cap: files beside the spill would not be counted in it.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Sequence
from pathlib import Path

import duckdb

from bucketpipe.lake.duck import quote_ident, quote_literal, sql_list

# Staged rows are scratch, read back within the run on the same disk: written uncompressed,
# with a dictionary only for a column of at most 4,096 distinct values in a row group. Trying
# a dictionary on every column (DuckDB's default) and compressing were most of the write: the
# load of 5 M CSV rows took 6.0-6.5 s instead of 9.4-10.0 s and the clean used 15% less CPU,
# for about twice the scratch (585 MB at most for 316 MB of CSV, 265 MB before). A column of
# few values keeps its dictionary, which the later passes evaluate once per value (the
# lake's own files are zstd with DuckDB's default dictionaries).
STAGED_OPTIONS = "FORMAT parquet, COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 4096"
STAGED_FOLDER = "staged"


def drop_relation(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the table or view `name` of the work database, whichever it is, if it exists."""
    kinds = con.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE view_name = $name AND NOT temporary "
        "AND database_name = current_database() AND schema_name = current_schema() "
        "UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = $name "
        "AND NOT temporary AND database_name = current_database() "
        "AND schema_name = current_schema()",
        {"name": name},
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {kind} {quote_ident(name)}")


def database_on_disk(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's work database is a file (not `:memory:`)."""
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return bool(row and row[0])


def staging_folder(con: duckdb.DuckDBPyConnection, scratch: Path) -> Path | None:
    """Where the work rows of a job in `scratch` are staged: None to keep them as tables."""
    return scratch / STAGED_FOLDER if database_on_disk(con) else None


def stage_sql(select_sql: str, path: Path) -> str:
    """The statement writing the rows of `select_sql` to the Parquet file `path`."""
    return f"COPY ({select_sql}) TO {quote_literal(str(path))} ({STAGED_OPTIONS})"


def view_of_files(
    con: duckdb.DuckDBPyConnection,
    name: str,
    files: Sequence[tuple[Path, Collection[str]]],
    columns: Sequence[tuple[str, str]],
) -> None:
    """`name`: a view of the staged Parquet `files` (each with the columns it holds), as
    `columns` (name, type): unioned by name, a column a file lacks reads as NULL, and one no
    file holds is NULL of its type (with no file at all, the view has no rows)."""
    drop_relation(con, name)
    held = {c for _, names in files for c in names}
    listed = ", ".join(
        quote_ident(c) if c in held else f"CAST(NULL AS {typ}) AS {quote_ident(c)}"
        for c, typ in columns
    )
    if files:
        paths = sql_list([str(path) for path, _ in files])
        source = f"FROM read_parquet({paths}, union_by_name = true)"
    else:
        source = "WHERE false"
    con.execute(f"CREATE VIEW {quote_ident(name)} AS SELECT {listed} {source}")


def keep_as(
    con: duckdb.DuckDBPyConnection, name: str, select_sql: str, folder: Path | None
) -> None:
    """`name` holds the rows of `select_sql` (which must not read `name`): a view of a Parquet
    file staged in `folder`, or a table of the work database when `folder` is None."""
    drop_relation(con, name)
    if folder is None:
        con.execute(f"CREATE TABLE {quote_ident(name)} AS {select_sql}")
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.parquet"
    con.execute(stage_sql(select_sql, path))
    con.execute(
        f"CREATE VIEW {quote_ident(name)} AS SELECT * FROM read_parquet({quote_literal(str(path))})"
    )


def clear_staged(folder: Path | None) -> None:
    """Remove the staged files (their views must be dropped first)."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
