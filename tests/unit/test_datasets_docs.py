"""docs/datasets.md describes the catalog as it is (regenerate with `python -m
bucketpipe.catalog.docs docs/datasets.md`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bucketpipe import catalog
from bucketpipe.catalog import docs

DOC = Path(__file__).parents[2] / "docs" / "datasets.md"


def test_the_dataset_reference_is_in_step_with_the_catalog() -> None:
    text = DOC.read_text()
    assert docs.replace_reference(text) == text, (
        "docs/datasets.md is out of date: run python -m bucketpipe.catalog.docs docs/datasets.md"
    )


def test_every_dataset_and_column_is_documented() -> None:
    text = DOC.read_text()
    for spec in catalog.specs():
        assert f"### `{spec.name}`" in text
        assert spec.description
        for column in spec.columns:
            assert column.description, f"{spec.name}.{column.name} has no description"
            assert f"| `{column.name}` |" in docs.dataset_section(spec)


def test_a_section_states_key_partitions_policy_and_rules() -> None:
    section = docs.dataset_section(catalog.get("candles"))
    assert "Key: `symbol`, `resolution`, `ts`" in section
    assert "one per month (`dt` = its first day) of `ts`" in section
    assert "On conflict: latest" in section
    assert "| high below low | `high < low` |" in section
    assert "premium" in section
    derived = docs.dataset_section(catalog.get("daily_indicators"))
    assert "Derived after each clean run from `daily_bars`." in derived


def test_missing_markers_are_an_error() -> None:
    with pytest.raises(ValueError, match="markers"):
        docs.replace_reference("# no markers here\n")
