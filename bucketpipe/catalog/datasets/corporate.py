"""Finnhub company events: earnings, calendars, analysts, insiders, IPOs and dividends."""

from __future__ import annotations

from bucketpipe.catalog.datasets.fields import (
    before_1900,
    day,
    future,
    integer,
    missing,
    negative,
    symbol_of,
)
from bucketpipe.catalog.datasets.market import num, text
from bucketpipe.catalog.spec import Column, DatasetSpec, Rule

EARNINGS = DatasetSpec(
    name="earnings",
    description="Quarterly earnings per share: actual, estimate and surprise (`/stock/earnings`).",
    endpoints=("earnings",),
    items="$[*]",
    columns=(
        Column("symbol", "VARCHAR", symbol_of("item"), "Ticker symbol."),
        Column("period", "DATE", day("period"), "End of the fiscal quarter."),
        Column("year", "INTEGER", integer("year"), "Fiscal year."),
        Column("quarter", "INTEGER", integer("quarter"), "Fiscal quarter (1-4)."),
        Column("actual", "DOUBLE", num("actual"), "Reported EPS."),
        Column("estimate", "DOUBLE", num("estimate"), "Consensus EPS estimate."),
        Column(
            "surprise",
            "DOUBLE",
            f"coalesce({num('surprise')}, round({num('actual')} - {num('estimate')}, 4))",
            "Actual minus estimate (computed when the API omits it).",
        ),
        Column(
            "surprise_pct",
            "DOUBLE",
            f"coalesce({num('surprisePercent')}, round(({num('actual')} - {num('estimate')})"
            f" / abs(NULLIF({num('estimate')}, 0)) * 100, 4))",
            "Surprise in % of the absolute estimate.",
        ),
    ),
    primary_key=("symbol", "period"),
    time_column="period",
    partition_by="year",
    rules=(
        missing("symbol"),
        missing("period"),
        before_1900("period", "period"),
        # A quarter that has not ended yet cannot have reported earnings.
        future("period", "period", days=0),
        Rule("no actual and no estimate", "actual IS NULL AND estimate IS NULL"),
        Rule("quarter outside 1-4", "quarter NOT BETWEEN 1 AND 4"),
    ),
    # Finnhub revises estimates and restates actuals: the newest fetch wins.
    on_conflict="latest",
    tags=("fundamentals", "free"),
)

# An actual is due once its release day is over (the calendar mostly lists coming releases).
REPORTED = "report_date < CAST(timezone('UTC', {now}) AS DATE)"
EARNINGS_CALENDAR = DatasetSpec(
    name="earnings_calendar",
    description="Earnings release dates with EPS and revenue, estimate and actual "
    "(`/calendar/earnings`).",
    endpoints=("earnings_calendar",),
    items="$.earningsCalendar[*]",
    columns=(
        Column("symbol", "VARCHAR", symbol_of("item"), "Ticker symbol."),
        Column("report_date", "DATE", day("date"), "Day of the release."),
        Column(
            "hour",
            "VARCHAR",
            f"lower({text('hour')})",
            "bmo (before market open), amc (after market close) or dmh (during market).",
        ),
        Column("year", "INTEGER", integer("year"), "Fiscal year reported."),
        Column("quarter", "INTEGER", integer("quarter"), "Fiscal quarter reported."),
        Column("eps_estimate", "DOUBLE", num("epsEstimate"), "Consensus EPS estimate."),
        Column("eps_actual", "DOUBLE", num("epsActual"), "NULL until reported.", REPORTED),
        Column("revenue_estimate", "DOUBLE", num("revenueEstimate"), "Consensus revenue estimate."),
        Column("revenue_actual", "DOUBLE", num("revenueActual"), "NULL until reported.", REPORTED),
    ),
    # One release per company and fiscal quarter: a moved release date replaces the old one.
    primary_key=("symbol", "year", "quarter"),
    time_column="report_date",
    partition_by="month",
    rules=(
        missing("symbol"),
        missing("report_date", "release date"),
        missing("year"),
        missing("quarter"),
        Rule("quarter outside 1-4", "quarter NOT BETWEEN 1 AND 4"),
        before_1900("report_date", "release date"),
        future("report_date", "release date more than two years", days=731),
        negative("revenue_estimate", "revenue_actual"),
    ),
    # Estimates move and actuals arrive after the release: the newest fetch wins.
    on_conflict="latest",
    tags=("calendar", "free"),
)

RECOMMENDATIONS = DatasetSpec(
    name="recommendations",
    description="Analyst recommendation counts per month (`/stock/recommendation`).",
    endpoints=("recommendations",),
    items="$[*]",
    columns=(
        Column("symbol", "VARCHAR", symbol_of("item"), "Ticker symbol."),
        Column("period", "DATE", day("period"), "Month of the count (its first day)."),
        Column("strong_buy", "INTEGER", integer("strongBuy"), "Strong buy recommendations."),
        Column("buy", "INTEGER", integer("buy"), "Buy recommendations."),
        Column("hold", "INTEGER", integer("hold"), "Hold recommendations."),
        Column("sell", "INTEGER", integer("sell"), "Sell recommendations."),
        Column("strong_sell", "INTEGER", integer("strongSell"), "Strong sell recommendations."),
        Column(
            "analysts",
            "INTEGER",
            " + ".join(
                f"coalesce({integer(k)}, 0)"
                for k in ("strongBuy", "buy", "hold", "sell", "strongSell")
            ),
            "Number of recommendations in the month.",
        ),
    ),
    primary_key=("symbol", "period"),
    time_column="period",
    partition_by="year",
    rules=(
        missing("symbol"),
        missing("period"),
        before_1900("period", "period"),
        future("period", "period", days=0),
        negative("strong_buy", "buy", "hold", "sell", "strong_sell"),
    ),
    # The current month's counts change as analysts update: the newest fetch wins.
    on_conflict="latest",
    tags=("fundamentals", "free"),
)

INSIDER_TRANSACTIONS = DatasetSpec(
    name="insider_transactions",
    description="Insider transactions from SEC Forms 3, 4 and 5 (`/stock/insider-transactions`).",
    endpoints=("insider_transactions",),
    items="$.data[*]",
    columns=(
        Column("symbol", "VARCHAR", symbol_of("item", "body"), "Ticker symbol."),
        Column(
            "transaction_id",
            "VARCHAR",
            "coalesce(NULLIF(trim(item->>'id'), ''), md5(concat_ws('|', "
            + ", ".join(
                f"coalesce(item->>'{k}', '')"
                for k in ("name", "transactionDate", "transactionCode", "share", "change")
            )
            + ")))",
            "Finnhub's id, else a hash of name, date, code, shares and change.",
        ),
        Column("name", "VARCHAR", text("name"), "Insider's name."),
        Column("share", "BIGINT", integer("share"), "Shares held after the transaction."),
        Column("change", "BIGINT", integer("change"), "Shares bought (+) or sold (-)."),
        Column("transaction_price", "DOUBLE", num("transactionPrice"), "Average price."),
        Column("transaction_code", "VARCHAR", text("transactionCode"), "SEC Form 4 code."),
        Column("transaction_date", "DATE", day("transactionDate"), "Day of the transaction."),
        Column("filing_date", "DATE", day("filingDate"), "Day the form was filed."),
        Column(
            "is_derivative",
            "BOOLEAN",
            "TRY_CAST(item->>'isDerivative' AS BOOLEAN)",
            "A derivative (option, warrant) rather than a share transaction.",
        ),
        Column("currency", "VARCHAR", text("currency"), "Currency of the amounts."),
        Column("source", "VARCHAR", text("source"), "SEC form the row came from."),
    ),
    primary_key=("symbol", "transaction_id"),
    time_column="transaction_date",
    partition_by="month",
    rules=(
        missing("symbol"),
        missing("name", "insider name"),
        missing("transaction_date", "transaction date"),
        before_1900("transaction_date", "transaction date"),
        future("transaction_date", "transaction date"),
        Rule("filed before the transaction", "filing_date < transaction_date"),
        negative("share", "transaction_price"),
    ),
    # A filed transaction never changes; amendments are separate filings.
    on_conflict="keep",
    tags=("fundamentals", "free"),
)

IPO_CALENDAR = DatasetSpec(
    name="ipo_calendar",
    description="Upcoming and recent IPOs (`/calendar/ipo`).",
    endpoints=("ipo_calendar",),
    items="$.ipoCalendar[*]",
    columns=(
        Column(
            "listing",
            "VARCHAR",
            f"coalesce(upper({text('symbol')}), {text('name')})",
            "The symbol, or the company name while no symbol is assigned.",
        ),
        Column("ipo_date", "DATE", day("date"), "Expected or actual day of the IPO."),
        Column("symbol", "VARCHAR", f"upper({text('symbol')})", "Symbol, once assigned."),
        Column("name", "VARCHAR", text("name"), "Company name."),
        Column("exchange", "VARCHAR", text("exchange"), "Exchange of the listing."),
        Column("status", "VARCHAR", text("status"), "expected, priced, withdrawn or filed."),
        Column("price_range", "VARCHAR", text("price"), "Price or range as published."),
        Column(
            "price_low",
            "DOUBLE",
            f"TRY_CAST(trim(split_part({text('price')}, '-', 1)) AS DOUBLE)",
            "Low end of the price range.",
        ),
        Column(
            "price_high",
            "DOUBLE",
            f"TRY_CAST(trim(coalesce(NULLIF(split_part({text('price')}, '-', 2), ''), "
            f"split_part({text('price')}, '-', 1))) AS DOUBLE)",
            "High end of the price range.",
        ),
        Column("shares", "BIGINT", integer("numberOfShares"), "Shares offered."),
        Column("total_value", "DOUBLE", num("totalSharesValue"), "Value of the offering."),
    ),
    # A company goes public once: when its expected date moves, the newer delivery replaces
    # the row instead of listing the company on both days.
    primary_key=("listing",),
    time_column="ipo_date",
    partition_by="month",
    rules=(
        missing("listing", "symbol and name"),
        missing("ipo_date", "IPO date"),
        before_1900("ipo_date", "IPO date"),
        future("ipo_date", "IPO date more than two years", days=731),
        Rule("price range low above high", "price_low > price_high"),
        negative("shares", "total_value", "price_low"),
    ),
    # Status and price range change from filed to expected to priced: the newest wins.
    on_conflict="latest",
    tags=("calendar", "free"),
)

DIVIDENDS = DatasetSpec(
    name="dividends",
    description="Dividends per ex-dividend date (`/stock/dividend`, premium).",
    endpoints=("dividends",),
    items="$[*]",
    columns=(
        Column("symbol", "VARCHAR", symbol_of("item"), "Ticker symbol."),
        Column("ex_date", "DATE", day("date"), "Ex-dividend date."),
        Column("amount", "DOUBLE", num("amount"), "Per share, in `currency`."),
        Column("adjusted_amount", "DOUBLE", num("adjustedAmount"), "Adjusted for splits."),
        Column("pay_date", "DATE", day("payDate"), "Day the dividend is paid."),
        Column("record_date", "DATE", day("recordDate"), "Record date."),
        Column(
            "declaration_date", "DATE", day("declarationDate"), "Day the dividend was declared."
        ),
        Column("currency", "VARCHAR", text("currency"), "Currency of the amounts."),
    ),
    primary_key=("symbol", "ex_date"),
    time_column="ex_date",
    partition_by="year",
    rules=(
        missing("symbol"),
        missing("ex_date", "ex-dividend date"),
        before_1900("ex_date", "ex-dividend date"),
        future("ex_date", "ex-dividend date more than a year", days=366),
        Rule("non-positive amount", "amount <= 0"),
        Rule("paid before the ex-dividend date", "pay_date < ex_date"),
    ),
    # Split adjustments change `adjusted_amount` of past dividends: the newest fetch wins.
    on_conflict="latest",
    premium=True,
    # A declared dividend's ex, record and pay dates lie ahead: not a data error.
    tags=("fundamentals", "premium", "forward"),
)
