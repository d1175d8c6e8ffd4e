"""The SQL sandbox's corpora: attacks by class, and the ordinary SQL that must keep working.

An attack is `refused` (the validator must say no), `bounded` (it may run, but a limit stops
it: time, memory, result size, spill) or `harmless` (it runs or fails in the engine, and its
answer must reveal nothing; a refusal is fine too). A `bounded` attack may also be refused.
`{orphan}`, `{raw}`, `{manifest}`, `{other}` and `{lake}` are
filled with real paths of the lake under test: files the sandbox must never reach.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tests.support.sql_legit import LEGIT

__all__ = ["ATTACKS", "LEGIT", "Attack", "by_kind"]

E = "é" * 40  # the comment padding of the byte-offset leak


@dataclass(frozen=True)
class Attack:
    kind: str
    sql: str
    expect: str = "refused"


def _a(kind: str, *sqls: str, expect: str = "refused") -> list[Attack]:
    return [Attack(kind, sql, expect) for sql in sqls]


SECRETS = _a(
    "secrets and settings",
    "SELECT current_setting('s3_secret_access_key')",
    "SELECT current_setting('s3_access_key_id')",
    "select CURRENT_SETTING('s3_secret_access_key')",
    "SELECT \"current_setting\"('s3_secret_access_key')",
    "SELECT system.main.current_setting('s3_secret_access_key')",
    "SELECT pg_catalog.current_setting('s3_secret_access_key')",
    "SELECT upper(current_setting('s3_session_token'))",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_settings() WHERE name LIKE 's3%'",
    "SELECT * FROM pg_settings",
    "SELECT * FROM pg_catalog.pg_settings",
    "SELECT name, setting FROM pg_settings WHERE name = 'allowed_paths'",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_secrets(redact := false)",
    "SELECT secret_string FROM duckdb_secrets()",
    "SELECT * FROM which_secret('{orphan}', 's3')",
    "SELECT getvariable('lake_0')",
    "SELECT * FROM duckdb_variables()",
    "SET VARIABLE x = 1",
    "SET s3_secret_access_key = 'x'",
    "RESET s3_access_key_id",
    "SET allow_unredacted_secrets = true",
    "SET lock_configuration = false",
    "SHOW s3_secret_access_key",
    "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')",
    "CREATE PERSISTENT SECRET p (TYPE s3, KEY_ID 'k', SECRET 'v')",
    "DROP SECRET lake",
    "SELECT * FROM quotes WHERE symbol = current_setting('s3_secret_access_key')",
    "SELECT list_transform([1], x -> current_setting('s3_secret_access_key'))",
    "SELECT row_number() OVER (ORDER BY current_setting('threads')) FROM quotes",
    "SELECT * FROM range(3) ORDER BY current_setting('s3_region')",
    "SELECT CASE WHEN true THEN current_setting('s3_endpoint') END",
    "VALUES (current_setting('s3_secret_access_key'))",
    "SELECT * FROM (VALUES (1)) t(a) QUALIFY current_setting('threads') = '2'",
    "PIVOT quotes ON symbol IN ('AAPL') USING max(current_setting('threads'))",
    "SELECT 1 LIMIT length(current_setting('s3_secret_access_key'))",
    "SELECT ('s3_secret_access_key').current_setting()",
    "SELECT {'k': current_setting('s3_secret_access_key')}",
    "SELECT COLUMNS(c -> current_setting('s3_secret_access_key') <> c) FROM quotes",
    "SELECT * REPLACE (current_setting('s3_secret_access_key') AS symbol) FROM quotes",
    "SELECT count(*) FILTER (WHERE current_setting('s3_secret_access_key') > '') FROM quotes",
    "SELECT string_agg(symbol ORDER BY current_setting('s3_secret_access_key')) FROM quotes",
    "SELECT [x FOR x IN ['a'] IF x < current_setting('s3_secret_access_key')]",
    "SELECT ['s3_secret_access_key'].apply(x -> x.current_setting())",
    "SELECT row_number() OVER w FROM quotes "
    "WINDOW w AS (ORDER BY current_setting('s3_secret_access_key'))",
    "SELECT * FROM quotes WHERE symbol IN (TABLE duckdb_settings)",
    "SELECT * FROM (FROM duckdb_secrets())",
    "SELECT 1 WHERE EXISTS (FROM duckdb_secrets() WHERE secret_string LIKE '%secret=b%')",
    "TABLE duckdb_settings",
    "DESCRIBE duckdb_settings",
    "SHOW duckdb_settings",
    "SUMMARIZE TABLE duckdb_settings",
    "EXPLAIN TABLE duckdb_settings",
)
ENVIRONMENT = _a(
    "environment",
    "SELECT getenv('AWS_SECRET_ACCESS_KEY')",
    "SELECT getenv('HOME')",
    "SELECT lower(getenv('BUCKETPIPE_READER_SECRET_ACCESS_KEY'))",
    "SELECT * FROM read_text('/proc/self/environ')",
    "SELECT * FROM '/proc/self/environ'",
    "SELECT * FROM read_text('/proc/1/environ')",
    "SELECT * FROM read_blob('/proc/self/cmdline')",
    "SELECT current_setting('home_directory')",
    "SELECT current_setting('temp_directory')",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM duckdb_temporary_files()",
    "SELECT * FROM pragma_platform()",
    "SELECT * FROM main.read_text('/proc/self/environ')",
    "SELECT * FROM system.main.read_text('/proc/self/environ')",
    "SELECT * FROM pragma_user_agent()",
    "SELECT * FROM duckdb_memory()",
)
FILES = _a(
    "file system and URLs",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "sElEcT * FrOm ReAd_TeXt('/etc/passwd')",
    "SELECT * FROM read_text/**/('/etc/passwd')",
    "FROM read_blob('/etc/shadow') SELECT *",
    "SELECT * FROM read_json('/root/.aws/credentials')",
    "SELECT * FROM read_json_auto('{manifest}')",
    "SELECT * FROM read_ndjson('{raw}')",
    "SELECT * FROM read_json_objects('{raw}')",
    "SELECT * FROM read_parquet('{orphan}')",
    "SELECT * FROM read_parquet(['{orphan}', '{other}'])",
    "SELECT * FROM parquet_scan('{orphan}')",
    "SELECT * FROM parquet_metadata('{orphan}')",
    "SELECT * FROM parquet_schema('{orphan}')",
    "SELECT * FROM parquet_file_metadata('{orphan}')",
    "SELECT * FROM parquet_kv_metadata('{orphan}')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM glob('{lake}/**')",
    "SELECT * FROM read_duckdb('/tmp/x.duckdb')",
    "SELECT * FROM '/etc/passwd'",
    'SELECT * FROM "/etc/passwd"',
    "SELECT * FROM '../../../../etc/passwd.csv'",
    "SELECT * FROM 'file:///etc/passwd'",
    "SELECT * FROM '~/.ssh/id_rsa'",
    "SELECT * FROM '{orphan}'",
    "SELECT * FROM '{other}'",
    "SELECT * FROM '{lake}/clean/*/*/*.parquet'",
    "DESCRIBE '{orphan}'",
    "SUMMARIZE '/etc/passwd'",
    "SUMMARIZE SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
    "SELECT * FROM 'https://example.com/x.parquet'",
    "SELECT * FROM read_json('http://169.254.169.254/latest/meta-data/')",
    "SELECT * FROM read_parquet('s3://other-bucket/x.parquet')",
    "SELECT * FROM 'hf://datasets/x/y.parquet'",
    "SELECT * FROM read_text('/etc/' || 'passwd')",
    "SELECT (SELECT content FROM read_text('/etc/hostname'))",
    "SELECT * FROM quotes, LATERAL (SELECT * FROM read_text('/etc/passwd')) LIMIT 1",
    "SELECT symbol FROM quotes UNION ALL SELECT content FROM read_text('/etc/hostname')",
    "WITH t AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM t",
    "SELECT * FROM quotes WHERE symbol IN (SELECT * FROM read_csv('/etc/passwd'))",
    "PIVOT read_csv('/etc/passwd') ON column0 USING count(*)",
    "SELECT * FROM query_table('/etc/passwd')",
    "SELECT * FROM histogram('/etc/passwd', column0)",
)
EXTENSIONS = _a(
    "extensions",
    "INSTALL spatial",
    "INSTALL httpfs",
    "FORCE INSTALL delta FROM core_nightly",
    "LOAD httpfs",
    "LOAD delta",
    "LOAD '/tmp/evil.duckdb_extension'",
    "UPDATE EXTENSIONS",
    "SELECT * FROM delta_scan('{lake}/clean/quotes')",
    "SELECT * FROM iceberg_scan('{lake}')",
    "SELECT * FROM sqlite_scan('/tmp/x.db', 't')",
    "SELECT * FROM postgres_scan('host=x', 'public', 't')",
    "SELECT * FROM 'book.xlsx'",
    "SELECT st_point(1, 2)",
    "SELECT * FROM read_xlsx('/tmp/x.xlsx')",
)
DATABASES = _a(
    "attach, copy, export and import",
    "ATTACH '/tmp/bucketpipe-hostile.duckdb' AS x",
    "ATTACH 'https://example.com/x.duckdb' AS y",
    "ATTACH ':memory:' AS m",
    "ATTACH '/tmp/x.db' (TYPE sqlite)",
    "DETACH memory",
    "USE system",
    "COPY quotes TO '/tmp/bucketpipe-hostile.csv'",
    "COPY (SELECT 1) TO 's3://other-bucket/x.csv'",
    "COPY quotes FROM '/etc/passwd'",
    "COPY FROM DATABASE memory TO x",
    "EXPORT DATABASE '/tmp/bucketpipe-hostile'",
    "IMPORT DATABASE '/tmp'",
    "SELECT 1; IMPORT DATABASE '/tmp'",
    "CALL import_database('/tmp')",
    "CHECKPOINT",
    "FORCE CHECKPOINT",
    "SELECT * FROM checkpoint()",
)
PRAGMAS = _a(
    "pragmas",
    "PRAGMA version",
    "PRAGMA database_list",
    "PRAGMA table_info('quotes')",
    "PRAGMA show_tables",
    "PRAGMA enable_profiling",
    "PRAGMA profiling_output = '/tmp/bucketpipe-profile.txt'",
    "PRAGMA threads = 64",
    "PRAGMA memory_limit = '100GB'",
    "CALL pragma_version()",
    "SELECT * FROM pragma_version()",
    "SELECT * FROM pragma_table_info('quotes')",
    "SELECT * FROM pragma_storage_info('quotes')",
    "CALL enable_logging()",
    "SELECT * FROM enable_logging()",
    "SELECT * FROM duckdb_logs",
    "SELECT * FROM truncate_duckdb_logs()",
)
DDL_DML = _a(
    "DDL and DML",
    "CREATE TABLE t AS SELECT 1",
    "CREATE TEMP TABLE t AS SELECT 1",
    "CREATE OR REPLACE VIEW quotes AS SELECT 1",
    "CREATE VIEW v AS SELECT * FROM read_text('/etc/passwd')",
    "CREATE MACRO current_date() AS 'x'",
    "CREATE OR REPLACE MACRO upper(x) AS x",
    "CREATE SEQUENCE s",
    "CREATE TYPE mood AS ENUM ('a')",
    "CREATE SCHEMA s",
    "DROP VIEW quotes",
    "ALTER VIEW quotes RENAME TO q",
    "INSERT INTO quotes VALUES (1)",
    "UPDATE quotes SET price = 0",
    "DELETE FROM quotes",
    "TRUNCATE quotes",
    "VACUUM",
    "ANALYZE",
    "BEGIN TRANSACTION",
    "PREPARE p AS SELECT 1",
    "EXECUTE p",
    "DEALLOCATE p",
    "COMMENT ON VIEW quotes IS 'x'",
    "SET threads = 64",
    "SET GLOBAL memory_limit = '100GB'",
    "SET enable_external_access = true",
    "SET allowed_paths = ['/']",
    "RESET allowed_directories",
)
SMUGGLING = _a(
    "multi-statement smuggling",
    "SELECT 1; SET threads = 64",
    "SELECT 1;;COPY quotes TO '/tmp/x.csv'",
    "SELECT 1 /* ; */ ; ATTACH '/tmp/z.db' AS z",
    "SELECT 1 -- ;\n; DROP VIEW quotes",
    "SELECT ';'; SELECT current_setting('threads')",
    "SELECT $$;$$; PRAGMA version",
    "SELECT 1\n;\nSET threads = 1",
    "SELECT 1\x00; COPY quotes TO '/tmp/x'",
    "SELECT 'é'; SET lock_configuration = false",
    "SELECT * FROM query('SELECT current_setting(''s3_secret_access_key'')')",
    "SELECT * FROM query('COPY quotes TO ''/tmp/x''')",
    "SELECT json_serialize_plan('SELECT * FROM read_text(''/etc/passwd'')')",
    "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
    "SELECT json_deserialize_sql(json_serialize_sql('SELECT 1'))",
    "PIVOT quotes ON symbol USING avg(price)",
)
TRICKS = _a(
    "comment, unicode and quoting tricks",
    "SELECT/**/current_setting('threads')",
    "SELECT current_setting/*é*/('threads')",
    "SELECT \"CURRENT_SETTING\"('threads')",
    "SELECT \"current_setting\" ('threads')",
    "SELECT U&\"\\0063urrent_setting\"('threads')",
    "\ufeffSELECT current_setting('threads')",
    "SELECT current_setting('threads') -- " + E,
    "/* " + E + " */ SELECT * FROM duckdb_secrets()",
    "SELECT\u00a0current_setting('threads')",
    "SELECT current\u200bsetting('threads')",
    "SELECT \uff43\uff55\uff52\uff52\uff45\uff4e\uff54_setting('threads')",
    'SELECT * FROM "duckdb_settings"()',
    'SELECT * FROM "DUCKDB_SECRETS"()',
    "SELECT * FROM READ_TEXT('/etc/passwd')",
    'SELECT * FROM "pg_settings"',
    'SELECT * FROM "PG_SETTINGS"',
    "SELECT * FROM system.pg_catalog.pg_settings",
    "WITH pg_settings AS (SELECT 1) SELECT * FROM pg_settings",
    'SELECT * FROM (WITH "/etc/passwd" AS (SELECT 1) SELECT 1), "/etc/passwd"',
    'WITH "x.csv" AS (SELECT 1) SELECT * FROM "x.csv"',
    "SELECT * FROM memory.main.quotes, other_db.main.t",
    "SELECT 1 AS \"\u202eevil\", current_setting('threads')",
    "SELECT $1",
    "SELECT ?",
)
DIFFERENTIALS = _a(
    "parser differentials",
    f"EXPLAIN (FORMAT /*{E}*/ json) WITH x AS (SELECT current_setting('s3_secret_access_key') "
    "AS s) SELECT * FROM quotes, x WHERE symbol = s",
    f"EXPLAIN (ANALYZE, FORMAT /*{E}*/ json) WITH x AS (SELECT current_setting("
    "'s3_secret_access_key') AS s) SELECT * FROM quotes WHERE symbol = (SELECT s FROM x)",
    f"EXPLAIN (ANALYZE, FORMAT /*{E}*/ json) SELECT * FROM enable_logging()",
    "EXPLAIN (ANALYZE, FORMAT json) SELECT * FROM enable_logging(level := 'trace', "
    "storage := 'file', storage_path := '/tmp/bucketpipe-logs')",
    "EXPLAIN ANALYZE SELECT * FROM quotes",
    "explain/*x*/analyze SELECT * FROM quotes",
    "EXPLAIN EXPLAIN SELECT 1",
    "EXPLAIN COPY quotes TO '/tmp/x.csv'",
    "EXPLAIN PRAGMA version",
    "EXPLAIN SELECT current_setting('s3_secret_access_key')",
    "EXPLAIN SELECT * FROM read_csv('/etc/passwd')",
    "DESCRIBE SELECT current_setting('s3_secret_access_key')",
    "SUMMARIZE SELECT * FROM duckdb_secrets()",
    "SHOW databases",
    "SHOW threads",
    "PIVOT quotes ON symbol IN (SELECT current_setting('threads')) USING count(*)",
    "SELECT * FROM (PRAGMA version)",
    "FROM (SELECT 1); SET threads = 1",
)
RESOURCES = _a(
    "resource exhaustion",
    "SELECT len(range(100000000))",
    "SELECT len(range(1000000000))",
    "SELECT repeat('x', 1000000000)",
    "SELECT repeat('x', 100000000) FROM range(40)",
    "SELECT list(range) FROM range(200000000)",
    "SELECT string_agg(repeat('x', 1000000), '') FROM range(100000)",
    "SELECT array_agg(range) FROM range(1000000000)",
    "SELECT unnest(range(1000000000))",
    "SELECT count(*) FROM range(100000000) a, range(100000000) b",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t",
    "SELECT count(*) FROM range(10000000000000)",
    "SELECT * FROM range(1000000000000)",
    "SELECT * FROM quotes a, quotes b, quotes c",
    "SELECT repeat('y', 2000000) AS wide FROM range(200)",
    "SELECT * FROM range(300000000) ORDER BY random()",
    "SELECT range % 50000000 AS k, count(*) FROM range(500000000) GROUP BY 1",
    "SELECT regexp_matches(repeat('a', 10000000), '(a|aa)*b')",
    "SELECT " + " + ".join(["1"] * 1000),
    "SELECT " + "(" * 5000 + "1" + ")" * 5000,
    "SELECT '" + "x" * 200_000 + "'",
    "SELECT length(repeat('x', 3000000000))",
    "SELECT length(repeat('x', 700000000) || repeat('y', 700000000))",
    "SELECT len(list_concat(range(100000000), range(100000000)))",
    "SELECT len(to_json(range(100000000)))",
    "SELECT md5(repeat('x', 1500000000))",
    "SELECT length(repeat(repeat('x', 1000), 1500000))",
    "SELECT len(list_sort(range(150000000)))",
    "SELECT histogram(range) FROM range(100000000)",
    expect="bounded",
)
CRASHES = _a(
    "crash attempts",
    "SELECT * FROM enable_logging(level := 'trace', storage := 'file', "
    "storage_path := '/tmp/bucketpipe-logs')",
    "CALL enable_logging(storage := 'file', storage_path := '/tmp/x')",
    "SELECT * FROM duckdb_logs_parsed('QueryLog')",
    "SELECT * FROM test_all_types()",
    "SELECT * FROM duckdb_table_sample('quotes')",
    "SELECT * FROM force_checkpoint()",
    "SELECT parse_duckdb_log_message('QueryLog', 'x')",
    "SELECT write_log('x')",
    "SELECT sleep_ms(100000)",
    "SELECT pg_sleep(100)",
    "SELECT setseed(0.5)",
    "SELECT nextval('s')",
)
LEAKS = _a(
    "information leaks via errors, EXPLAIN and views",
    "SELECT * FROM information_schema.views",
    "SELECT * FROM duckdb_databases()",
    "SELECT * FROM duckdb_dependencies()",
    "SELECT * FROM pg_catalog.pg_views",
    "SELECT * FROM sqlite_master",
    "SELECT CAST((SELECT string_agg(secret_string, ',') FROM duckdb_secrets()) AS INTEGER)",
    "SELECT * FROM quotes WHERE symbol = getvariable('lake_0')[1]",
    "SELECT current_database(), current_schema()",
    "SELECT version()",
    "SELECT pg_get_viewdef(1)",
    "SELECT current_query()",
    "SELECT * FROM duckdb_constraints()",
    "SELECT * FROM information_schema.character_sets",
    "SHOW TABLES FROM system.main",
    expect="refused",
) + _a(
    "information leaks via errors, EXPLAIN and views",
    "SELECT sql FROM duckdb_views() WHERE NOT internal",
    "SELECT CAST((SELECT sql FROM duckdb_views() WHERE NOT internal LIMIT 1) AS INTEGER)",
    "SELECT CAST(symbol AS INTEGER) FROM quotes",
    "SELECT * FROM quotes WHERE price = 'not a number'",
    "EXPLAIN SELECT * FROM quotes WHERE symbol = 'AAPL'",
    "DESCRIBE quotes",
    "SELECT * FROM duckdb_columns() WHERE table_name = 'quotes'",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM nope",
    "SELECT no_such_column FROM quotes",
    "SELECT filename FROM quotes",
    "SELECT file_row_number, file_index FROM quotes",
    "SELECT * FROM duckdb_functions() WHERE function_name = 'read_text'",
    "SELECT 'x' AS \"'; SET threads=1; --\"",
    "SELECT * FROM quotes JOIN company_profiles USING (no_such)",
    "SELECT list_filter(['s3_secret_access_key'], current_setting)",
    "SELECT macro_definition FROM duckdb_functions() WHERE macro_definition IS NOT NULL",
    "SELECT sql FROM duckdb_views()",
    "SELECT * FROM quotes AT (VERSION => 1)",
    'SELECT CAST(\'x\' AS "memory"."main"."secret")',
    expect="harmless",
)

ATTACKS: list[Attack] = (
    SECRETS
    + ENVIRONMENT
    + FILES
    + EXTENSIONS
    + DATABASES
    + PRAGMAS
    + DDL_DML
    + SMUGGLING
    + TRICKS
    + DIFFERENTIALS
    + RESOURCES
    + CRASHES
    + LEAKS
)


def by_kind() -> Counter[str]:
    return Counter(a.kind for a in ATTACKS)
