"""Market datasets: quotes and company profiles (Finnhub `/quote`, `/stock/profile2`)."""

from __future__ import annotations

from bucketpipe.catalog.spec import Column, DatasetSpec, Rule


def num(field: str) -> str:
    """A JSON number field of the item as DOUBLE (NULL when missing or not a number)."""
    return f"TRY_CAST(item->>'{field}' AS DOUBLE)"


def text(field: str) -> str:
    """A JSON text field of the item, trimmed, NULL when empty."""
    return f"NULLIF(trim(item->>'{field}'), '')"


def unix_time(field: str) -> str:
    """A positive unix-seconds field as TIMESTAMPTZ (0 and missing become NULL)."""
    return (
        f"CASE WHEN TRY_CAST(item->>'{field}' AS BIGINT) > 0 "
        f"THEN to_timestamp(TRY_CAST(item->>'{field}' AS BIGINT)) END"
    )


SYMBOL_PARAM = "upper(params->>'symbol')"

# Sentiment of a quote's change since the previous close. 0% exactly is 'unchanged'.
SENTIMENT = (
    "CASE WHEN change_pct IS NULL THEN NULL"
    " WHEN change_pct > 2 THEN 'strong bullish'"
    " WHEN change_pct > 0 THEN 'bullish'"
    " WHEN change_pct = 0 THEN 'unchanged'"
    " WHEN change_pct > -2 THEN 'bearish'"
    " ELSE 'strong bearish' END"
)

QUOTES = DatasetSpec(
    name="quotes",
    description="Quote snapshots: last price, day range and change, one row per symbol and "
    "quote time.",
    endpoints=("quote",),
    columns=(
        Column("symbol", "VARCHAR", SYMBOL_PARAM, "Ticker symbol."),
        Column("ts", "TIMESTAMPTZ", unix_time("t"), "Time of the last trade (UTC)."),
        Column("price", "DOUBLE", num("c"), "Current (last) price."),
        Column("open", "DOUBLE", num("o"), "Open price of the day."),
        Column("high", "DOUBLE", num("h"), "High price of the day so far."),
        Column("low", "DOUBLE", num("l"), "Low price of the day so far."),
        Column("prev_close", "DOUBLE", num("pc"), "Previous close price."),
        Column(
            "change",
            "DOUBLE",
            f"coalesce({num('d')}, round({num('c')} - NULLIF({num('pc')}, 0), 4))",
            "Change since the previous close (computed when the API omits it).",
        ),
        Column(
            "change_pct",
            "DOUBLE",
            f"coalesce({num('dp')}, round(({num('c')} / NULLIF({num('pc')}, 0) - 1) * 100, 4))",
            "Change since the previous close in % (computed when the API omits it).",
        ),
    ),
    primary_key=("symbol", "ts"),
    time_column="ts",
    # Quarter partitions: a year of quotes is four or five compacted files, not 365 day files
    # (nor 13 month files), so a year-long query costs about 3 requests a file on S3 (a HEAD,
    # the footer, the column chunks); pruning by each file's time range keeps a week's read
    # to the files that hold that week.
    partition_by="quarter",
    rules=(
        Rule(
            "unknown symbol: all-zero quote",
            "coalesce(price, 0) = 0 AND coalesce(high, 0) = 0 AND coalesce(low, 0) = 0 "
            "AND coalesce(prev_close, 0) = 0",
        ),
        Rule("missing symbol", "symbol IS NULL"),
        Rule("missing quote time", "ts IS NULL"),
        Rule("missing price", "price IS NULL"),
        Rule("non-positive price", "price <= 0"),
        Rule(
            "price outside the day's range",
            "high > 0 AND low > 0 AND (price > high * 1.01 OR price < low * 0.99)",
        ),
        Rule(
            "price more than 50% away from the previous close",
            "prev_close > 0 AND abs(price / prev_close - 1) > 0.5",
        ),
    ),
    # As candles: the latest delivery of a (symbol, ts) wins (a re-ingest or another source
    # corrects it), so quotes, candles and the daily bars built from them follow one rule and
    # a changed quote's day is recomputed downstream (docs/datasets.md, "Which value wins").
    on_conflict="latest",
    tags=("market", "free"),
)

COMPANY_PROFILES = DatasetSpec(
    name="company_profiles",
    description="Company profiles, one row per symbol and day fetched.",
    endpoints=("profile",),
    columns=(
        Column(
            "symbol",
            "VARCHAR",
            f"upper(coalesce({text('ticker')}, params->>'symbol'))",
            "Ticker symbol.",
        ),
        Column("as_of", "DATE", "CAST(requested_at AS DATE)", "Day the profile was fetched."),
        Column("name", "VARCHAR", text("name"), "Company name."),
        Column("country", "VARCHAR", text("country"), "Country of the headquarters."),
        Column("currency", "VARCHAR", text("currency"), "Currency of the listing."),
        Column("exchange", "VARCHAR", text("exchange"), "Listing exchange."),
        Column("industry", "VARCHAR", text("finnhubIndustry"), "Finnhub industry."),
        Column("ipo", "DATE", "TRY_CAST(item->>'ipo' AS DATE)", "IPO date."),
        Column("market_cap", "DOUBLE", num("marketCapitalization"), "Millions of currency."),
        Column("shares_outstanding", "DOUBLE", num("shareOutstanding"), "Millions."),
        Column("logo", "VARCHAR", text("logo"), "Logo image URL."),
        Column("weburl", "VARCHAR", text("weburl"), "Company website."),
        Column("phone", "VARCHAR", text("phone"), "Phone number."),
    ),
    primary_key=("symbol", "as_of"),
    time_column="as_of",
    partition_by="month",
    rules=(
        Rule("unknown symbol: empty profile", "name IS NULL AND market_cap IS NULL"),
        Rule("missing symbol", "symbol IS NULL"),
    ),
    on_conflict="latest",
    tags=("market", "free"),
)
