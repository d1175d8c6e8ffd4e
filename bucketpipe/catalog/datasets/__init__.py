"""The built-in datasets, declared once: what the write side extracts and the read side sees."""

from __future__ import annotations

from bucketpipe.catalog.datasets import bars, corporate, financials, finnhub, market
from bucketpipe.catalog.spec import DatasetSpec

# Catalog order (clean cleans in it, docs/datasets.md lists in it): derived datasets first,
# then the market, corporate, financial and news datasets.
DATASETS: tuple[DatasetSpec, ...] = (
    bars.DAILY_BARS,
    bars.DAILY_INDICATORS,
    bars.MARKET_OVERVIEW,
    market.QUOTES,
    market.COMPANY_PROFILES,
    corporate.EARNINGS,
    corporate.EARNINGS_CALENDAR,
    corporate.RECOMMENDATIONS,
    corporate.INSIDER_TRANSACTIONS,
    corporate.IPO_CALENDAR,
    corporate.DIVIDENDS,
    financials.BASIC_FINANCIALS,
    financials.FINANCIALS_REPORTED,
    financials.FINANCIALS_LINE_ITEMS,
    finnhub.COMPANY_NEWS,
    finnhub.MARKET_NEWS,
    finnhub.CANDLES,
    finnhub.SOCIAL_SENTIMENT,
)

__all__ = ["DATASETS"]
