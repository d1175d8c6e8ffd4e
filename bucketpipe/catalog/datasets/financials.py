"""Finnhub company financials: key metrics, reported filings and their line items."""

from __future__ import annotations

from bucketpipe.catalog.datasets.fields import (
    before_1900,
    day,
    future,
    integer,
    line_value,
    metric,
    missing,
    symbol_of,
)
from bucketpipe.catalog.datasets.market import text
from bucketpipe.catalog.spec import Arrays, Column, DatasetSpec, Rule


def metric_day(key: str) -> str:
    """A date of Finnhub's `metric` object."""
    return f"TRY_CAST(left(json_extract_string(item, '$.metric.\"{key}\"'), 10) AS DATE)"


BASIC_FINANCIALS = DatasetSpec(
    name="basic_financials",
    description="Key metrics per symbol and day fetched: 52-week range, beta, valuation, "
    "margins (`/stock/metric`). `metric` keeps Finnhub's whole object.",
    endpoints=("basic_financials",),
    columns=(
        Column("symbol", "VARCHAR", symbol_of("item"), "Ticker symbol."),
        Column("as_of", "DATE", "CAST(requested_at AS DATE)", "Day the metrics were fetched."),
        Column("week52_high", "DOUBLE", metric("52WeekHigh"), "52-week high price."),
        Column("week52_low", "DOUBLE", metric("52WeekLow"), "52-week low price."),
        Column(
            "week52_high_date",
            "DATE",
            metric_day("52WeekHighDate"),
            "Day of the 52-week high.",
        ),
        Column(
            "week52_low_date",
            "DATE",
            metric_day("52WeekLowDate"),
            "Day of the 52-week low.",
        ),
        Column(
            "week52_return_pct",
            "DOUBLE",
            metric("52WeekPriceReturnDaily"),
            "Price return over 52 weeks in %.",
        ),
        Column("beta", "DOUBLE", metric("beta"), "Beta against the market."),
        Column(
            "pe_ttm",
            "DOUBLE",
            f"coalesce({metric('peTTM')}, {metric('peBasicExclExtraTTM')})",
            "Price / earnings, trailing twelve months.",
        ),
        Column(
            "eps_ttm",
            "DOUBLE",
            f"coalesce({metric('epsTTM')}, {metric('epsBasicExclExtraItemsTTM')})",
            "Earnings per share, trailing twelve months.",
        ),
        Column(
            "dividend_yield_pct",
            "DOUBLE",
            f"coalesce({metric('dividendYieldIndicatedAnnual')}, "
            f"{metric('currentDividendYieldTTM')})",
            "Indicated annual dividend yield in %.",
        ),
        Column(
            "market_cap",
            "DOUBLE",
            metric("marketCapitalization"),
            "Millions of the reporting currency.",
        ),
        Column(
            "avg_volume_10d",
            "DOUBLE",
            metric("10DayAverageTradingVolume"),
            "Average daily volume over 10 days, millions of shares.",
        ),
        Column(
            "avg_volume_3m",
            "DOUBLE",
            metric("3MonthAverageTradingVolume"),
            "Average daily volume over 3 months, millions of shares.",
        ),
        Column(
            "revenue_growth_ttm_pct",
            "DOUBLE",
            metric("revenueGrowthTTMYoy"),
            "Revenue growth, trailing twelve months, year on year, in %.",
        ),
        Column(
            "gross_margin_ttm_pct",
            "DOUBLE",
            metric("grossMarginTTM"),
            "Gross margin, trailing twelve months, in %.",
        ),
        Column(
            "net_margin_ttm_pct",
            "DOUBLE",
            metric("netProfitMarginTTM"),
            "Net profit margin, trailing twelve months, in %.",
        ),
        Column("roe_ttm_pct", "DOUBLE", metric("roeTTM"), "Return on equity in %."),
        Column(
            "price_to_book",
            "DOUBLE",
            f"coalesce({metric('pbQuarterly')}, {metric('pbAnnual')})",
            "Price / book value, latest quarter (else annual).",
        ),
        Column(
            "price_to_sales_ttm",
            "DOUBLE",
            metric("psTTM"),
            "Price / sales, trailing twelve months.",
        ),
        Column(
            "current_ratio",
            "DOUBLE",
            metric("currentRatioQuarterly"),
            "Current assets / current liabilities, latest quarter.",
        ),
        Column(
            "debt_to_equity",
            "DOUBLE",
            metric("totalDebt/totalEquityQuarterly"),
            "Total debt / total equity, latest quarter.",
        ),
        Column("metric", "JSON", "item->'metric'", "Finnhub's whole `metric` object."),
    ),
    primary_key=("symbol", "as_of"),
    time_column="as_of",
    partition_by="month",
    rules=(
        Rule(
            "unknown symbol: no metrics",
            "metric IS NULL OR json_type(metric) <> 'OBJECT' "
            "OR coalesce(len(json_keys(metric)), 0) = 0",
        ),
        missing("symbol"),
        Rule("52-week high below 52-week low", "week52_high < week52_low"),
        Rule("negative market capitalisation", "market_cap < 0"),
    ),
    # A second fetch on the same day carries fresher figures: the newest wins.
    on_conflict="latest",
    tags=("fundamentals", "free"),
)

# Columns shared by a filing and its line items; `src` is the filing's JSON object.
FILING_KEY = ("symbol", "access_number")


def filing_columns(src: str) -> tuple[Column, ...]:
    return (
        Column("symbol", "VARCHAR", symbol_of(src, "body"), "Ticker symbol."),
        Column(
            "access_number",
            "VARCHAR",
            f"NULLIF(trim({src}->>'accessNumber'), '')",
            "SEC accession number of the filing.",
        ),
        Column("year", "INTEGER", integer("year", src), "Fiscal year."),
        Column("quarter", "INTEGER", integer("quarter", src), "0 for an annual report."),
        Column("form", "VARCHAR", f"NULLIF(trim({src}->>'form'), '')", "10-K, 10-Q, 20-F..."),
        Column("start_date", "DATE", day("startDate", src), "Start of the period covered."),
        Column("end_date", "DATE", day("endDate", src), "End of the period covered."),
        Column("filed_date", "DATE", day("filedDate", src), "Day the filing was made."),
    )


FILING_RULES = (
    missing("symbol"),
    missing("access_number", "access number"),
    missing("filed_date", "filing date"),
    before_1900("filed_date", "filing date"),
    future("filed_date", "filing date"),
    Rule("period ends before it starts", "end_date < start_date"),
)

FINANCIALS_REPORTED = DatasetSpec(
    name="financials_reported",
    description="Financial statements as reported to the SEC, one row per filing, with "
    "key figures and the whole report (`/stock/financials-reported`).",
    endpoints=("financials_reported",),
    items="$.data[*]",
    columns=(
        *filing_columns("item"),
        Column("cik", "VARCHAR", text("cik"), "SEC central index key."),
        Column(
            "accepted_at",
            "TIMESTAMPTZ",
            "timezone('UTC', TRY_CAST(item->>'acceptedDate' AS TIMESTAMP))",
            "When the SEC accepted the filing.",
        ),
        Column(
            "revenue",
            "DOUBLE",
            line_value(
                "ic",
                "Revenues",
                "RevenueFromContractWithCustomerExcludingAssessedTax",
                "SalesRevenueNet",
            ),
            "Total revenue (income statement).",
        ),
        Column(
            "net_income",
            "DOUBLE",
            line_value("ic", "NetIncomeLoss", "ProfitLoss"),
            "Net income (income statement).",
        ),
        Column(
            "eps_diluted",
            "DOUBLE",
            line_value("ic", "EarningsPerShareDiluted"),
            "Diluted earnings per share.",
        ),
        Column(
            "total_assets",
            "DOUBLE",
            line_value("bs", "Assets"),
            "Total assets (balance sheet).",
        ),
        Column(
            "total_liabilities",
            "DOUBLE",
            line_value("bs", "Liabilities"),
            "Total liabilities (balance sheet).",
        ),
        Column(
            "stockholders_equity",
            "DOUBLE",
            line_value(
                "bs",
                "StockholdersEquity",
                "StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
            ),
            "Total stockholders' equity (balance sheet).",
        ),
        Column(
            "operating_cash_flow",
            "DOUBLE",
            line_value("cf", "NetCashProvidedByUsedInOperatingActivities"),
            "Net cash from operating activities (cash flow statement).",
        ),
        Column("report", "JSON", "item->'report'", "The whole report: bs, ic, cf arrays."),
    ),
    primary_key=FILING_KEY,
    time_column="filed_date",
    partition_by="year",
    rules=FILING_RULES,
    # Finnhub re-parses filings now and then: the newest fetch of a filing wins.
    on_conflict="latest",
    tags=("fundamentals", "free"),
)

FINANCIALS_LINE_ITEMS = DatasetSpec(
    name="financials_line_items",
    description="Every line of every reported statement in long form: one row per "
    "filing, statement (bs, ic, cf) and concept (`/stock/financials-reported`).",
    endpoints=("financials_reported",),
    items=Arrays(
        (("bs", "$.report.bs[*]"), ("ic", "$.report.ic[*]"), ("cf", "$.report.cf[*]")),
        within="$.data[*]",
    ),
    columns=(
        *filing_columns("parent"),
        Column(
            "statement",
            "VARCHAR",
            "item_source",
            "bs (balance sheet), ic (income statement) or cf (cash flow).",
        ),
        Column("concept", "VARCHAR", text("concept"), "XBRL concept, e.g. us-gaap_Assets."),
        Column("label", "VARCHAR", text("label"), "The line's label in the filing."),
        Column("unit", "VARCHAR", text("unit"), "usd, shares, usd/shares..."),
        Column(
            "value",
            "DOUBLE",
            "TRY_CAST(item->>'value' AS DOUBLE)",
            "The reported value, in `unit`.",
        ),
    ),
    # A concept appearing twice in one statement is kept once.
    primary_key=(*FILING_KEY, "statement", "concept"),
    time_column="filed_date",
    partition_by="year",
    rules=(*FILING_RULES, missing("concept"), missing("value")),
    on_conflict="latest",  # follows financials_reported
    tags=("fundamentals", "free"),
)
