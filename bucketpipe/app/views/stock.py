"""Stock: one symbol's bars, indicators, intraday quotes, company, analysts, earnings, news."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from bucketpipe.app import cards, charts, state, ui
from bucketpipe.serve.queries import stock

INDICATOR_HINT = (
    "Indicators come from the `daily_indicators` dataset, which clean derives from the daily "
    "bars; run `bucketpipe clean` after an ingest."
)


def pickers(symbols: list[str]) -> tuple[str, date, date] | None:
    """Symbol and date range; None when the symbol has no bars."""
    left, right = st.columns([1, 2])
    default = st.query_params.get("symbol")
    index = symbols.index(default) if default in symbols else 0
    symbol = left.selectbox("Symbol", symbols, index=index, key="stock_symbol")
    st.query_params["symbol"] = symbol
    bounds = state.query(stock.day_bounds, symbol)
    if bounds is None:
        return None
    first, last = bounds
    chosen = right.date_input(
        "Date range",
        value=(max(first, last - timedelta(days=90)), last),
        min_value=first,
        max_value=last,
        key=f"stock_range_{symbol}",
        help="Daily bars and indicators in this range; indicators are computed over the "
        "whole history, so their first values are not cut short by the range.",
    )
    start, end = (chosen[0], chosen[-1]) if isinstance(chosen, tuple) and chosen else (first, last)
    return symbol, start, end


def profile_card(symbol: str) -> None:
    info = state.query(stock.profile, symbol)
    metrics = state.query(stock.key_metrics, symbol)
    with st.container(border=True):
        st.markdown(f"### {info.get('name') or symbol}")
        facts = [str(info[k]) for k in ("exchange", "industry", "country") if info.get(k)]
        if facts:
            st.caption(" · ".join(facts))
        rows = {
            "Market cap": _millions(info.get("market_cap") or metrics.get("market_cap")),
            "Shares outstanding": _millions(info.get("shares_outstanding")),
            "Currency": info.get("currency"),
            "IPO": ui.day(info["ipo"]) if info.get("ipo") is not None else None,
            "52-week range": _range(metrics.get("week52_low"), metrics.get("week52_high")),
            "P/E (TTM)": ui.number(metrics.get("pe_ttm")) if "pe_ttm" in metrics else None,
            "Beta": ui.number(metrics.get("beta")) if "beta" in metrics else None,
        }
        shown = {k: v for k, v in rows.items() if v not in (None, "", ui.MISSING)}
        if shown:
            st.markdown("\n".join(f"- **{k}**: {v}" for k, v in shown.items()))
        elif not info:
            st.caption("No company profile committed for this symbol.")
        if info.get("weburl"):
            st.link_button("Website", str(info["weburl"]), icon=":material/open_in_new:")


def _millions(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else ui.compact(float(value) * 1e6)


def _range(low: Any, high: Any) -> str | None:
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return None
    return f"{ui.number(low)} to {ui.number(high)}"


def tiles(bars: pd.DataFrame, ind: pd.DataFrame) -> None:
    values = stock.latest_values(bars, ["close"])
    values.update(stock.latest_values(ind, ["rsi_14", "macd_hist", "sma_20"]))
    cols = st.columns(5)
    close, change = values.get("close", (None, None))
    pct = (
        (change / (close - change) * 100)
        if close is not None and change and close != change
        else None
    )
    cols[0].metric(
        "Last close",
        ui.number(close),
        delta=ui.delta(pct),
        border=True,
        help="Close of the newest day in the range, and its change from the day before.",
    )
    rsi, _ = values.get("rsi_14", (None, None))
    cols[1].metric(
        "RSI 14",
        ui.number(rsi, 1),
        delta=stock.rsi_zone(rsi),
        delta_color="off",
        delta_arrow="off",
        border=True,
        help="Wilder-smoothed relative strength over 14 days: above 70 overbought, "
        "below 30 oversold.",
    )
    hist, _ = values.get("macd_hist", (None, None))
    cols[2].metric(
        "MACD histogram",
        ui.signed(hist, 3),
        delta=None if not hist else "bullish" if hist > 0 else "bearish",
        delta_color="green" if hist and hist > 0 else "red",
        delta_arrow="up" if hist and hist > 0 else "down",
        border=True,
        help="MACD (12/26) minus its 9-day signal line.",
    )
    vol = stock.volatility(bars)
    cols[3].metric(
        "Volatility (20 d)",
        f"{ui.number(vol)} %" if vol is not None else "n/a",
        border=True,
        help="Standard deviation of the last 20 daily returns, in % per day.",
    )
    if "volume" in bars and bars["volume"].notna().any():
        cols[4].metric(
            "Average volume",
            ui.compact(bars["volume"].mean()),
            border=True,
            help="Mean shares traded per day in the range.",
        )
    else:
        sma, _ = values.get("sma_20", (None, None))
        cols[4].metric("SMA 20", ui.number(sma), border=True)


def price_section(bars: pd.DataFrame, ind: pd.DataFrame) -> None:
    overlays = st.pills(
        "Overlays",
        list(charts.OVERLAYS),
        selection_mode="multi",
        default=["SMA 20", "EMA 12"],
        key="stock_overlays",
    )
    bollinger = st.toggle("Bollinger bands (20 days, 2 std)", value=True, key="stock_bollinger")
    st.plotly_chart(charts.price(bars, ind, overlays or [], bollinger), key="price_chart")
    source = bars["source"].dropna().unique().tolist() if "source" in bars else []
    if source:
        st.caption(f"Daily bars from: {', '.join(map(str, source))}.")
    if ind.empty:
        st.info(INDICATOR_HINT, icon=":material/info:")
        return
    left, right = st.columns(2)
    with left:
        st.markdown("**RSI 14**")
        if "rsi_14" in ind:
            st.plotly_chart(charts.rsi(ind), key="rsi_chart")
    with right:
        st.markdown("**MACD 12/26/9**")
        if {"macd", "macd_signal", "macd_hist"} <= set(ind.columns):
            st.plotly_chart(charts.macd(ind), key="macd_chart")


def details(symbol: str, start: date, end: date) -> None:
    lake = state.lake()
    tabs = ["Intraday", "Analysts", "Earnings", "Financials", "Insiders", "News"]
    optional = {"Dividends": "dividends", "Social sentiment": "social_sentiment"}
    tabs += [name for name, ds in optional.items() if lake.has(ds)]
    panes = dict(zip(tabs, st.tabs(tabs), strict=True))
    with panes["Intraday"]:
        quotes = state.query(stock.intraday, symbol, max(start, end - timedelta(days=6)), end)
        if quotes.empty:
            ui.empty_state("No quote snapshots in this range.", SYMBOL_HINT)
        else:
            st.plotly_chart(charts.intraday(quotes), key="intraday_chart")
            st.caption(f"{len(quotes):,} snapshots over the last days of the range.")
    with panes["Analysts"]:
        rec = state.query(stock.recommendations, symbol)
        _chart_or_empty(rec, charts.recommendations, "No analyst recommendations.")
    with panes["Earnings"]:
        earn = state.query(stock.earnings, symbol)
        _chart_or_empty(earn, charts.earnings, "No earnings reports.")
        if not earn.empty:
            st.dataframe(earn.sort_values("period", ascending=False), hide_index=True)
    with panes["Financials"]:
        _table_or_empty(state.query(stock.financials, symbol), "No reported financials.")
    with panes["Insiders"]:
        _table_or_empty(state.query(stock.insiders, symbol), "No insider transactions.")
    with panes["News"]:
        news = state.query(stock.news, symbol)
        if news.empty:
            ui.empty_state("No company news.", SYMBOL_HINT)
        for _, row in news.iterrows():
            cards.article(row)
    if "Dividends" in panes:
        with panes["Dividends"]:
            _table_or_empty(state.query(stock.dividends, symbol), "No dividends for this symbol.")
    if "Social sentiment" in panes:
        with panes["Social sentiment"]:
            social = state.query(stock.social, symbol, start)
            _chart_or_empty(social, charts.social, "No social sentiment in this range.")


SYMBOL_HINT = (
    "The demo source (`bucketpipe ingest demo`) and Finnhub (`bucketpipe ingest finnhub`) "
    "provide it; run `bucketpipe clean` afterwards."
)


def _chart_or_empty(data: pd.DataFrame, chart: Any, empty: str) -> None:
    if data.empty:
        ui.empty_state(empty, SYMBOL_HINT)
    else:
        st.plotly_chart(chart(data))


def _table_or_empty(data: pd.DataFrame, empty: str) -> None:
    if data.empty:
        ui.empty_state(empty, SYMBOL_HINT)
    else:
        st.dataframe(data, hide_index=True)


def render() -> None:
    ui.header(
        "Stock", "Daily bars with technical indicators, and everything known about one company."
    )
    symbols = state.query(stock.symbols)
    if not symbols:
        ui.empty_state("No stocks in the lake yet.")
        return
    picked = pickers(symbols)
    if picked is None:
        ui.empty_state("This symbol has no daily bars or quotes yet.")
        return
    symbol, start, end = picked
    bars = state.query(stock.bars, symbol, start, end)
    ind = state.query(stock.indicators, symbol, start, end)
    tiles(bars, ind)
    main, side = st.columns([3, 1])
    with side:
        profile_card(symbol)
    with main:
        price_section(bars, ind)
    details(symbol, start, end)
    technical_table(symbol)


def technical_table(symbol: str) -> None:
    """The newest value of every indicator for every symbol, this one highlighted first."""
    table = state.query(stock.latest_indicators)
    if table.empty:
        return
    with st.expander("Latest indicators of every symbol"):
        first = table[table["symbol"] == symbol]
        rest = table[table["symbol"] != symbol]
        st.dataframe(
            pd.concat([first, rest], ignore_index=True),
            hide_index=True,
            column_config={
                name: st.column_config.NumberColumn(format="%.2f")
                for name in table.columns
                if name not in ("symbol", "day")
            },
        )
        st.caption(
            "RSI 14 above 70 is overbought, below 30 oversold; MACD histogram above 0 "
            "is bullish momentum."
        )


state.guarded(render)
