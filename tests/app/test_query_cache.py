"""The dashboard's query cache: one result per data version shared by a process's sessions,
each session getting a copy it may change without changing what the others see."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import pytest
import streamlit as st

from bucketpipe.app import state
from bucketpipe.serve.queries import market, stock
from tests.app.conftest import DemoLake


@pytest.fixture
def lake_env(demo_lake: DemoLake, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in demo_lake.env.items():
        monkeypatch.setenv(name, value)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def test_a_session_changing_its_result_leaves_the_others_unchanged(lake_env: None) -> None:
    first = state.query(market.latest_quotes)
    assert len(first) > 0 and "symbol" in first.columns
    expected = first.copy(deep=True)
    # What a page might do with a frame it got: a new column, values set in place.
    first["extra"] = 1
    first.loc[first.index[0], "symbol"] = "CHANGED"
    first.iloc[0, first.columns.get_loc("extra")] = 2
    second = state.query(market.latest_quotes)
    assert second is not first
    pd.testing.assert_frame_equal(second, expected)


def test_a_hit_runs_no_query(lake_env: None) -> None:
    calls: list[str] = []

    def counted(cursor: Any, symbol: str) -> Any:
        calls.append(symbol)
        return stock.day_bounds(cursor, symbol)

    symbol = state.query(stock.symbols)[0]
    datasets = state.datasets_of(stock.day_bounds)
    first = state.query(counted, symbol, datasets=datasets)
    again = state.query(counted, symbol, datasets=datasets)
    assert first == again and first is not None and calls == [symbol]


@dataclass(frozen=True)
class Holder:
    frame: pd.DataFrame
    values: list[int]
    day: date


def test_detached_copies_what_a_session_could_change_and_shares_the_rest() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3]})
    shared = {"holder": Holder(frame, [1, 2], date(2026, 1, 1)), "pair": (frame, "text")}
    mine = state._detached(shared)
    assert mine is not shared and mine["holder"] is not shared["holder"]
    mine["holder"].frame.loc[0, "x"] = 100
    mine["holder"].values.append(3)
    mine["pair"][0]["y"] = 0
    mine["extra"] = True
    assert frame["x"].tolist() == [1, 2, 3] and list(frame.columns) == ["x"]
    assert shared["holder"].values == [1, 2] and set(shared) == {"holder", "pair"}
    assert mine["holder"].day is shared["holder"].day  # immutable: shared as it is
    assert mine["pair"][1] is shared["pair"][1]
