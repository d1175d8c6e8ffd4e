"""The source mapping: glob rules, skips, the default dataset, YAML errors."""

from __future__ import annotations

import pytest

from bucketpipe.config.errors import ConfigError
from bucketpipe.ingest.bucket.mapping import (
    Mapping,
    default_dataset,
    glob_regex,
    ignored,
    parse_mapping,
)

YAML = """
rules:
  - pattern: "tmp/**"
    skip: true
  - pattern: "exports/*/orders_*.csv"
    dataset: orders
    delimiter: tab
    encoding: cp1252
  - pattern: "**/*.xlsx"
    dataset: workbooks
    sheet: [Data]
unmatched: default
"""


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("*.csv", "a.csv", True),
        ("*.csv", "dir/a.csv", False),
        ("**/*.csv", "a.csv", True),
        ("**/*.csv", "x/y/a.csv", True),
        ("sales/**", "sales/2024/jan.csv", True),
        ("sales/?.csv", "sales/a.csv", True),
        ("sales/?.csv", "sales/ab.csv", False),
        ("a.b.csv", "aXb.csv", False),
    ],
)
def test_glob(pattern: str, key: str, matches: bool) -> None:
    assert (glob_regex(pattern).fullmatch(key) is not None) is matches


def test_rules_first_match_wins_with_options() -> None:
    mapping = parse_mapping(YAML)
    orders = mapping.target("exports/eu/orders_2024.csv")
    assert orders is not None
    assert (orders.dataset, orders.options) == ("orders", {"delimiter": "\t", "encoding": "cp1252"})
    assert mapping.target("tmp/scratch.csv") is None
    book = mapping.target("finance/q1/budget.xlsx")
    assert book is not None and book.options == {"sheets": ["Data"]}


def test_unmatched_objects_get_the_default_dataset() -> None:
    target = parse_mapping(YAML).target("Web Visits/2024-01.csv")
    assert target is not None and target.dataset == "web_visits" and target.rule is None


def test_unmatched_can_be_skipped() -> None:
    assert parse_mapping("unmatched: skip\nrules: []").target("x.csv") is None


@pytest.mark.parametrize(
    ("key", "expected"),
    [("Sales/jan.csv", "sales"), ("customers.csv.gz", "customers"), ("2024/q1/a.csv", "data_2024")],
)
def test_default_dataset(key: str, expected: str) -> None:
    assert default_dataset(key) == expected


@pytest.mark.parametrize(
    ("key", "skip"),
    [
        ("a/", True),
        (".DS_Store", True),
        ("x/_SUCCESS", True),
        ("x/.hidden/a.csv", True),
        ("a.csv", False),
    ],
)
def test_ignored(key: str, skip: bool) -> None:
    assert ignored(key) is skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{dataset: x}]", "needs a `pattern`"),
        ("rules: [{pattern: '*', dataset: 'Bad Name'}]", "invalid dataset name"),
        ("rules: [{pattern: '*', colour: red}]", "unknown option 'colour'"),
        ("rules: [{pattern: '*', delimiter: ';;'}]", "one character"),
        ("unmatched: maybe", "unmatched must be"),
        ("rules: [", "not valid YAML"),
    ],
)
def test_mapping_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_mapping(text, "mapping.yaml")


def test_empty_mapping_is_the_default() -> None:
    assert parse_mapping("") == Mapping()


def test_the_documented_mapping_example() -> None:
    from pathlib import Path

    from bucketpipe.ingest.bucket.mapping import load_mapping

    path = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mapping.yaml"
    mapping = load_mapping(str(path))
    orders = mapping.target("exports/eu/orders_2024-01.txt")
    assert orders is not None and orders.options["encoding"] == "cp1252"
    assert mapping.target("tmp/x.csv") is None
    sensors = mapping.target("sensors/a/b.tsv")
    assert sensors is not None and sensors.options == {"delimiter": "\t", "header": False}


def test_a_file_that_is_not_a_mapping_file_is_refused_without_quoting_it() -> None:
    """`/etc/shadow` parses as YAML (a dict of `root:*:...` keys) and was taken as an empty
    mapping: every file went to its default dataset."""
    with pytest.raises(ConfigError, match="a top-level key that is") as info:
        parse_mapping("root:*:20228:0:99999:7:::\nbin:*:20228:0:99999:7:::", "/etc/shadow")
    assert "20228" not in str(info.value)
    with pytest.raises(ConfigError, match="unknown top-level key 'rule'"):
        parse_mapping("rule: [{pattern: '*', skip: true}]", "mapping.yaml")
    assert parse_mapping("rules: []\ndatasets: {a: {key: [id]}}") == Mapping()


def test_the_mapping_file_is_read_with_a_bound() -> None:
    from bucketpipe.ingest.bucket.mapping import load_mapping

    with pytest.raises(ConfigError, match=r"BUCKETPIPE_SOURCE_MAPPING: .* larger than 1 MiB"):
        load_mapping("/dev/zero")
