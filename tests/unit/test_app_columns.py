"""Table columns get human labels, units and formats (no server)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from bucketpipe.app import columns


def test_labels_units_and_formats() -> None:
    table = pd.DataFrame(
        {
            "ex_date": [date(2026, 3, 2)],
            "amount": [0.25],
            "revenue": [1.5e9],
            "surprise_pct": [3.2],
            "year": [2026],
            "filed_date": [pd.Timestamp("2026-02-01 12:00", tz="UTC")],
            "volatility_20": [0.0123],
        }
    )
    config = columns.config(table)
    assert {name: c["label"] for name, c in config.items()} == {
        "ex_date": "Ex-dividend date",
        "amount": "Amount",
        "revenue": "Revenue",
        "surprise_pct": "Surprise %",
        "year": "Year",
        "filed_date": "Filed",
        "volatility_20": "Volatility 20 d %",
    }
    assert config["ex_date"]["type_config"]["format"] == "YYYY-MM-DD"
    assert config["revenue"]["type_config"]["format"] == "compact"
    assert config["year"]["type_config"]["format"] == "%d"
    assert columns.frame(table)["volatility_20"].iloc[0] == 1.23
