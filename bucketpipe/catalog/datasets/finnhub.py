"""Finnhub market datasets: company and market news, daily candles, social sentiment."""

from __future__ import annotations

from bucketpipe.catalog.datasets.fields import (
    before_1900,
    future,
    integer,
    missing,
    negative,
    symbol_of,
    utc_time,
)
from bucketpipe.catalog.datasets.market import SYMBOL_PARAM, num, text, unix_time
from bucketpipe.catalog.spec import Arrays, Column, DatasetSpec, Rule, Zipped

NEWS_COLUMNS = (
    Column("id", "BIGINT", "TRY_CAST(item->>'id' AS BIGINT)", "Finnhub's article id."),
    Column("published_at", "TIMESTAMPTZ", unix_time("datetime"), "Publication time (UTC)."),
    Column("headline", "VARCHAR", text("headline"), "Headline of the article."),
    Column("summary", "VARCHAR", text("summary"), "Short summary of the article."),
    Column("source", "VARCHAR", text("source"), "Publisher."),
    Column("url", "VARCHAR", text("url"), "Link to the article."),
    Column("image", "VARCHAR", text("image"), "Thumbnail URL."),
    Column("related", "VARCHAR", text("related"), "Related symbols, comma-separated."),
)
NEWS_RULES = (
    missing("id", "article id"),
    missing("published_at", "publication time"),
    missing("headline"),
    future("published_at", "publication time"),
)

COMPANY_NEWS = DatasetSpec(
    name="company_news",
    description="Company news: one row per symbol and article (`/company-news`).",
    endpoints=("company_news",),
    items="$[*]",
    columns=(
        Column("symbol", "VARCHAR", SYMBOL_PARAM, "Symbol the news was requested for."),
        *NEWS_COLUMNS,
        Column("category", "VARCHAR", text("category"), "Finnhub's category of the article."),
    ),
    # One article can concern several companies; each symbol keeps its own copy.
    primary_key=("symbol", "id"),
    time_column="published_at",
    partition_by="month",
    rules=(missing("symbol"), *NEWS_RULES),
    # A published article does not change: the first copy is kept, repeats are dropped.
    on_conflict="keep",
    tags=("news", "free"),
)

MARKET_NEWS = DatasetSpec(
    name="market_news",
    description="Market news by category: general, forex, crypto, merger (`/news`).",
    endpoints=("market_news",),
    items="$[*]",
    columns=(
        Column(
            "category",
            "VARCHAR",
            f"lower(coalesce({text('category')}, params->>'category'))",
            "News category (general, forex, crypto, merger).",
        ),
        *(c for c in NEWS_COLUMNS if c.name != "related"),
        Column(
            "related",
            "VARCHAR",
            text("related"),
            "Related symbols, comma-separated (Finnhub leaves it empty in general news).",
            # Due in a category where articles name symbols, not where none do.
            "count(related) OVER (PARTITION BY category) > 0",
        ),
    ),
    primary_key=("id",),
    time_column="published_at",
    partition_by="month",
    rules=NEWS_RULES,
    on_conflict="keep",  # as company news: articles are immutable
    tags=("news", "free"),
)

CANDLES = DatasetSpec(
    name="candles",
    description="Daily OHLCV candles from Finnhub's parallel arrays (`/stock/candle`, premium).",
    endpoints=("candles",),
    items=Zipped(("t", "o", "h", "l", "c", "v")),
    columns=(
        Column("symbol", "VARCHAR", SYMBOL_PARAM, "Ticker symbol."),
        Column(
            "resolution",
            "VARCHAR",
            "coalesce(params->>'resolution', 'D')",
            "Candle resolution (D = daily).",
        ),
        Column("ts", "TIMESTAMPTZ", unix_time("t"), "Start of the candle (UTC)."),
        Column("open", "DOUBLE", num("o"), "Open price."),
        Column("high", "DOUBLE", num("h"), "High price."),
        Column("low", "DOUBLE", num("l"), "Low price."),
        Column(
            "close",
            "DOUBLE",
            num("c"),
            "Close price (the last price while the candle is open).",
        ),
        Column("volume", "BIGINT", integer("v"), "Shares traded."),
    ),
    primary_key=("symbol", "resolution", "ts"),
    time_column="ts",
    partition_by="month",
    rules=(
        missing("symbol"),
        missing("ts", "candle time"),
        missing("close", "close price"),
        Rule("non-positive price", "least(open, high, low, close) <= 0"),
        Rule("high below low", "high < low"),
        Rule(
            "open or close outside the high-low range",
            "open > high * 1.0001 OR open < low * 0.9999 "
            "OR close > high * 1.0001 OR close < low * 0.9999",
        ),
        negative("volume"),
        future("ts", "candle time"),
    ),
    # Not `keep`: the current day's candle grows until the close, and Finnhub adjusts past
    # candles for splits; a changed candle replaces the stored one (only its day's file is
    # rewritten), an unchanged one is dropped as a duplicate.
    on_conflict="latest",
    premium=True,
    tags=("market", "premium"),
)

SOCIAL_SENTIMENT = DatasetSpec(
    name="social_sentiment",
    description="Social media mentions and sentiment per source and period "
    "(`/stock/social-sentiment`, premium).",
    endpoints=("social_sentiment",),
    items=Arrays((("reddit", "$.reddit[*]"), ("twitter", "$.twitter[*]"), ("all", "$.data[*]"))),
    columns=(
        Column("symbol", "VARCHAR", symbol_of("body"), "Ticker symbol."),
        Column(
            "source",
            "VARCHAR",
            "item_source",
            "reddit, twitter, or all (Finnhub's combined series).",
        ),
        Column("at_time", "TIMESTAMPTZ", utc_time("atTime"), "Start of the period (UTC)."),
        Column("mention", "INTEGER", integer("mention"), "Mentions in the period."),
        Column("positive_mention", "INTEGER", integer("positiveMention"), "Positive mentions."),
        Column("negative_mention", "INTEGER", integer("negativeMention"), "Negative mentions."),
        Column("positive_score", "DOUBLE", num("positiveScore"), "0 to 1."),
        Column(
            "negative_score",
            "DOUBLE",
            f"abs({num('negativeScore')})",
            "Strength of the negative mentions, 0 to 1 (Finnhub sends -1 to 0).",
        ),
        Column("score", "DOUBLE", num("score"), "-1 (very negative) to 1 (very positive)."),
    ),
    primary_key=("symbol", "source", "at_time"),
    time_column="at_time",
    partition_by="month",
    rules=(
        missing("symbol"),
        missing("at_time", "period"),
        before_1900("at_time", "period"),
        future("at_time", "period"),
        Rule("score outside -1..1", "abs(score) > 1"),
        Rule(
            "positive or negative score outside 0..1",
            "positive_score NOT BETWEEN 0 AND 1 OR negative_score NOT BETWEEN 0 AND 1",
        ),
        negative("mention", "positive_mention", "negative_mention"),
    ),
    # The current period's counts grow while it lasts: the newest fetch wins.
    on_conflict="latest",
    premium=True,
    tags=("sentiment", "premium"),
)
