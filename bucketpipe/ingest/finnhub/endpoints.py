"""Every Finnhub endpoint Bucketpipe fetches: its dataset, raw endpoint name, path and cadence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Scope = Literal["symbol", "market"]
BodyKind = Literal["object", "list"]

SOURCE = "finnhub"
EVERY_RUN = timedelta(0)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Endpoint:
    """One API endpoint and how Bucketpipe uses it.

    `dataset` is the name users switch on and off (`BUCKETPIPE_FINNHUB_DATASETS`) and the key
    of the manifest's `endpoints`; `name` is the `endpoint` of every raw line it produces,
    which the dataset catalog selects on.
    """

    dataset: str
    name: str
    path: str
    scope: Scope
    cadence: timedelta
    body: BodyKind
    premium: bool = False
    description: str = ""


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("quotes", "quote", "/quote", "symbol", EVERY_RUN, "object", False,
             "Real-time quote: price, day range, previous close, change."),
    Endpoint("company_profiles", "profile", "/stock/profile2", "symbol", DAY, "object", False,
             "Company profile: name, exchange, industry, IPO date, market cap."),
    Endpoint("company_news", "company_news", "/company-news", "symbol", HOUR, "list", False,
             "Company news since the last fetch, in date windows."),
    Endpoint("market_news", "market_news", "/news", "market", EVERY_RUN, "list", False,
             "Market news per category, only items newer than the last id seen (`minId`)."),
    Endpoint("earnings", "earnings", "/stock/earnings", "symbol", DAY, "list", False,
             "Quarterly earnings surprises (actual vs estimate) of the last quarters."),
    Endpoint("earnings_calendar", "earnings_calendar", "/calendar/earnings", "market", DAY,
             "object", False, "Earnings releases from a week ago to the calendar horizon."),
    Endpoint("financials_reported", "financials_reported", "/stock/financials-reported",
             "symbol", WEEK, "object", False, "Annual financial statements as reported."),
    Endpoint("basic_financials", "basic_financials", "/stock/metric", "symbol", DAY, "object",
             False, "Key metrics and their annual/quarterly series (`metric=all`)."),
    Endpoint("insider_transactions", "insider_transactions", "/stock/insider-transactions",
             "symbol", DAY, "object", False, "Insider transactions of the last days."),
    Endpoint("recommendations", "recommendations", "/stock/recommendation", "symbol", DAY,
             "list", False, "Analyst recommendation trends per month."),
    Endpoint("ipo_calendar", "ipo_calendar", "/calendar/ipo", "market", DAY, "object", False,
             "IPOs from today to the calendar horizon."),
    Endpoint("candles", "candles", "/stock/candle", "symbol", DAY, "object", True,
             "Daily OHLCV candles (premium)."),
    Endpoint("social_sentiment", "social_sentiment", "/stock/social-sentiment", "symbol", DAY,
             "object", True, "Social media mentions and sentiment scores (premium)."),
    Endpoint("dividends", "dividends", "/stock/dividend", "symbol", WEEK, "list", True,
             "Dividends of the last years (premium)."),
)  # fmt: skip

BY_DATASET: dict[str, Endpoint] = {e.dataset: e for e in ENDPOINTS}
BY_NAME: dict[str, Endpoint] = {e.name: e for e in ENDPOINTS}


def endpoint(dataset: str) -> Endpoint:
    """The endpoint of a dataset (KeyError with the known names otherwise)."""
    try:
        return BY_DATASET[dataset]
    except KeyError:
        raise KeyError(f"unknown Finnhub dataset {dataset!r}; known: {list(BY_DATASET)}") from None
