"""Column and dataset names: snake_case, accents dropped, unique."""

from __future__ import annotations

import pytest

from bucketpipe.lake.names import dataset_name, snake_case, unique_names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Order ID", "order_id"),
        ("firstName", "first_name"),
        ("HTTPStatusCode", "http_status_code"),
        ("Määrä (€)", "maara"),
        ("  Unit-Price  ", "unit_price"),
        ("Growth %", "growth_pct"),
        ("# of items", "no_of_items"),
        ("2024 total", "c_2024_total"),
        ("__private", "private"),
        ("!!!", "column"),
        ("x" * 80, "x" * 63),
    ],
)
def test_snake_case(raw: str, expected: str) -> None:
    assert snake_case(raw) == expected


def test_unique_names_number_repeats_and_fill_blanks() -> None:
    assert unique_names(["Name", "name", "NAME", "", "Amount"]) == [
        "name",
        "name_2",
        "name_3",
        "column_4",
        "amount",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Sales 2024", "sales_2024"), ("2024", "data_2024"), ("Kävijät", "kavijat"), ("", "files")],
)
def test_dataset_name(raw: str, expected: str) -> None:
    assert dataset_name(raw) == expected
