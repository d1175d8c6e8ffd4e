"""Which dataset a source object feeds, and how to read it: glob rules from YAML, else a default.

Default: the object's top folder (below the source prefix), else its file name without
extensions, normalised to a dataset name: `Sales 2024/jan.csv` -> `sales_2024`,
`customers.xlsx` -> `customers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from bucketpipe.catalog.rules import check_sections
from bucketpipe.config.errors import ConfigError
from bucketpipe.config.files import read_config_file
from bucketpipe.formats.detect import READ_OPTION_NAMES
from bucketpipe.lake.layout import check_name
from bucketpipe.lake.names import dataset_name


@dataclass(frozen=True)
class Rule:
    """Objects whose key matches `pattern` feed `dataset` (or are skipped) with these options."""

    pattern: str
    dataset: str | None = None
    skip: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def matches(self, key: str) -> bool:
        return glob_regex(self.pattern).fullmatch(key) is not None


@dataclass(frozen=True)
class Target:
    """Where one object goes: its dataset and the read options of the rule that chose it."""

    dataset: str
    options: dict[str, Any]
    rule: str | None


@dataclass(frozen=True)
class Mapping:
    """Ordered rules; the first match wins. Unmatched objects get the default dataset."""

    rules: tuple[Rule, ...] = ()
    unmatched: str = "default"

    def target(self, key: str) -> Target | None:
        """Where `key` (relative to the source prefix) goes, or None to skip it."""
        for rule in self.rules:
            if rule.matches(key):
                if rule.skip:
                    return None
                return Target(
                    rule.dataset or default_dataset(key), dict(rule.options), rule.pattern
                )
        if self.unmatched == "skip":
            return None
        return Target(default_dataset(key), {}, None)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex: `*` and `?` stay inside one folder, `**` crosses folders."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def default_dataset(key: str) -> str:
    """The top folder of the key, else the file name without extensions."""
    parts = [p for p in key.split("/") if p]
    if len(parts) > 1:
        return dataset_name(parts[0])
    stem = parts[-1].split(".", 1)[0] if parts else ""
    return dataset_name(stem)


def ignored(key: str) -> bool:
    """Folder markers and hidden or underscore names (`.DS_Store`, `_SUCCESS`) are not data."""
    if not key or key.endswith("/"):
        return True
    return any(part.startswith((".", "_")) for part in key.split("/"))


def parse_mapping(text: str, origin: str = "source mapping") -> Mapping:
    """A `Mapping` from YAML: `rules: [{pattern, dataset | skip, <read options>}]`."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping with a `rules` list")
    check_sections(data, origin)
    unmatched = str(data.get("unmatched", "default"))
    if unmatched not in ("default", "skip"):
        raise ConfigError(f"{origin}: unmatched must be `default` or `skip`")
    rules = []
    for index, item in enumerate(data.get("rules") or []):
        rules.append(_rule(item, f"{origin}: rules[{index}]"))
    return Mapping(rules=tuple(rules), unmatched=unmatched)


def _rule(item: Any, where: str) -> Rule:
    if not isinstance(item, dict) or not isinstance(item.get("pattern"), str):
        raise ConfigError(f"{where}: needs a `pattern` (a glob such as `sales/**/*.csv`)")
    unknown = set(item) - {"pattern", "dataset", "skip", *READ_OPTION_NAMES, "sheet"}
    if unknown:
        raise ConfigError(f"{where}: unknown option {sorted(unknown)[0]!r}")
    dataset = item.get("dataset")
    if dataset is not None:
        try:
            check_name(str(dataset))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    options = {k: item[k] for k in READ_OPTION_NAMES if k in item}
    if "sheet" in item:
        options["sheets"] = item["sheet"]
    if "delimiter" in options:
        options["delimiter"] = {"tab": "\t", "\\t": "\t"}.get(
            str(options["delimiter"]), str(options["delimiter"])
        )
        if len(options["delimiter"]) != 1:
            raise ConfigError(f"{where}: delimiter must be one character (or `tab`)")
    return Rule(
        pattern=item["pattern"].lstrip("/"),
        dataset=str(dataset) if dataset else None,
        skip=bool(item.get("skip", False)),
        options=options,
    )


def load_mapping(path: str | None) -> Mapping:
    """The mapping file named by `BUCKETPIPE_SOURCE_MAPPING`, or the default mapping."""
    if not path:
        return Mapping()
    return parse_mapping(read_config_file(path, "BUCKETPIPE_SOURCE_MAPPING"), path)
