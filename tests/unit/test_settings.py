"""Settings: one object, every field documented, env names as the ecosystem spells them."""

import re
from pathlib import Path

import pytest

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import (
    DEFAULT_SYMBOLS,
    Settings,
    all_env_names,
    env_name,
    redact_url,
)
from bucketpipe.config.settings_doc import END, START, env_example, replace_table, settings_table
from bucketpipe.jobs.common import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_embedded_lake_without_redis() -> None:
    settings = Settings()
    assert settings.lake == "./lake"
    assert not settings.lake_is_s3
    assert settings.redis_url is None
    assert settings.symbols == list(DEFAULT_SYMBOLS)


def test_every_setting_has_help_text() -> None:
    missing = [name for name, info in Settings.model_fields.items() if not info.description]
    assert missing == []


def test_ecosystem_names_are_read_without_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://a3s.fi")
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    monkeypatch.setenv("FINNHUB_API_KEY", "k-123456")
    monkeypatch.setenv("BUCKETPIPE_SYMBOLS", "aapl, msft ,")
    monkeypatch.setenv("BUCKETPIPE_LAKE", "s3://bucket/prefix")
    settings = Settings()
    assert settings.aws_endpoint_url == "https://a3s.fi"
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.finnhub_api_key is not None
    assert settings.finnhub_api_key.get_secret_value() == "k-123456"
    assert settings.symbols == ["AAPL", "MSFT"]
    assert settings.lake_is_s3


def test_empty_redis_url_means_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "")
    assert Settings().redis_url is None


def test_env_names() -> None:
    assert env_name("aws_region") == "AWS_REGION"
    assert env_name("lake") == "BUCKETPIPE_LAKE"
    names = all_env_names()
    assert names["FINNHUB_API_KEY"] == "finnhub_api_key"
    assert names["BUCKETPIPE_DUCKDB_MEMORY_LIMIT"] == "duckdb_memory_limit"


def test_secrets_are_masked_in_the_redacted_view() -> None:
    settings = Settings(finnhub_api_key="supersecretkey", redis_url="redis://:pw123@redis:6379/0")
    shown = settings.redacted()
    assert shown["finnhub_api_key"] == "***"
    assert "pw123" not in str(shown)
    assert "supersecretkey" not in repr(settings)


def test_redact_url() -> None:
    assert redact_url("redis://u:p@h:1/0") == "redis://u:***@h:1/0"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"


def test_invalid_value_is_a_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUCKETPIPE_DUCKDB_THREADS", "zero")
    with pytest.raises(ConfigError, match=r"^BUCKETPIPE_DUCKDB_THREADS: ") as info:
        load_settings()
    assert "\n" not in str(info.value)


def test_unknown_finnhub_dataset_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUCKETPIPE_FINNHUB_DATASETS", "quotes,bogus")
    with pytest.raises(ConfigError, match="bogus"):
        load_settings()


def test_readme_configuration_table_is_in_step() -> None:
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme
    assert replace_table(readme) == readme, (
        "README configuration table is stale: run "
        "`python -m bucketpipe.config.settings_doc README.md`"
    )
    for name in all_env_names():
        assert f"`{name}`" in settings_table()


def test_env_example_is_in_step_and_its_defaults_load(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / ".env.example").read_text()
    assert text == env_example(), (
        ".env.example is stale: run "
        "`python -m bucketpipe.config.settings_doc README.md .env.example`"
    )
    entries = dict(
        line[2:].split("=", 1) for line in text.splitlines() if re.match(r"# [A-Z0-9_]+=", line)
    )
    assert set(entries) == set(all_env_names())
    secrets_part = text.split("# --- Settings ---")[0]
    assert "FINNHUB_API_KEY" in secrets_part and "AWS_SECRET_ACCESS_KEY" in secrets_part
    assert all(entries[name] == "" for name in entries if name in secrets_part)
    # Uncommenting every line as it stands changes nothing.
    for name, value in entries.items():
        if value:
            monkeypatch.setenv(name, value)
    assert load_settings() == Settings()


def test_empty_secrets_from_compose_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINNHUB_API_KEY", "")
    monkeypatch.setenv("BUCKETPIPE_DASHBOARD_PASSWORD", "  ")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "")
    settings = Settings()
    assert settings.finnhub_api_key is None
    assert settings.dashboard_password is None
    assert settings.aws_access_key_id is None


# --- settings a stranger (or a hurried operator) writes --------------------------------------


@pytest.mark.parametrize(
    ("name", "given", "duckdb_reads"),
    [
        ("BUCKETPIPE_DUCKDB_MEMORY_LIMIT", "512Mi", "512.0 MiB"),  # a pod spec's unit
        ("BUCKETPIPE_DUCKDB_MEMORY_LIMIT", "1Gi", "1.0 GiB"),
        ("BUCKETPIPE_DUCKDB_MEMORY_LIMIT", "268435456", "256.0 MiB"),  # bytes, no unit
        ("BUCKETPIPE_DUCKDB_MEMORY_LIMIT", "640MB", "610.3 MiB"),  # DuckDB's own, kept
        ("BUCKETPIPE_DUCKDB_MAX_TEMP_SIZE", "384Mi", "384.0 MiB"),
        ("BUCKETPIPE_SQL_MAX_TEMP_SIZE", "2Gi", "2.0 GiB"),
    ],
)
def test_duckdb_sizes_take_the_units_a_pod_spec_uses(
    monkeypatch: pytest.MonkeyPatch, name: str, given: str, duckdb_reads: str
) -> None:
    """`512Mi` is how a Kubernetes manifest writes memory; DuckDB refuses it (`Unknown unit
    for memory: 'mi'`), which made every clean fail with an unexpected parser error."""
    import duckdb

    monkeypatch.setenv(name, given)
    value = getattr(load_settings(), all_env_names()[name])
    setting = {
        "BUCKETPIPE_DUCKDB_MEMORY_LIMIT": "memory_limit",
        "BUCKETPIPE_DUCKDB_MAX_TEMP_SIZE": "max_temp_directory_size",
        "BUCKETPIPE_SQL_MAX_TEMP_SIZE": "max_temp_directory_size",
    }[name]
    con = duckdb.connect()
    con.execute(f"SET {setting} = '{value}'")
    assert con.execute(f"SELECT current_setting('{setting}')").fetchone() == (duckdb_reads,)


@pytest.mark.parametrize("given", ["0", "0MiB", "-5MB", "abc", "1GB'; SELECT 1; --", "1 GBB"])
def test_a_size_that_is_not_one_stops_the_command_at_once(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("BUCKETPIPE_DUCKDB_MEMORY_LIMIT", given)
    with pytest.raises(ConfigError, match=r"^BUCKETPIPE_DUCKDB_MEMORY_LIMIT: ") as info:
        load_settings()
    assert "\n" not in str(info.value)


def test_threads_past_what_a_machine_has_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """100,000 threads made the SQL worker fail to start with no word of why."""
    monkeypatch.setenv("BUCKETPIPE_DUCKDB_THREADS", "100000")
    with pytest.raises(ConfigError, match=r"^BUCKETPIPE_DUCKDB_THREADS: .*1024"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("AWS_ENDPOINT_URL", "http://user:hunter2pw@127.0.0.1:9000"),
        ("AWS_ENDPOINT_URL", "https://a3s.fi/?X-Amz-Credential=hunter2pw"),
        ("AWS_ENDPOINT_URL", "a3s.fi#hunter2pw"),
        ("AWS_ENDPOINT_URL", "ftp://a3s.fi"),
        ("AWS_ENDPOINT_URL", "https://"),
        ("BUCKETPIPE_SOURCE_ENDPOINT_URL", "https://key:hunter2pw@s3.example.org"),
        ("BUCKETPIPE_FINNHUB_URL", "https://finnhub.io/api/v1?token=hunter2pw"),
        ("BUCKETPIPE_FINNHUB_URL", "https://me:hunter2pw@finnhub.io/api/v1"),
        ("BUCKETPIPE_FINNHUB_URL", "finnhub.io/api/v1"),
        ("BUCKETPIPE_LAKE", "s3://key:hunter2pw@bucket/prefix"),
        ("BUCKETPIPE_SOURCE", "s3://key:hunter2pw@bucket/prefix"),
    ],
)
def test_an_address_cannot_carry_a_secret_and_the_refusal_does_not_repeat_it(
    monkeypatch: pytest.MonkeyPatch, name: str, given: str
) -> None:
    """Addresses are printed (errors, `bucketpipe config`, run manifests); keys belong in
    their own settings, which are masked. The refusal names the setting, not its value."""
    monkeypatch.setenv(name, given)
    with pytest.raises(ConfigError, match=rf"^{name}: ") as info:
        load_settings()
    assert "hunter2pw" not in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("AWS_ENDPOINT_URL", "https://a3s.fi"),
        ("AWS_ENDPOINT_URL", "a3s.fi"),  # boto3 and DuckDB take a bare host as https
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
        ("BUCKETPIPE_SOURCE_ENDPOINT_URL", "https://s3.example.org:8443"),
        ("BUCKETPIPE_FINNHUB_URL", "http://127.0.0.1:8080/api/v1"),
    ],
)
def test_plain_addresses_are_kept_as_given(
    monkeypatch: pytest.MonkeyPatch, name: str, given: str
) -> None:
    monkeypatch.setenv(name, given)
    assert getattr(load_settings(), all_env_names()[name]) == given


def test_a_password_inside_an_address_is_masked_wherever_it_is_logged() -> None:
    """The next layer: a password that reached an address anyway (a Redis URL may carry one;
    a settings object built without validation) is registered as a secret, so a log line or
    run manifest that repeats the address masks it."""
    from bucketpipe.config.logs import mask

    settings = Settings.model_construct(
        **{
            **Settings().model_dump(),
            "redis_url": "redis://:redispw123@redis:6379/0",
            "aws_endpoint_url": "http://key:endpointpw456@127.0.0.1:9",
        }
    )
    secrets = set(settings.secret_values())
    assert {"redispw123", "endpointpw456"} <= secrets
    from bucketpipe.config.logs import register_secrets

    register_secrets(secrets)
    line = mask("cannot reach http://key:endpointpw456@127.0.0.1:9 or redis://:redispw123@redis")
    assert "endpointpw456" not in line and "redispw123" not in line
    shown = str(settings.redacted())
    assert "endpointpw456" not in shown and "redispw123" not in shown


@pytest.mark.parametrize(
    "symbols", ["A'B", "A B", "ÄÖ", "AAPL/../../X", "?TOKEN=X", "A" * 41, "<SCRIPT>", "AAPL,;DROP"]
)
def test_a_symbol_is_a_ticker_or_the_command_stops(
    monkeypatch: pytest.MonkeyPatch, symbols: str
) -> None:
    """Symbols reach API queries, Redis keys, file names of runs and every page; a value that
    no exchange uses is a mistake or an attack, refused where it is given."""
    monkeypatch.setenv("BUCKETPIPE_SYMBOLS", symbols)
    with pytest.raises(ConfigError, match=r"^BUCKETPIPE_SYMBOLS: .* is not a ticker symbol"):
        load_settings()


def test_tickers_of_every_kind_finnhub_serves_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    given = "AAPL,brk.b,BINANCE:BTCUSDT,OANDA:EUR_USD,^GSPC,BF-B,7203.T,ES=F"
    monkeypatch.setenv("BUCKETPIPE_SYMBOLS", given)
    assert load_settings().symbols == given.upper().split(",")


def test_the_readers_register_the_keys_and_address_passwords_not_a_persons_password() -> None:
    """The SQL page withholds a result showing a registered value: the dashboard's password,
    chosen by a person, may be a word the data holds (`demo` is in every demo run id)."""
    from bucketpipe.config.logs import registered_secrets
    from bucketpipe.serve.queries.session import reader_settings

    settings = Settings(
        dashboard_password="quotes-pw-4417",
        aws_secret_access_key="writer-secret-4417",
        redis_url="redis://:redis-url-pw-4417@redis:6379/0",
    )
    reader_settings(settings)
    registered = registered_secrets()
    assert {"writer-secret-4417", "redis-url-pw-4417"} <= registered
    assert "quotes-pw-4417" not in registered
