"""Demo bodies of Finnhub's company fundamentals: earnings, calendars, analysts, insiders,
metrics, reported financials and dividends, each consistent with the demo's prices."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any, NamedTuple

from bucketpipe.ingest.demo.model import (
    close_price,
    company,
    daily_volume,
    quarter_ends,
    rng,
    trading_days,
    weekday_on_or_after,
)


# --- an earnings model shared by every endpoint that reports on it ----------------------------
def pe_target(symbol: str) -> float:
    return rng("pe", symbol).uniform(18, 45)


def net_margin(symbol: str) -> float:
    return rng("margin", symbol).uniform(0.08, 0.3)


def annual_eps(seed: int, symbol: str, year: int) -> float:
    growth = rng("growth", seed, symbol).uniform(1.03, 1.15)
    return company(symbol).base_price / pe_target(symbol) * growth ** (year - 2025)


def annual_revenue(seed: int, symbol: str, year: int) -> float:
    net_income = annual_eps(seed, symbol, year) * company(symbol).shares_millions * 1e6
    return net_income / net_margin(symbol)


class QuarterResult(NamedTuple):
    estimate: float
    actual: float
    revenue_estimate: float
    revenue_actual: float


def quarter_result(seed: int, symbol: str, period: date) -> QuarterResult:
    """EPS and revenue of the quarter ending `period`: consensus and reported."""
    true_eps = annual_eps(seed, symbol, period.year) / 4 * (1 + 0.06 * math.sin(period.month))
    revenue = annual_revenue(seed, symbol, period.year) / 4
    gen = rng("quarter", seed, symbol, period)
    return QuarterResult(
        estimate=round(true_eps * (1 + gen.gauss(0, 0.03)), 4),
        actual=round(true_eps * (1 + gen.gauss(0.01, 0.03)), 4),
        revenue_estimate=round(revenue * (1 + gen.gauss(0, 0.02))),
        revenue_actual=round(revenue * (1 + gen.gauss(0.005, 0.02))),
    )


def quarter_of(period: date) -> int:
    return (period.month - 1) // 3 + 1


# --- bodies -------------------------------------------------------------------------------------
def earnings_body(seed: int, symbol: str, today: date, *, quarters: int = 8) -> list[Any]:
    """`/stock/earnings`: the last quarters reported (about five weeks after they end)."""
    out: list[dict[str, Any]] = []
    for period in quarter_ends(today - timedelta(days=35), quarters):
        result = quarter_result(seed, symbol, period)
        surprise = round(result.actual - result.estimate, 4)
        out.append(
            {
                "actual": result.actual,
                "estimate": result.estimate,
                "period": period.isoformat(),
                "quarter": quarter_of(period),
                "surprise": surprise,
                "surprisePercent": round(surprise / abs(result.estimate) * 100, 4),
                "symbol": symbol,
                "year": period.year,
            }
        )
    return out


def report_date(seed: int, symbol: str, period: date) -> date:
    return weekday_on_or_after(
        period + timedelta(days=rng("report", seed, symbol, period).randint(24, 34))
    )


def earnings_calendar_body(
    seed: int, symbols: list[str], start: date, stop: date, today: date
) -> dict[str, Any]:
    """`/calendar/earnings`: releases between `start` and `stop`; actuals once released."""
    entries: list[dict[str, Any]] = []
    for symbol in symbols:
        for period in quarter_ends(stop, 3):
            released = report_date(seed, symbol, period)
            if not start <= released <= stop:
                continue
            result = quarter_result(seed, symbol, period)
            done = released <= today
            entries.append(
                {
                    "date": released.isoformat(),
                    "epsActual": result.actual if done else None,
                    "epsEstimate": result.estimate,
                    "hour": rng("hour", symbol).choice(["bmo", "amc"]),
                    "quarter": quarter_of(period),
                    "revenueActual": result.revenue_actual if done else None,
                    "revenueEstimate": result.revenue_estimate,
                    "symbol": symbol,
                    "year": period.year,
                }
            )
    entries.sort(key=lambda e: (e["date"], e["symbol"]))
    return {"earningsCalendar": entries}


def recommendations_body(seed: int, symbol: str, today: date, *, months: int = 6) -> list[Any]:
    """`/stock/recommendation`: analyst counts for the last months, newest first."""
    base = rng("analysts", symbol).randint(20, 55)
    tilt = rng("tilt", seed, symbol).uniform(-0.15, 0.2)
    out = []
    year, month = today.year, today.month
    for _ in range(months):
        gen = rng("recommendation", seed, symbol, year, month)
        total = base + gen.randint(-2, 2)
        weights = [0.22 + tilt, 0.38, 0.30 - tilt, 0.07, 0.03]
        weights = [max(0.01, w + gen.uniform(-0.02, 0.02)) for w in weights]
        counts = [int(total * w / sum(weights)) for w in weights]
        counts[2] += total - sum(counts)  # rounding leftovers are holds
        strong_buy, buy, hold, sell, strong_sell = counts
        out.append(
            {
                "buy": buy,
                "hold": hold,
                "period": date(year, month, 1).isoformat(),
                "sell": sell,
                "strongBuy": strong_buy,
                "strongSell": strong_sell,
                "symbol": symbol,
            }
        )
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


FIRST = ("Alex", "Maria", "Jordan", "Priya", "Sam", "Elena", "Chris", "Dana", "Lee", "Noor")
LAST = ("Whitfield", "Okafor", "Lindqvist", "Moreau", "Castillo", "Brandt", "Hale", "Ito")
# Form 4 codes: S sale, P purchase, M option exercise, A award, F tax withholding.
CODES = ("S", "S", "S", "P", "M", "A", "F")


def insider_transactions_body(seed: int, symbol: str, start: date, today: date) -> dict[str, Any]:
    """`/stock/insider-transactions`: Form 4 filings between `start` and `today`."""
    names_rng = rng("insiders", symbol)
    insiders = [f"{names_rng.choice(LAST)} {names_rng.choice(FIRST)}" for _ in range(5)]
    data: list[dict[str, Any]] = []
    week = start - timedelta(days=start.weekday())
    while week <= today:
        gen = rng("insider", seed, symbol, week)
        if gen.random() < 0.35:
            day = week + timedelta(days=gen.randint(0, 4))
            filed = weekday_on_or_after(day + timedelta(days=2))
            if start <= day and filed <= today:
                code = gen.choice(CODES)
                name = gen.choice(insiders)
                change = gen.randint(500, 60_000) * (-1 if code in ("S", "F") else 1)
                price = close_price(seed, symbol, day)
                held = rng("holding", symbol, name).randint(50_000, 3_000_000)
                data.append(
                    {
                        "name": name,
                        "share": max(0, held + change),
                        "change": change,
                        "filingDate": filed.isoformat(),
                        "transactionDate": day.isoformat(),
                        "transactionCode": code,
                        "transactionPrice": {"A": 0.0, "M": round(price * 0.4, 2)}.get(code, price),
                        "symbol": symbol,
                        "currency": "USD",
                        "isDerivative": code == "M",
                        "source": "4",
                    }
                )
        week += timedelta(days=7)
    data.sort(key=lambda t: t["transactionDate"], reverse=True)
    return {"data": data, "symbol": symbol}


# Quarterly dividend, first ex-dividend month (1-3), first payment (None: long-standing).
PAYERS: dict[str, tuple[float, int, date | None]] = {
    "AAPL": (0.25, 2, None),
    "MSFT": (0.83, 2, None),
    "GOOGL": (0.20, 3, date(2024, 6, 1)),
    "META": (0.50, 3, date(2024, 2, 1)),
    "NVDA": (0.01, 3, None),
}
NON_PAYERS = ("TSLA", "AMZN")


def dividend_policy(symbol: str) -> tuple[float, int, date | None] | None:
    if symbol in PAYERS:
        return PAYERS[symbol]
    gen = rng("dividend", symbol)
    if symbol in NON_PAYERS or gen.random() < 0.6:
        return None
    return round(company(symbol).base_price * 0.005, 2), gen.randint(1, 3), None


def dividends_body(symbol: str, start: date, today: date) -> list[Any]:
    """`/stock/dividend`: quarterly dividends declared between `start` and `today`."""
    policy = dividend_policy(symbol)
    if policy is None:
        return []
    amount, first_month, since = policy
    out = []
    for year in range(start.year, today.year + 2):
        for month in range(first_month, 13, 3):
            ex = weekday_on_or_after(
                date(year, month, 8 + rng("ex", symbol, year, month).randint(0, 6))
            )
            declared = ex - timedelta(days=14)
            if ex < start or declared > today or (since and ex < since):
                continue
            out.append(
                {
                    "symbol": symbol,
                    "date": ex.isoformat(),
                    "amount": amount,
                    "adjustedAmount": amount,
                    "payDate": weekday_on_or_after(ex + timedelta(days=7)).isoformat(),
                    "recordDate": weekday_on_or_after(ex + timedelta(days=1)).isoformat(),
                    "declarationDate": declared.isoformat(),
                    "currency": "USD",
                }
            )
    out.sort(key=lambda d: str(d["date"]), reverse=True)
    return out


def basic_financials_body(seed: int, symbol: str, today: date) -> dict[str, Any]:
    """`/stock/metric?metric=all`: key metrics consistent with prices, earnings, dividends."""
    days = trading_days(today, 365)
    closes = [(close_price(seed, symbol, d), d) for d in days]
    price = closes[-1][0]
    high, high_day = max(closes)
    low, low_day = min(closes)
    volumes = [daily_volume(seed, symbol, d) for d in days[-63:]]
    periods = quarter_ends(today - timedelta(days=35), 4)
    eps = round(sum(quarter_result(seed, symbol, p).actual for p in periods), 4)
    policy = dividend_policy(symbol)
    gen = rng("metrics", seed, symbol)
    shares = company(symbol).shares_millions
    revenue = annual_revenue(seed, symbol, today.year - 1)
    metric = {
        "10DayAverageTradingVolume": round(sum(volumes[-10:]) / 10 / 1e6, 5),
        "3MonthAverageTradingVolume": round(sum(volumes) / len(volumes) / 1e6, 5),
        "52WeekHigh": high,
        "52WeekHighDate": high_day.isoformat(),
        "52WeekLow": low,
        "52WeekLowDate": low_day.isoformat(),
        "52WeekPriceReturnDaily": round((price / closes[0][0] - 1) * 100, 4),
        "beta": round(gen.uniform(0.8, 1.9), 4),
        "epsTTM": eps,
        "epsBasicExclExtraItemsTTM": eps,
        "peTTM": round(price / eps, 4) if eps > 0 else None,
        "peBasicExclExtraTTM": round(price / eps, 4) if eps > 0 else None,
        "dividendYieldIndicatedAnnual": round(policy[0] * 4 / price * 100, 4) if policy else None,
        "marketCapitalization": round(price * shares, 2),
        "revenueGrowthTTMYoy": round(gen.uniform(-5, 25), 4),
        "grossMarginTTM": round(gen.uniform(35, 75), 4),
        "netProfitMarginTTM": round(net_margin(symbol) * 100, 4),
        "roeTTM": round(gen.uniform(8, 60), 4),
        "pbQuarterly": round(gen.uniform(2, 40), 4),
        "psTTM": round(price * shares * 1e6 / revenue, 4),
        "currentRatioQuarterly": round(gen.uniform(0.8, 3.5), 4),
        "totalDebt/totalEquityQuarterly": round(gen.uniform(0.05, 2.0), 4),
    }
    series = [
        {"period": f"{year}-12-31", "v": round(annual_eps(seed, symbol, year), 4)}
        for year in range(today.year - 1, today.year - 5, -1)
    ]
    return {
        "metric": metric,
        "metricType": "all",
        "series": {"annual": {"eps": series}},
        "symbol": symbol,
    }
