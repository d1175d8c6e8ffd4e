"""Rules for generic datasets (files of unknown schema): keys, types, cleaning, from YAML."""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.files import read_config_file
from bucketpipe.lake.names import snake_case

SqlType = Literal["VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP", "TIMESTAMPTZ"]
SQL_TYPES: tuple[str, ...] = (
    "VARCHAR",
    "BIGINT",
    "DOUBLE",
    "BOOLEAN",
    "DATE",
    "TIMESTAMP",
    "TIMESTAMPTZ",
)

DEFAULT_NULL_TOKENS = (
    "",
    "na",
    "n/a",
    "n.a.",
    "nan",
    "null",
    "nil",
    "none",
    "-",
    "--",
    "?",
    "#n/a",
    "#null!",
    "missing",
    "undefined",
)
DEFAULT_DATE_FORMATS = ("%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d-%m-%Y")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutlierRules(_Strict):
    """How numeric outliers are found and what is done with them."""

    method: Literal["both", "either", "iqr", "zscore", "none"] = Field(
        "both",
        description="`both`: outside the IQR fences and above the robust z threshold; "
        "`either`: one of them; `iqr` / `zscore` alone; `none`: no detection.",
    )
    iqr_k: float = Field(1.5, gt=0, description="Fences at Q1 - k*IQR and Q3 + k*IQR.")
    z_threshold: float = Field(
        3.5, gt=0, description="Robust z-score limit: 0.6745 * |x - median| / MAD."
    )
    action: Literal["flag", "clip", "drop", "empty", "auto"] = Field(
        "flag",
        description="`flag` (list the column in `_outlier_columns`), `clip` to the fences, "
        "`drop` (to quarantine), `empty` the value, or `auto`: drop when rare, clip otherwise.",
    )
    rare_share: float = Field(0.01, ge=0, le=1, description="`auto`: 'rare' is at most this.")
    min_rows: int = Field(20, ge=4, description="Columns with fewer values are not tested.")
    exclude: tuple[str, ...] = Field((), description="Columns never tested.")


class MissingRules(_Strict):
    """Missing values: empty columns and imputation (off by default: nothing is invented)."""

    drop_columns_over: float = Field(
        1.0,
        gt=0,
        le=1,
        description="A column not yet in the dataset whose share of empty values is at least "
        "this is dropped (1.0: only entirely empty columns; 0.9 was the predecessors' rule).",
    )
    numeric: Literal["none", "median", "mean", "zero"] = "none"
    text: str | None = Field(None, description="Value for empty text cells, e.g. `unknown`.")
    ffill_by: tuple[str, ...] = Field(
        (), description="Forward- then back-fill `ffill_columns` within groups of these columns."
    )
    ffill_order: str | None = Field(None, description="Column ordering rows inside a group.")
    ffill_columns: tuple[str, ...] = ()


class DatasetRules(_Strict):
    """Cleaning rules of one dataset (every field optional: defaults apply)."""

    key: tuple[str, ...] = Field((), description="Columns identifying a row (dedup by key).")
    on_conflict: Literal["keep", "latest"] = Field(
        "latest", description="A row whose key exists: `latest` replaces it, `keep` drops it."
    )
    time_column: str | None = Field(
        None, description="DATE/TIMESTAMP column partitioning the data (default: landing day)."
    )
    types: dict[str, SqlType] = Field(default_factory=dict, description="Pinned column types.")
    null_tokens: tuple[str, ...] = DEFAULT_NULL_TOKENS
    infer_share: float = Field(
        0.9, gt=0, le=1, description="Share of non-empty values that must parse for a type."
    )
    on_invalid: Literal["quarantine", "empty"] = Field(
        "quarantine",
        description="A value that does not parse as its column's type: quarantine the row, or "
        "keep the row with NULL and list the column in `_invalid_columns`.",
    )
    short_rows: Literal["quarantine", "pad"] = Field(
        "quarantine",
        description="A CSV line with fewer fields than the others: quarantine it, or `pad` "
        "the missing trailing fields with empty values.",
    )
    widen: bool = Field(
        True, description="Allow BIGINT -> DOUBLE and DATE -> TIMESTAMP when data needs it."
    )
    decimal: Literal["auto", ".", ","] = Field(
        "auto", description="Decimal separator; `auto` detects a decimal comma per column."
    )
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    true_tokens: tuple[str, ...] = ("true", "yes", "y", "t", "on")
    false_tokens: tuple[str, ...] = ("false", "no", "n", "f", "off")
    dedup: bool = Field(True, description="Remove exact duplicate rows.")
    outliers: OutlierRules = OutlierRules()
    missing: MissingRules = MissingRules()

    @field_validator("key", "time_column", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            return snake_case(value)
        if isinstance(value, list | tuple):
            return tuple(snake_case(str(v)) for v in value)
        return value

    @field_validator("types", mode="before")
    @classmethod
    def _type_names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {snake_case(str(k)): str(v).upper() for k, v in value.items()}
        return value

    @field_validator("null_tokens", "true_tokens", "false_tokens", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(str(v).strip().lower() for v in value)
        return value


class CleanConfig(_Strict):
    """The whole file: `defaults` for every dataset, `datasets` overriding per dataset."""

    defaults: dict[str, Any] = Field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def rules(self, dataset: str) -> DatasetRules:
        """The dataset's rules: its own section over `defaults` over built-in defaults."""
        merged = _deep_merge(self.defaults, self.datasets.get(dataset, {}))
        try:
            return DatasetRules.model_validate(merged)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"clean config, dataset {dataset}: {where}: {first['msg']}") from None


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# The sections of the two files: a source mapping may also hold a clean config's `datasets`.
SECTIONS = ("defaults", "datasets", "rules", "unmatched")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,39}$")


def check_sections(data: dict[Any, Any], origin: str) -> None:
    """Refuse a top-level key neither file has (a misspelt section, or another file): an
    ignored section silently drops its rules. A key that is not a plain word is not quoted
    (the setting may name any file, `/etc/shadow` parses as YAML)."""
    for key in data:
        if key not in SECTIONS:
            shown = repr(key) if isinstance(key, str) and _PLAIN_KEY.match(key) else None
            what = f"unknown top-level key {shown}" if shown else "a top-level key that is not"
            raise ConfigError(
                f"{origin}: {what} one of {', '.join(SECTIONS)} (a source mapping has `rules` "
                "and `unmatched`, a clean config `defaults` and `datasets`)"
            )


def parse_config(text: str, origin: str = "clean config") -> CleanConfig:
    """A `CleanConfig` from YAML text; `ConfigError` with the offending field otherwise."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping with `defaults` and `datasets`")
    check_sections(data, origin)
    data = {k: v for k, v in data.items() if k in ("defaults", "datasets")}
    try:
        config = CleanConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{origin}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    for name in config.datasets:
        config.rules(name)  # validate every section now, not at the first file
    config.rules("_defaults_check")
    return config


def load_config(path: str | None, mapping_path: str | None = None) -> CleanConfig:
    """The clean config file, plus a `datasets:` section embedded in the source mapping file.

    One dataset configured in both files is an error: each option lives in one place.
    """
    config = CleanConfig()
    if path:
        config = parse_config(_read(path, "BUCKETPIPE_CLEAN_CONFIG"), path)
    if mapping_path:
        embedded = parse_config(_read(mapping_path, "BUCKETPIPE_SOURCE_MAPPING"), mapping_path)
        both = sorted(set(config.datasets) & set(embedded.datasets))
        if both:
            raise ConfigError(
                f"dataset {both[0]} is configured in both {path} and {mapping_path}; "
                "keep its rules in one file"
            )
        config = CleanConfig(
            defaults=config.defaults, datasets={**config.datasets, **embedded.datasets}
        )
    return config


def _read(path: str, setting: str) -> str:
    return read_config_file(path, setting)
