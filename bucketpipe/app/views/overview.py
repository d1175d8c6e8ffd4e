"""Overview: data freshness, the market table, movers, breadth and summary tiles."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bucketpipe.app import layout, marketcharts, state, ui
from bucketpipe.serve.queries import market, pipeline

# The charts draw the largest moves and volumes, not a bar per symbol of a long list: 500 bars
# are an unreadable 18,000-pixel chart, and slow to draw.
MOVES = 15
VOLUMES = 20


def freshness() -> None:
    """Last ingest and clean runs and the age of the newest quote."""
    lake = state.lake()
    services = state.timed(pipeline.services, lake.services)
    quotes = lake.snapshots.get("quotes")
    cols = layout.tiles("freshness", max(2, len(services) + 1))
    for col, service in zip(cols, services, strict=False):
        col.metric(
            service.name,
            ui.age(service.finished_at),
            delta=service.state,
            delta_color=service.colour,
            delta_arrow="off",
            help=ui.text(f"Last run {service.run_id or '-'}: {service.message}"),
            border=True,
        )
    cols[-1].metric(
        "Newest quote",
        ui.age(quotes.max_time) if quotes else "never",
        help="Time of the newest committed quote: " + ui.when(quotes.max_time if quotes else None),
        border=True,
    )


def tiles(summary: market.MarketSummary) -> None:
    cols = layout.tiles("market", 5)
    cols[0].metric("Active stocks", summary.symbols, border=True)
    cols[1].metric("Average price", ui.number(summary.average_price), border=True)
    cols[2].metric(
        "Market trend",
        summary.trend.capitalize(),
        delta=ui.delta(summary.mean_change_pct),
        help="Mean change since the previous close over all symbols.",
        border=True,
    )
    cols[3].metric(
        "Advancers / decliners",
        f"{summary.advancers} / {summary.decliners}",
        help=f"{summary.unchanged} unchanged (exactly 0 %).",
        border=True,
    )
    volume = ui.compact(summary.total_volume) if summary.total_volume is not None else "n/a"
    cols[4].metric(
        "Total volume",
        volume,
        help=(
            "Shares traded on each symbol's newest bar with a volume"
            + (f", {summary.volume_when}" if summary.volume_when else "")
            + " (from daily bars; quotes carry none)."
        ),
        border=True,
    )


def table(latest: pd.DataFrame) -> None:
    view = latest.copy()
    # In percent, to whole percents: a bar's place needs no hundredths (`33 %`, `0 %`).
    view["range_position"] = [
        _percent(market.day_range_position(p, lo, hi))
        for p, lo, hi in zip(view["price"], view["low"], view["high"], strict=True)
    ]
    order = ["symbol", "name", "price", "change", "change_pct", "low", "high", "range_position"]
    order += ["volume", "trend", "sentiment", "ts"]
    ui.dataframe(
        view,
        hide_index=True,
        column_order=[c for c in order if c in view],
        column_config={
            "symbol": st.column_config.TextColumn("Symbol", pinned=True),
            "name": "Company",
            "price": st.column_config.NumberColumn("Last", format="%.2f"),
            "change": st.column_config.NumberColumn("Change", format="%+.2f"),
            "change_pct": st.column_config.NumberColumn("Change %", format="%+.2f %%"),
            "low": st.column_config.NumberColumn("Day low", format="%.2f"),
            "high": st.column_config.NumberColumn("Day high", format="%.2f"),
            "range_position": st.column_config.ProgressColumn(
                "In day range",
                help="Where the last price sits between the day's low (0) and high (100 %).",
                min_value=0.0,
                max_value=100.0,
                format="%.0f %%",
                color=ui.ACCENT,
            ),
            "volume": st.column_config.NumberColumn(
                "Volume",
                format="compact",
                help="Shares traded on the symbol's newest bar with a volume.",
            ),
            "trend": st.column_config.LineChartColumn(
                "Last 30 days", help="Last price of each day.", color="auto"
            ),
            "sentiment": "Sentiment",
            "ts": st.column_config.DatetimeColumn("Quote time", format="YYYY-MM-DD HH:mm z"),
        },
    )


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def movers(latest: pd.DataFrame) -> None:
    gainers, losers = market.movers(latest)
    left, right = st.columns(2)
    for col, title, rows in ((left, "Top gainers", gainers), (right, "Top losers", losers)):
        with col.container(border=True):
            st.markdown(f"**{title}**")
            if rows.empty:
                session = market.session_name(latest)
                st.caption(f"None in the session of {session}." if session else "None.")
            for _, row in rows.iterrows():
                a, b, c = st.columns([1, 1, 1])
                a.markdown(f"**{ui.text(row['symbol'])}**")
                b.markdown(ui.number(row["price"]))
                colour = "green" if row["change_pct"] > 0 else "red"
                c.markdown(f":{colour}[{ui.percent(row['change_pct'])}]")


def render() -> None:
    ui.header("Market overview", "The newest committed quote of every symbol.")
    freshness()
    lake = state.lake()
    if not lake.has("quotes"):
        ui.empty_state("No quotes have been committed yet.")
        return
    latest = state.query(market.latest_quotes, datasets=market.reads(state.lake().ready))
    summary = market.summarize(latest)
    tiles(summary)
    st.subheader("Market")
    table(latest)
    movers(latest)
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Change since previous close")
        moves = market.largest_moves(latest, MOVES)
        st.altair_chart(marketcharts.change_bars(moves))
        changed = int(latest["change_pct"].notna().sum())
        if len(moves) < changed:
            st.caption(
                f"The {MOVES} largest gains and {MOVES} largest losses of {changed:,} symbols; "
                "the market table has every one."
            )
    with right:
        st.subheader("Breadth")
        st.altair_chart(marketcharts.sentiment_pie(market.sentiment_counts(latest)))
        st.caption(
            "Symbols by their change since the previous close (the market table's last "
            "column, Sentiment): strong bullish > 2 %, bullish > 0 %, unchanged = 0 %, "
            "bearish > \u22122 %, strong bearish otherwise."
        )
    if "volume" in latest and latest["volume"].notna().any():
        st.subheader(f"Volume {summary.volume_when}" if summary.volume_when else "Volume")
        volume = pd.to_numeric(latest["volume"], errors="coerce")
        traded = latest.assign(volume=volume).dropna(subset=["volume"])
        st.altair_chart(marketcharts.volume_bars(traded.nlargest(VOLUMES, "volume")))
        if len(traded) > VOLUMES:
            st.caption(
                f"The {VOLUMES} highest volumes of {len(traded):,} symbols; the market table "
                "has every one."
            )


state.guarded(render)
