"""The clean config: defaults, per-dataset sections, validation, one place per dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from bucketpipe.catalog.rules import DatasetRules, load_config, parse_config
from bucketpipe.config.errors import ConfigError


def test_built_in_defaults() -> None:
    rules = parse_config("").rules("anything")
    assert rules == DatasetRules()
    assert rules.infer_share == 0.9 and rules.on_invalid == "quarantine"
    assert rules.outliers.action == "flag" and rules.missing.drop_columns_over == 1.0
    assert "n/a" in rules.null_tokens


def test_dataset_section_over_defaults_deeply() -> None:
    config = parse_config(
        """
defaults:
  infer_share: 0.8
  outliers: {method: iqr, iqr_k: 3}
datasets:
  sales:
    key: [Order ID]
    time_column: Order Date
    types: {Zip Code: varchar}
    outliers: {action: clip}
"""
    )
    sales = config.rules("sales")
    assert sales.key == ("order_id",)
    assert sales.time_column == "order_date"
    assert sales.types == {"zip_code": "VARCHAR"}
    assert (sales.outliers.method, sales.outliers.iqr_k, sales.outliers.action) == (
        "iqr",
        3.0,
        "clip",
    )
    assert config.rules("other").infer_share == 0.8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("datasets: {s: {infer_share: 2}}", r"dataset s: infer_share"),
        ("datasets: {s: {types: {a: INT128}}}", "types"),
        ("defaults: {outliers: {action: explode}}", "outliers.action"),
        ("datasets: {s: {colour: red}}", "colour"),
        ("- a list", "expected a mapping"),
    ],
)
def test_invalid_config_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_mapping_file_may_hold_dataset_rules(tmp_path: Path) -> None:
    clean = tmp_path / "clean.yaml"
    clean.write_text("datasets: {a: {key: [id]}}")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("rules: []\ndatasets: {b: {key: [code]}}")
    config = load_config(str(clean), str(mapping))
    assert config.rules("a").key == ("id",) and config.rules("b").key == ("code",)


def test_one_dataset_in_both_files_is_refused(tmp_path: Path) -> None:
    clean = tmp_path / "clean.yaml"
    clean.write_text("datasets: {a: {key: [id]}}")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("datasets: {a: {key: [code]}}")
    with pytest.raises(ConfigError, match="configured in both"):
        load_config(str(clean), str(mapping))


def test_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BUCKETPIPE_CLEAN_CONFIG: cannot read"):
        load_config(str(tmp_path / "nope.yaml"))


def test_the_documented_examples_load_together() -> None:
    root = Path(__file__).resolve().parents[2] / "docs" / "examples"
    config = load_config(str(root / "clean.yaml"), str(root / "mapping.yaml"))
    assert config.rules("orders").key == ("order_id",)
    assert config.rules("budgets").key == ("account", "month")
    assert config.rules("prices").missing.ffill_columns == ("price",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dataset: {orders: {key: [id]}}", "unknown top-level key 'dataset'"),  # a typo
        # Any other file (here /etc/shadow's shape): refused without repeating its text.
        ("root:*:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::", "a top-level key that is"),
    ],
)
def test_a_key_the_config_does_not_know_is_refused_not_ignored(text: str, message: str) -> None:
    """A misspelt section was ignored, and with it every rule in it."""
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(text, "clean.yaml")
    assert "20228" not in str(info.value)


@pytest.mark.parametrize("setting", ["clean", "mapping"])
def test_a_config_file_is_read_with_a_bound(tmp_path: Path, setting: str) -> None:
    """`/dev/zero` as the clean config or mapping held the command reading until the kernel
    killed it for memory."""
    paths = ("/dev/zero", None) if setting == "clean" else (None, "/dev/zero")
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        load_config(*paths)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20))
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        load_config(str(big))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(str(binary))
