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
