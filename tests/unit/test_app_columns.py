"""Table columns get human labels, units and formats (no server)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from bucketpipe.app import columns


def test_labels_units_and_formats() -> None:
    table = pd.DataFrame(
        {
            "ex_date": [date(2026, 3, 2)],
            "amount": [0.25],
            "revenue": [1.5e9],
            "surprise_pct": [3.2],
            "surprise": [-0.0041],
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
        "surprise": "Surprise",
        "year": "Year",
        "filed_date": "Filed",
        "volatility_20": "Volatility 20 d %",
    }
    assert config["ex_date"]["type_config"]["format"] == "YYYY-MM-DD"
    assert config["revenue"]["type_config"]["format"] == "compact"
    assert config["year"]["type_config"]["format"] == "%d"
    assert config["surprise"]["type_config"]["format"] == "%+.4f"  # -0.0041, not -0.00
    assert config["filed_date"]["type_config"]["format"] == "YYYY-MM-DD HH:mm z"  # UTC
    # Indicators read to the decimals of their tiles, whatever decimals they were computed to.
    shown = columns.config(pd.DataFrame({"rsi_14": [61.1505], "sma_50": [180.7286], "macd": [0.8]}))
    assert [c["type_config"]["format"] for c in shown.values()] == ["%.1f", "%.2f", "%.3f"]
    # A quote's price change is small: every digit (4.07, not 4.1); shares changed read 1.2 M.
    quote = columns.config(pd.DataFrame({"change": [4.07, -1.36]}))["change"]
    assert quote["type_config"]["format"] == "%.2f"
    insider = columns.config(pd.DataFrame({"change": [-1_234_000, 500]}))["change"]
    assert insider["type_config"]["format"] == "compact"
    naive = columns.config(pd.DataFrame({"measured_at": [pd.Timestamp("2026-02-01 12:00")]}))
    assert naive["measured_at"]["type_config"]["format"] == "YYYY-MM-DD HH:mm"
    assert columns.frame(table)["volatility_20"].iloc[0] == 1.23


def test_a_level_is_unsigned_and_a_float_keeps_the_digits_it_has() -> None:
    table = pd.DataFrame(
        {
            "humidity_pct": [68.6, 70.1],  # a level: 68.60 %, not +68.60 %
            "change_pct": [1.2, -0.5],
            "week52_return_pct": [12.0, 3.0],
            "price": [101.25, 99.5],
            "battery_v": [3.355, 3.337],  # not 3.35 and 3.34
            "mean": [3.48512345, 3.4969],
        }
    )
    formats = {name: c["type_config"]["format"] for name, c in columns.config(table).items()}
    assert formats == {
        "humidity_pct": "%.2f %%",
        "change_pct": "%+.2f %%",
        "week52_return_pct": "%+.2f %%",
        "price": "%.2f",
        "battery_v": "%.3f",
        "mean": "%.4f",
    }
    assert columns.decimals(pd.Series([float("nan"), float("inf"), 1.5])) == 2


def test_unknown_columns_get_a_readable_label() -> None:
    assert columns.label("sma_5") == "SMA 5"  # a known label
    assert columns.label("measured_at") == "Measured at"
    assert columns.label("humidity_pct") == "Humidity %"
    assert columns.label("user_id") == "User ID"
    assert columns.label("eps_estimate") == "EPS estimate"
    assert columns.label("duration_s") == "Duration (s)"
    assert columns.label("pressure_h_pa") == "Pressure hPa"  # from a `Pressure hPa` header
    assert columns.label("energy_k_wh") == "Energy kWh"
    # Inside a sentence a plain label starts in lower case, an acronym keeps its capitals.
    assert columns.phrase("daily_return") == "daily return %"
    assert columns.phrase("sma_5") == "SMA 5"
    assert columns.measure(None, "mean") == "rows"
    assert columns.measure("volatility_20", "max") == "max of volatility 20 d %"


def test_the_summary_table_reads_in_units_under_labels() -> None:
    stats = pd.DataFrame(
        {
            "column": ["daily_return", "symbol"],
            "type": ["DOUBLE", "VARCHAR"],
            "min": ["-0.0321", "AAPL"],
            "max": ["0.045", "TSLA"],
            "mean": ["0.0012", None],
            "distinct": [250, 3],
            "distinct_exact": [True, True],
        }
    )
    table = columns.profile_table(stats).set_index("column")
    assert table.loc["daily_return", "label"] == "Daily return %"
    # A fraction is shown in the % its label names; a figure a column has not, as a dash.
    assert (table.loc["daily_return", "min"], table.loc["daily_return", "max"]) == ("-3.21", "4.5")
    assert table.loc["symbol", "mean"] == "\u2013"
    config = columns.profile_config()
    assert {k: config[k]["label"] for k in ("label", "column", "p25", "null_pct")} == {
        "label": "Column",
        "column": "Name in SQL",
        "p25": "25th percentile",
        "null_pct": "Missing %",
    }


def test_the_summary_table_writes_times_as_the_page_does() -> None:
    """SUMMARIZE's text of times reads as every other time on the page: a zoned time in UTC,
    minutes always, seconds only when the value has them; a midnight is a time, not a date."""
    stats = pd.DataFrame(
        {
            "column": ["measured_at", "ts", "day"],
            "type": ["TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "DATE"],
            "min": ["2026-11-01 00:00:00", "2026-11-17 14:30:00+00", "2026-11-01"],
            "max": ["2026-11-20 18:00:00", "2026-11-20 21:00:05.25+00", "2026-11-20"],
            "p25": ["2026-11-05 06:00:00", "\u2248 2026-11-18 10:15:00+00", "2026-11-05"],
            "mean": ["2026-11-10 09:00:00", "2026-11-19 01:02:03+00", None],
            "distinct": [80, 378, 20],
            "distinct_exact": [True, True, True],
        }
    )
    table = columns.profile_table(stats).set_index("column")
    assert table.loc["measured_at", ["min", "max", "p25", "mean"]].tolist() == [
        "2026-11-01 00:00",
        "2026-11-20 18:00",
        "2026-11-05 06:00",
        "2026-11-10 09:00",
    ]
    assert table.loc["ts", ["min", "max", "p25", "mean"]].tolist() == [
        "2026-11-17 14:30 UTC",
        "2026-11-20 21:00:05.250000 UTC",
        "\u2248 2026-11-18 10:15 UTC",
        "2026-11-19 01:02:03 UTC",
    ]
    assert table.loc["day", ["min", "max", "mean"]].tolist() == [
        "2026-11-01",
        "2026-11-20",
        "\u2013",
    ]
    # The type column is as wide as the longest type name DuckDB gives a column here.
    assert columns.profile_config()["type"]["width"] == "medium"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("pe_ttm", "P/E TTM"),
        ("roe_ttm_pct", "ROE TTM %"),
        ("week52_return_pct", "52-week return %"),
        ("week52_high", "52-week high"),
        ("week_52_low", "52-week low"),
        ("temperature_c", "Temperature °C"),
        ("temp_c", "Temp °C"),
        ("abc", "Abc"),
        ("c", "C"),
        ("vitamin_c", "Vitamin C"),  # a `_c` on a name that is no temperature is a letter
        ("temp_f", "Temp °F"),
        ("battery_v", "Battery V"),  # from a `Battery V` header
        ("voltage_m_v", "Voltage mV"),
        ("capacity_m_ah", "Capacity mAh"),
        ("noise_d_b", "Noise dB"),
        ("frequency_hz", "Frequency Hz"),
        ("clock_g_hz", "Clock GHz"),
        ("speed_km_h", "Speed km/h"),
        ("wind_m_s", "Wind m/s"),
        ("duration_s", "Duration (s)"),
        ("type_a", "Type A"),
    ],
)
def test_financial_metrics_and_temperatures_read_as_written(name: str, shown: str) -> None:
    assert columns.label(name) == shown


def test_an_insider_code_reads_with_its_meaning() -> None:
    table = pd.DataFrame({"transaction_code": ["F", "M", "Q", None], "share": [1, 2, 3, 4]})
    shown = columns.frame(table)["transaction_code"].tolist()
    assert shown[:3] == [
        "F \u00b7 tax or exercise price paid in shares",
        "M \u00b7 option exercise",
        "Q",  # a code Form 4 does not define is shown as it is
    ]
    assert pd.isna(shown[3])  # a missing code stays missing
