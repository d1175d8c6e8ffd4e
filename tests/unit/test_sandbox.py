"""The SQL sandbox's validator: one read-only statement, checked on DuckDB's own parse tree,
with one-line errors; and the read-only credentials the sandbox runs with."""

from __future__ import annotations

import duckdb
import pytest

from bucketpipe.config.errors import QueryRefused
from bucketpipe.serve.queries.session import reader_settings
from bucketpipe.serve.sandbox import one_line, validate_sql
from tests.conftest import SettingsFactory

# --- the validator -------------------------------------------------------------------------------
ACCEPTED = [
    "SELECT 1",
    "select * from quotes;",
    "  -- a comment first\nSELECT symbol FROM quotes",
    "/* block */ SELECT 2",
    "FROM quotes",
    "TABLE quotes",
    "VALUES (1, 'a'), (2, 'b')",
    "WITH t AS (SELECT 1 AS x) SELECT * FROM t",
    "(SELECT 1) UNION ALL (SELECT 2)",
    "SELECT symbol, avg(price) FROM quotes GROUP BY ALL ORDER BY 2 DESC LIMIT 3",
    "SELECT * FROM quotes q JOIN notes n USING (symbol)",
    "SELECT * FROM range(10)",
    "SELECT * FROM generate_series(1, 5)",
    "SELECT unnest([1, 2, 3])",
    "SELECT * FROM duckdb_columns()",
    "DESCRIBE quotes",
    "SUMMARIZE quotes",
    "SHOW TABLES",
    "SHOW ALL TABLES",
    "EXPLAIN SELECT * FROM quotes",
    "EXPLAIN ANALYZE SELECT count(*) FROM quotes",
    "PIVOT quotes ON symbol IN ('AAPL', 'MSFT') USING avg(price)",
    "UNPIVOT quotes ON price INTO NAME field VALUE amount",
    "SELECT 'read_csv(''/etc/passwd'')' AS harmless_text",
    "SELECT * FROM system.main.duckdb_tables",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_validate_accepts_read_only_queries(sql: str) -> None:
    text = validate_sql(sql)
    assert text
    assert not text.endswith(";")


# (query, words the one-line refusal must contain)
REFUSED = [
    # local files
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", "read_csv_auto"),
    ("SELECT * FROM read_text('/etc/hostname')", "read_text"),
    ("SELECT * FROM read_blob('/etc/shadow')", "read_blob"),
    ("SELECT * FROM read_json('/root/.aws/credentials')", "read_json"),
    ("SELECT * FROM read_parquet('/tmp/x.parquet')", "read_parquet"),
    ("SELECT * FROM '/etc/passwd'", "directly"),
    ("SELECT * FROM 'data.csv'", "directly"),
    ("SELECT * FROM '~/.ssh/id_rsa'", "directly"),
    ("SELECT * FROM glob('/*')", "glob"),
    ("SELECT * FROM parquet_metadata('/tmp/x.parquet')", "parquet_metadata"),
    ("SELECT * FROM sniff_csv('/etc/passwd')", "sniff_csv"),
    ("DESCRIBE SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SUMMARIZE '/etc/passwd'", "directly"),
    ("SELECT (SELECT count(*) FROM read_text('/etc/passwd'))", "read_text"),
    ("SELECT * FROM quotes WHERE symbol IN (SELECT * FROM read_csv('/x'))", "read_csv"),
    ("WITH t AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM t", "read_text"),
    ("EXPLAIN SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    # other buckets and URLs
    ("SELECT * FROM 's3://other-bucket/x.parquet'", "directly"),
    ("SELECT * FROM read_parquet('s3://other-bucket/*.parquet')", "read_parquet"),
    ("SELECT * FROM read_csv('https://example.com/data.csv')", "read_csv"),
    ("SELECT * FROM 'http://169.254.169.254/latest/meta-data/'", "directly"),
    ("SELECT * FROM read_json('http://metadata.google.internal/')", "read_json"),
    # writes, databases, extensions
    ("COPY quotes TO '/tmp/out.csv'", "COPY"),
    ("COPY (SELECT 1) TO 's3://other-bucket/x.csv'", "COPY"),
    ("EXPORT DATABASE '/tmp/dump'", "EXPORT"),
    ("IMPORT DATABASE '/tmp'", "IMPORT"),
    ("SELECT 1; IMPORT DATABASE '/tmp'", "IMPORT"),
    ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
    ("ATTACH 'https://example.com/x.db'", "ATTACH"),
    ("DETACH memory", "DETACH"),
    ("USE memory", "USE"),
    ("INSTALL httpfs", "INSTALL"),
    ("LOAD httpfs", "LOAD"),
    ("LOAD delta", "LOAD"),
    ("SELECT * FROM delta_scan('clean/quotes')", "reads files"),
    ("FORCE INSTALL spatial FROM community", "FORCE"),
    ("CREATE TABLE t AS SELECT 1", "CREATE"),
    ("CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", "CREATE"),
    ("CREATE OR REPLACE VIEW quotes AS SELECT 1", "CREATE"),
    ("CREATE MACRO m() AS 1", "CREATE"),
    ("DROP VIEW quotes", "DROP"),
    ("INSERT INTO quotes VALUES (1)", "INSERT"),
    ("UPDATE quotes SET price = 0", "UPDATE"),
    ("DELETE FROM quotes", "DELETE"),
    ("ALTER VIEW quotes RENAME TO q", "ALTER"),
    ("CHECKPOINT", "CHECKPOINT"),
    ("VACUUM", "VACUUM"),
    # settings
    ("SET enable_external_access = true", "SET"),
    ("SET lock_configuration = false", "SET"),
    ("RESET allowed_paths", "RESET"),
    ("SET GLOBAL threads = 64", "SET"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("PRAGMA version", "PRAGMA"),
    ("CALL pragma_version()", "CALL"),
    ("SELECT * FROM duckdb_settings()", "duckdb_settings"),
    ("SELECT current_setting('s3_secret_access_key')", "current_setting"),
    ("SELECT * FROM pg_settings", "settings"),
    ("SELECT * FROM pg_catalog.pg_settings WHERE name LIKE 's3%'", "settings"),
    ("SELECT * FROM duckdb_logs", "logs"),
    # secrets and the environment
    ("SELECT * FROM duckdb_secrets()", "secrets"),
    ("SELECT * FROM which_secret('s3://lake/x', 's3')", "secrets"),
    ("SELECT getenv('AWS_SECRET_ACCESS_KEY')", "environment"),
    ("SELECT upper(getenv('HOME'))", "environment"),
    # statements smuggled in
    ("SELECT 1; SELECT 2", "one statement"),
    ("SELECT 1; COPY quotes TO '/tmp/x'", "one statement"),
    ("SELECT * FROM query('COPY quotes TO ''/tmp/x''')", "query"),
    ("SELECT * FROM query_table('quotes')", "query_table"),
    ("PREPARE p AS SELECT 1", "PREPARE"),
    ("BEGIN TRANSACTION", "BEGIN"),
    ("PIVOT quotes ON symbol USING avg(price)", "IN"),
    ("EXPLAIN COPY quotes TO '/tmp/x'", "SELECT"),
    ("SELECT * FROM other_db.main.t", "other databases"),
    ("", "empty"),
    (";", "empty"),
    ("SELECT 'x" * 40_000, "longer"),
]


@pytest.mark.parametrize(("sql", "words"), REFUSED)
def test_validate_refuses_hostile_queries(sql: str, words: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        validate_sql(sql)
    message = str(refused.value)
    assert words.lower() in message.lower()
    assert "\n" not in message
    assert "Traceback" not in message


def test_refused_list_is_long_enough() -> None:
    assert len(REFUSED) >= 40


def test_syntax_errors_are_one_line() -> None:
    with pytest.raises(QueryRefused) as refused:
        validate_sql("SELEC 1")
    assert "syntax error" in str(refused.value).lower()
    assert "\n" not in str(refused.value)


def test_one_line_keeps_the_hint_and_drops_the_caret() -> None:
    exc = duckdb.CatalogException(
        'Catalog Error: Table with name qoutes does not exist!\nDid you mean "quotes"?\n\n'
        "LINE 1: SELECT * FROM qoutes\n                      ^"
    )
    assert one_line(exc) == (
        'Catalog Error: Table with name qoutes does not exist! Did you mean "quotes"?'
    )


def test_reader_settings_swap_in_read_only_credentials(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        aws_access_key_id="writer",
        aws_secret_access_key="writer-secret",
        reader_access_key_id="reader",
        reader_secret_access_key="reader-secret",
    )
    readers = reader_settings(settings)
    assert readers.aws_access_key_id is not None
    assert readers.aws_access_key_id.get_secret_value() == "reader"
    assert readers.aws_secret_access_key is not None
    assert readers.aws_secret_access_key.get_secret_value() == "reader-secret"
    assert reader_settings(make_settings()).aws_access_key_id is None
