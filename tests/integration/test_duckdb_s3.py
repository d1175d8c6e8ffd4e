"""DuckDB reads and writes the S3 lake through httpfs (its own HTTP client) on moto."""

import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.lake.duck import connect, quote_literal
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.integration


def test_connection_is_sized_from_settings(make_settings: SettingsFactory) -> None:
    settings: Settings = make_settings(duckdb_memory_limit="300MB", duckdb_threads=1)
    con = connect(settings)
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()
    threads = con.execute("SELECT current_setting('threads')").fetchone()
    assert limit is not None and limit[0] in {"286.1 MiB", "300.0 MB"}
    assert threads == (1,)


def test_duckdb_writes_and_reads_parquet_on_s3(s3_settings: SettingsFactory) -> None:
    settings = s3_settings()
    con = connect(settings)
    target = f"{settings.lake}/probe/x.parquet"
    con.execute(
        f"COPY (SELECT range AS x FROM range(1000)) TO {quote_literal(target)} (FORMAT parquet)"
    )
    total = con.execute(f"SELECT sum(x) FROM read_parquet({quote_literal(target)})").fetchone()
    assert total == (499500,)


def test_no_extension_is_downloaded(s3_settings: SettingsFactory) -> None:
    con = connect(s3_settings())
    rows = con.execute(
        "SELECT extension_name, install_mode FROM duckdb_extensions() WHERE loaded"
    ).fetchall()
    loaded = dict(rows)
    assert "httpfs" in loaded
    autoinstall = con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()
    assert autoinstall == (False,)
