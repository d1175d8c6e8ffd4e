"""Stock: one symbol's bars, indicators, intraday quotes, company, analysts, earnings, news."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from bucketpipe.app import cards, charts, columns, empty, layout, state, ui
from bucketpipe.catalog.datasets.bars import MARKET_TZ, WARMUP, market_days
from bucketpipe.quality.wording import quantity
from bucketpipe.serve.queries import files, stock

INDICATOR_HINT = (
    "Indicators come from the `daily_indicators` dataset, which clean derives from the daily "
    "bars; run `bucketpipe clean` after an ingest."
)


def newest(name: str) -> files.Picked | None:
    """SQL over the newest partition of a committed, current dataset (else None)."""
    lake = state.lake()
    return files.newest(lake.store, lake.snapshots[name]) if lake.ready(name) else None


def between(name: str, first: date, last: date) -> files.Picked | None:
    lake = state.lake()
    return files.days(lake.store, lake.snapshots[name], first, last) if lake.ready(name) else None


def sql(picked: files.Picked | None) -> str | None:
    return picked.sql if picked is not None else None


def read_whole(*picked: files.Picked | None) -> None:
    """Read the small files the page needs whole, before any view opens one of them."""
    state.lake().prefetch(k for p in picked if p is not None for k in p.whole)


def pickers(symbols: list[str], bars_newest: files.Picked | None) -> tuple[str, date, date] | None:
    """Symbol and date range; None when the symbol has no bars."""
    left, right = st.columns([1, 2])
    default = st.query_params.get("symbol")
    index = symbols.index(default) if default in symbols else 0
    symbol = left.selectbox("Symbol", symbols, index=index, key="stock_symbol")
    ui.not_found("the symbol", default, symbols, symbol)
    st.query_params["symbol"] = symbol
    first = files.first_day(state.lake().snapshots.get("daily_bars"))
    bounds = state.query(stock.day_bounds, symbol, sql(bars_newest), first)
    if bounds is None:
        return None
    first, last = bounds
    chosen = right.date_input(
        "Date range",
        value=(max(first, last - timedelta(days=90)), last),
        min_value=first,
        max_value=last,
        key=f"stock_range_{symbol}",
        help="Daily bars and indicators in this range (from the first day of daily bars); "
        "indicators are computed over the whole history, so their first values are not cut "
        "short by the range.",
    )
    start, end = (chosen[0], chosen[-1]) if isinstance(chosen, tuple) and chosen else (first, last)
    return symbol, start, end


def profile_card(symbol: str, profiles: files.Picked | None) -> None:
    info = state.query(stock.profile, symbol, sql(profiles))
    # Key metrics (`basic_financials`) are in the Financials tab, read only when it is open.
    with st.container(border=True):
        st.markdown(f"### {ui.text(info.get('name') or symbol)}")
        facts = [ui.text(info[k]) for k in ("exchange", "industry", "country") if info.get(k)]
        if facts:
            st.caption(" · ".join(facts))
        rows = {
            "Market cap": cards.millions(info.get("market_cap")),
            "Shares outstanding": cards.millions(info.get("shares_outstanding")),
            "Currency": info.get("currency"),
            "IPO": ui.day(info["ipo"]) if info.get("ipo") is not None else None,
        }
        if not cards.facts(rows) and not info:
            st.caption("No company profile committed for this symbol.")
        website = ui.web_address(info.get("weburl"))
        if website:
            st.link_button("Website", website, icon=":material/open_in_new:")


def tiles(bars: pd.DataFrame, ind: pd.DataFrame) -> None:
    values = stock.latest_values(bars, ["close"])
    values.update(stock.latest_values(ind, ["rsi_14", "macd_hist", "sma_20"]))
    cols = layout.tiles("figures", 5)
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
        ui.number(rsi, columns.INDICATOR_DECIMALS["rsi_14"]),
        delta=stock.rsi_zone(rsi) if rsi is not None else warming("rsi_14"),
        delta_color="off",
        delta_arrow="off",
        border=True,
        help="Wilder-smoothed relative strength over 14 days: above 70 overbought, "
        "below 30 oversold.",
    )
    hist, _ = values.get("macd_hist", (None, None))
    cols[2].metric(
        "MACD histogram",
        ui.signed(hist, columns.INDICATOR_DECIMALS["macd_hist"]),
        delta=None if not hist else "bullish" if hist > 0 else "bearish",
        delta_color="green" if hist and hist > 0 else "red",
        delta_arrow="up" if hist and hist > 0 else "down",
        border=True,
        help="MACD (12/26) minus its 9-day signal line.",
    )
    vol = stock.volatility(bars, ind)
    window = vol.days if vol.value is not None else WARMUP["volatility_20"] - 1
    cols[3].metric(
        f"Volatility ({window} d)",
        f"{ui.number(vol.value)} %" if vol.value is not None else ui.MISSING,
        delta=f"to {ui.day(vol.until)}" if vol.until is not None else warming("volatility_20"),
        delta_color="off",
        delta_arrow="off",
        border=True,
        help=f"Standard deviation of the {window} daily returns up to "
        f"{ui.day(vol.until) if vol.until is not None else 'the newest day'}, in % per day "
        "(not annualised). Computed over the whole history: the start of the range does not "
        "change it.",
    )
    if "volume" in bars and bars["volume"].notna().any():
        cols[4].metric(
            "Average volume",
            ui.compact(bars["volume"].mean()),
            border=True,
            delta=f"{bars['volume'].notna().sum()} d",
            delta_color="off",
            delta_arrow="off",
            help=f"Mean shares traded per day over the {bars['volume'].notna().sum()} days "
            f"of the range ({ui.day(bars['day'].iloc[0])} to {ui.day(bars['day'].iloc[-1])}).",
        )
    else:
        sma, _ = values.get("sma_20", (None, None))
        cols[4].metric(
            "SMA 20",
            ui.number(sma),
            delta=None if sma is not None else warming("sma_20"),
            delta_color="off",
            delta_arrow="off",
            border=True,
        )


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
        if charts.drawn(ind, "rsi_14"):
            st.plotly_chart(charts.rsi(ind), key="rsi_chart")
        else:
            st.caption(not_yet("RSI 14", "rsi_14"))
    with right:
        st.markdown("**MACD 12/26/9**")
        if charts.drawn(ind, "macd", "macd_signal", "macd_hist"):
            st.plotly_chart(charts.macd(ind), key="macd_chart")
        else:
            st.caption(not_yet("The MACD line", "macd"))


def warming(indicator: str) -> str:
    """A tile's note for an indicator without a value yet: the bars its window needs."""
    return f"needs {WARMUP[indicator]} daily bars"


def not_yet(name: str, indicator: str) -> str:
    """Why a chart of an indicator is empty: its window has not filled in the range."""
    return (
        f"{name} has a value from a symbol's {ui.ordinal(WARMUP[indicator])} daily bar; the "
        "range has none that far into the symbol's history yet."
    )


def details(symbol: str, start: date, end: date) -> None:
    lake = state.lake()
    tabs = ["Intraday", "Analysts", "Earnings", "Financials", "Insiders", "News"]
    optional = {"Dividends": "dividends", "Social sentiment": "social_sentiment"}
    # Premium datasets get a tab when committed, or when the plan refused them (to say so).
    tabs += [name for name, ds in optional.items() if lake.has(ds) or empty.refused(ds)]
    # Each tab reads its own datasets: a cold page that ran them all read every file of
    # eight datasets it does not show.
    ui.open_tab({name: partial(TABS[name], symbol, start, end) for name in tabs}, "stock_tab")


def intraday_tab(symbol: str, start: date, end: date) -> None:
    lake = state.lake()
    # The range's last week, within the partition (quarter) that holds its last day: one
    # file's worth of quotes, not a slice of two.
    held = files.partition_start(lake.snapshots.get("quotes"), end)
    first = max(start, end - timedelta(days=6), held or start)
    source = lake.pruned("quotes", *market_days(first, end))
    quotes = state.query(stock.intraday, symbol, first, end, source)
    if quotes.empty:
        empty.show("quotes", "quote snapshots", f"for {symbol} from {first} to {end}")
    else:
        st.plotly_chart(charts.intraday(quotes), key="intraday_chart")
        days = pd.to_datetime(quotes["ts"], utc=True).dt.tz_convert(MARKET_TZ)
        st.caption(
            f"{len(quotes):,} snapshots of the market days {ui.day(days.min())} to "
            f"{ui.day(days.max())} (New York days, as the daily bars; times in UTC): the "
            "range's last week, within the quarter of its last day."
        )


def analysts_tab(symbol: str, start: date, end: date) -> None:
    rec = state.query(stock.recommendations, symbol)
    scope = f"for {symbol}"
    _chart_or_empty(rec, charts.recommendations, "recommendations", "analyst ratings", scope)


def earnings_tab(symbol: str, start: date, end: date) -> None:
    earn = state.query(stock.earnings, symbol)
    _chart_or_empty(earn, charts.earnings, "earnings", "earnings reports", f"for {symbol}")
    if not earn.empty:
        columns.show(earn.sort_values("period", ascending=False))


def key_metrics(symbol: str) -> None:
    """The symbol's newest key metrics (`basic_financials`), when it has any."""
    metrics = state.query(stock.key_metrics, symbol)
    # Not the market cap: the profile card beside the chart states it (from the profile,
    # which may be of another day than these metrics: two figures for one thing misled).
    rows = {
        "52-week range": cards.span(metrics.get("week52_low"), metrics.get("week52_high")),
        "P/E (TTM)": ui.number(metrics.get("pe_ttm")) if "pe_ttm" in metrics else None,
        "Beta": ui.number(metrics.get("beta")) if "beta" in metrics else None,
    }
    if any(v not in (None, "", ui.MISSING) for v in rows.values()):
        as_of = metrics.get("as_of")
        when = f" (as of {ui.day(as_of)})" if as_of is not None and not pd.isna(as_of) else ""
        st.markdown(f"**Key metrics**{when}")
        cards.facts(rows)


def financials_tab(symbol: str, start: date, end: date) -> None:
    key_metrics(symbol)
    fin = state.query(stock.financials, symbol)
    _table_or_empty(fin, "financials_reported", "reported financials", f"for {symbol}")
    if not fin.empty:
        st.caption("Amounts in the filing's currency, as reported.")


def insiders_tab(symbol: str, start: date, end: date) -> None:
    # An insider's `change` is in shares (a quote's is in the currency).
    ins = state.query(stock.insiders, symbol).rename(columns={"change": "shares_changed"})
    _table_or_empty(ins, "insider_transactions", "insider transactions", f"for {symbol}")


def news_tab(symbol: str, start: date, end: date) -> None:
    news = state.query(stock.news, symbol)
    if news.empty:
        empty.show("company_news", "company news", f"for {symbol}")
        return
    published = pd.to_datetime(news["published_at"], utc=True, errors="coerce").dropna()
    span = f", published {ui.day(published.min())} to {ui.day(published.max())}"
    st.caption(
        f"The newest {quantity(len(news), 'article')} about {symbol}"
        f"{span if len(published) else ''}, whatever the date range above."
    )
    for _, row in news.iterrows():
        cards.article(row)


def dividends_tab(symbol: str, start: date, end: date) -> None:
    div = state.query(stock.dividends, symbol)
    _table_or_empty(div, "dividends", "dividends", f"for {symbol}")


def social_tab(symbol: str, start: date, end: date) -> None:
    social = state.query(stock.social, symbol, start, end)
    scope = f"for {symbol} from {start} to {end}"
    _chart_or_empty(social, charts.social, "social_sentiment", "social sentiment", scope)
    if not social.empty:
        st.caption(f"Periods within the date range above, {ui.day(start)} to {ui.day(end)}.")


TABS = {
    "Intraday": intraday_tab,
    "Analysts": analysts_tab,
    "Earnings": earnings_tab,
    "Financials": financials_tab,
    "Insiders": insiders_tab,
    "News": news_tab,
    "Dividends": dividends_tab,
    "Social sentiment": social_tab,
}


def _chart_or_empty(data: pd.DataFrame, chart: Any, dataset: str, what: str, scope: str) -> None:
    if data.empty:
        empty.show(dataset, what, scope)
    else:
        st.plotly_chart(chart(data))


def _table_or_empty(data: pd.DataFrame, dataset: str, what: str, scope: str) -> None:
    if data.empty:
        empty.show(dataset, what, scope)
    else:
        columns.show(data)


def render() -> None:
    ui.header(
        "Stock", "Daily bars with technical indicators, and everything known about one company."
    )
    # The newest files of the bars, indicators, profiles and quotes are what the page reads
    # for the chosen symbol (and the symbol list): each small one is read whole, once.
    bars_newest, ind_newest = newest("daily_bars"), newest("daily_indicators")
    profiles = newest("company_profiles")
    read_whole(bars_newest, ind_newest, profiles, newest("quotes"))
    if bars_newest is not None:
        symbols = state.query(stock.newest_symbols, bars_newest.sql, sql(profiles))
    else:
        symbols = state.query(stock.symbols)
    if not symbols:
        ui.empty_state("No stocks in the lake yet.")
        return
    picked = pickers(symbols, bars_newest)
    if picked is None:
        ui.empty_state("This symbol has no daily bars or quotes yet.")
        return
    symbol, start, end = picked
    in_range = between("daily_bars", start, end), between("daily_indicators", start, end)
    read_whole(*in_range)
    bars = state.query(stock.bars, symbol, start, end, sql(in_range[0]))
    ind = state.query(stock.indicators, symbol, start, end, sql(in_range[1]))
    tiles(bars, ind)
    main, side = st.columns([3, 1])
    with side:
        profile_card(symbol, profiles)
    with main:
        price_section(bars, ind)
    details(symbol, start, end)
    technical_table(symbol, ind_newest)


def technical_table(symbol: str, ind_newest: files.Picked | None) -> None:
    """The newest value of every indicator for every symbol, this one highlighted first."""
    table = state.query(stock.latest_indicators, sql(ind_newest))
    if table.empty:
        return
    with st.expander("Latest indicators of every symbol"):
        first = table[table["symbol"] == symbol]
        rest = table[table["symbol"] != symbol]
        columns.show(pd.concat([first, rest], ignore_index=True))
        st.caption(
            ("Symbols with bars in the newest year. " if ind_newest is not None else "")
            + "RSI 14 above 70 is overbought, below 30 oversold; MACD histogram above 0 "
            "is bullish momentum."
        )


state.guarded(render)
