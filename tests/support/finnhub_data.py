"""Deterministic Finnhub bodies per symbol and date, in the shapes of `finnhub_samples/`.

Every value is a pure function of the request (and the server's clock for "now"), so two
calls with overlapping ranges return the same items with the same ids, as the real API does.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bucketpipe.ingest.demo.generate import COMPANIES, company

CATEGORIES = ("general", "forex", "crypto", "merger")
NEWS_EVERY_SECONDS = 1200  # one market news item per category every 20 minutes
MARKET_NEWS_LIMIT = 100


def rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def stable_id(*parts: object, modulo: int = 900_000_000) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return 100_000_000 + int.from_bytes(digest[:8], "big") % modulo


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def unix(day: date, at: time = time()) -> int:
    return int(datetime.combine(day, at, UTC).timestamp())


def _day(text: str) -> date:
    return date.fromisoformat(text)


def quote(symbol: str, now: datetime) -> dict[str, Any]:
    base = company(symbol)[3]
    minute = int(now.timestamp()) // 60
    r = rng("quote", symbol, minute)
    day_r = rng("day", symbol, now.date())
    prev_close = round(base * (1 + day_r.gauss(0, 0.01)), 2)
    opening = round(prev_close * (1 + day_r.gauss(0, 0.004)), 2)
    price = round(opening * (1 + r.gauss(0, 0.006)), 2)
    high = round(max(price, opening) * (1 + abs(day_r.gauss(0, 0.003))), 2)
    low = round(min(price, opening) * (1 - abs(day_r.gauss(0, 0.003))), 2)
    change = round(price - prev_close, 2)
    return {
        "c": price,
        "d": change,
        "dp": round(change / prev_close * 100, 4),
        "h": high,
        "l": low,
        "o": opening,
        "pc": prev_close,
        "t": minute * 60,
    }


def profile(symbol: str) -> dict[str, Any]:
    name, industry, exchange, base, shares, ipo, web = company(symbol)
    return {
        "country": "US",
        "currency": "USD",
        "estimateCurrency": "USD",
        "exchange": exchange,
        "finnhubIndustry": industry,
        "ipo": ipo,
        "logo": f"https://static2.finnhub.io/file/publicdatany/finnhubimage/stock_logo/{symbol}.png",
        "marketCapitalization": round(base * shares, 2),
        "name": name,
        "phone": "14089961010",
        "shareOutstanding": shares,
        "ticker": symbol,
        "weburl": web,
    }


def _news_item(category: str, item_id: int, at: int, related: str, title: str) -> dict[str, Any]:
    return {
        "category": category,
        "datetime": at,
        "headline": title,
        "id": item_id,
        "image": f"https://images.example.com/news/{item_id}.jpg",
        "related": related,
        "source": rng("source", item_id).choice(["Reuters", "CNBC", "Yahoo", "MarketWatch"]),
        "summary": f"{title}. Summary of article {item_id}.",
        "url": f"https://news.example.com/articles/{item_id}",
    }


def company_news(symbol: str, start: date, end: date, today: date) -> list[dict[str, Any]]:
    """Two articles per day of the range (none after today), newest first like the API."""
    items = []
    for day in days(start, min(end, today)):
        for k in range(2):
            at = unix(day, time(13 + 3 * k, 7 * k))
            title = f"{company(symbol)[0]} news {day.isoformat()} #{k + 1}"
            items.append(_news_item("company", stable_id(symbol, day, k), at, symbol, title))
    return sorted(items, key=lambda i: i["datetime"], reverse=True)


def market_news(category: str, min_id: int, now: datetime) -> list[dict[str, Any]]:
    """The latest items of a category feed with an id above `min_id`, newest first."""
    offset = (CATEGORIES.index(category) + 1) * 100_000_000
    newest = int(now.timestamp()) // NEWS_EVERY_SECONDS
    items = []
    for tick in range(newest, newest - MARKET_NEWS_LIMIT, -1):
        item_id = offset + tick
        if item_id <= min_id:
            break
        title = f"{category.title()} market update {tick}"
        items.append(_news_item(category, item_id, tick * NEWS_EVERY_SECONDS, "", title))
    return items


def quarter_ends(today: date, count: int) -> list[date]:
    ends = []
    year, quarter = today.year, (today.month - 1) // 3  # the last finished quarter
    for _ in range(count):
        if quarter == 0:
            year, quarter = year - 1, 4
        month = quarter * 3
        ends.append(date(year, month, 31 if month in (3, 12) else 30))
        quarter -= 1
    return ends


def earnings(symbol: str, today: date) -> list[dict[str, Any]]:
    out = []
    for end in quarter_ends(today, 4):
        r = rng("eps", symbol, end)
        estimate = round(r.uniform(0.5, 3.0), 4)
        actual = round(estimate * (1 + r.gauss(0, 0.05)), 2)
        surprise = round(actual - estimate, 4)
        out.append(
            {
                "actual": actual,
                "estimate": estimate,
                "period": end.isoformat(),
                "quarter": (end.month - 1) // 3 + 1,
                "surprise": surprise,
                "surprisePercent": round(surprise / estimate * 100, 4),
                "symbol": symbol,
                "year": end.year,
            }
        )
    return out


def earnings_calendar(start: date, end: date, today: date) -> dict[str, Any]:
    """Each known company reports once a quarter on a day fixed by its name."""
    entries = []
    for symbol in sorted(COMPANIES):
        for day in days(start, end):
            if (day.toordinal() + stable_id(symbol)) % 91 != 0:
                continue
            r = rng("calendar", symbol, day)
            estimate = round(r.uniform(0.5, 3.0), 4)
            reported = day < today
            revenue = round(r.uniform(5e9, 1e11))
            entries.append(
                {
                    "date": day.isoformat(),
                    "epsActual": round(estimate * (1 + r.gauss(0, 0.05)), 2) if reported else None,
                    "epsEstimate": estimate,
                    "hour": r.choice(["bmo", "amc"]),
                    "quarter": (day.month - 1) // 3 + 1,
                    "revenueActual": round(revenue * 1.02) if reported else None,
                    "revenueEstimate": revenue,
                    "symbol": symbol,
                    "year": day.year,
                }
            )
    return {"earningsCalendar": entries}


def financials_reported(symbol: str, today: date) -> dict[str, Any]:
    cik = str(stable_id("cik", symbol, modulo=900_000) - 100_000_000 + 100_000)
    reports = []
    for year in range(today.year - 1, today.year - 4, -1):
        r = rng("fin", symbol, year)
        revenue = round(r.uniform(2e10, 4e11))
        income = round(revenue * r.uniform(0.05, 0.3))
        serial = stable_id(symbol, year) % 10**6
        reports.append(
            {
                "accessNumber": f"{cik.zfill(10)}-{year % 100:02d}-{serial:06d}",
                "symbol": symbol,
                "cik": cik,
                "year": year,
                "quarter": 0,
                "form": "10-K",
                "startDate": f"{year - 1}-10-01 00:00:00",
                "endDate": f"{year}-09-30 00:00:00",
                "filedDate": f"{year}-10-31 00:00:00",
                "acceptedDate": f"{year}-10-30 18:12:36",
                "report": {
                    "bs": [
                        _line("us-gaap_Assets", "Total assets", revenue * 1.3),
                        _line("us-gaap_Liabilities", "Total liabilities", round(revenue * 0.95)),
                        _line("us-gaap_StockholdersEquity", "Total shareholders' equity",
                              round(revenue * 0.35)),
                    ],
                    "cf": [
                        _line("us-gaap_NetIncomeLoss", "Net income", income),
                        _line("us-gaap_NetCashProvidedByUsedInOperatingActivities",
                              "Cash generated by operating activities", round(income * 1.25)),
                    ],
                    "ic": [
                        _line("us-gaap_Revenues", "Net sales", revenue),
                        _line("us-gaap_NetIncomeLoss", "Net income", income),
                        _line("us-gaap_EarningsPerShareDiluted", "Diluted EPS",
                              round(r.uniform(1, 12), 2), "usd/shares"),
                    ],
                },
            }
        )  # fmt: skip
    return {"cik": cik, "data": reports, "symbol": symbol}


def _line(concept: str, label: str, value: float, unit: str = "usd") -> dict[str, Any]:
    return {"concept": concept, "label": label, "unit": unit, "value": value}


def basic_financials(symbol: str, today: date) -> dict[str, Any]:
    r = rng("metric", symbol, today)
    base = company(symbol)[3]
    annual = [date(today.year - n, 9, 30).isoformat() for n in range(1, 4)]
    quarterly = [d.isoformat() for d in quarter_ends(today, 4)]
    return {
        "metric": {
            "10DayAverageTradingVolume": round(r.uniform(10, 90), 5),
            "13WeekPriceReturnDaily": round(r.gauss(3, 8), 5),
            "26WeekPriceReturnDaily": round(r.gauss(6, 12), 5),
            "3MonthAverageTradingVolume": round(r.uniform(200, 1500), 5),
            "52WeekHigh": round(base * 1.25, 2),
            "52WeekHighDate": (today - timedelta(days=40)).isoformat(),
            "52WeekLow": round(base * 0.75, 2),
            "52WeekLowDate": (today - timedelta(days=250)).isoformat(),
            "52WeekPriceReturnDaily": round(r.gauss(10, 20), 5),
            "5DayPriceReturnDaily": round(r.gauss(0, 3), 5),
            "beta": round(r.uniform(0.6, 1.8), 4),
            "dividendYieldIndicatedAnnual": round(r.uniform(0, 3), 4),
            "currentRatioQuarterly": round(r.uniform(0.8, 2.5), 4),
            "epsTTM": round(r.uniform(1, 15), 4),
            "grossMarginTTM": round(r.uniform(20, 70), 4),
            "marketCapitalization": round(base * company(symbol)[4], 2),
            "netProfitMarginTTM": round(r.uniform(2, 35), 4),
            "pbAnnual": round(r.uniform(1, 40), 4),
            "pbQuarterly": round(r.uniform(1, 40), 4),
            "peTTM": round(r.uniform(10, 60), 4),
            "psTTM": round(r.uniform(1, 15), 4),
            "revenueGrowthTTMYoy": round(r.gauss(8, 10), 4),
            "revenuePerShareTTM": round(r.uniform(10, 80), 4),
            "roeTTM": round(r.uniform(5, 80), 4),
            "totalDebt/totalEquityQuarterly": round(r.uniform(0, 3), 4),
        },
        "metricType": "all",
        "series": {
            "annual": {
                name: [{"period": p, "v": round(rng(name, symbol, p).uniform(0.1, 2), 4)}
                       for p in annual]
                for name in ("currentRatio", "salesPerShare", "netMargin")
            },
            "quarterly": {
                "currentRatio": [{"period": p, "v": round(rng("cr", symbol, p).uniform(0.8, 2),
                                                          4)} for p in quarterly]
            },
        },
        "symbol": symbol,
    }  # fmt: skip


def insider_transactions(symbol: str, start: date, end: date) -> dict[str, Any]:
    """About one transaction a week, on days fixed by the symbol."""
    data = []
    for day in days(start, end):
        if (day.toordinal() + stable_id("insider", symbol)) % 7 != 0:
            continue
        r = rng("insider", symbol, day)
        change = r.choice([-1, 1]) * r.randint(100, 20_000)
        data.append(
            {
                "change": change,
                "currency": "USD",
                "filingDate": (day + timedelta(days=2)).isoformat(),
                "id": f"{stable_id('tx', symbol, day):x}-{symbol.lower()}",
                "isDerivative": r.random() < 0.2,
                "name": r.choice(["Cook Timothy D", "Maestri Luca", "Adams Katherine L"]),
                "share": r.randint(20_000, 3_000_000),
                "source": "S",
                "symbol": symbol,
                "transactionCode": "S" if change < 0 else r.choice(["P", "M", "A"]),
                "transactionDate": day.isoformat(),
                "transactionPrice": round(company(symbol)[3] * r.uniform(0.9, 1.1), 2),
            }
        )
    return {"data": sorted(data, key=lambda t: t["transactionDate"], reverse=True),
            "symbol": symbol}  # fmt: skip


def recommendations(symbol: str, today: date) -> list[dict[str, Any]]:
    out = []
    month = today.replace(day=1)
    for _ in range(4):
        r = rng("rec", symbol, month)
        out.append(
            {
                "buy": r.randint(5, 25),
                "hold": r.randint(3, 15),
                "period": month.isoformat(),
                "sell": r.randint(0, 5),
                "strongBuy": r.randint(2, 15),
                "strongSell": r.randint(0, 2),
                "symbol": symbol,
            }
        )
        month = (month - timedelta(days=1)).replace(day=1)
    return out


def ipo_calendar(start: date, end: date) -> dict[str, Any]:
    entries = []
    for day in days(start, end):
        if day.weekday() >= 5 or day.toordinal() % 3:
            continue
        r = rng("ipo", day)
        symbol = "".join(r.choice("ABCDEFGHIJKLMNOPRSTUVWXYZ") for _ in range(4))
        shares = r.randint(1, 40) * 500_000
        price = r.randint(8, 30)
        entries.append(
            {
                "date": day.isoformat(),
                "exchange": r.choice(["NASDAQ Global", "NYSE", "NASDAQ Capital"]),
                "name": f"{symbol} THERAPEUTICS, INC.",
                "numberOfShares": shares,
                "price": f"{price}.00-{price + 2}.00" if r.random() < 0.5 else f"{price}.00",
                "status": "priced" if r.random() < 0.3 else "expected",
                "symbol": symbol,
                "totalSharesValue": shares * price,
            }
        )
    return {"ipoCalendar": entries}


def candles(symbol: str, start_ts: int, end_ts: int) -> dict[str, Any]:
    """Daily bars of the weekdays in [start, end]; `{"s": "no_data"}` when there are none."""
    start = datetime.fromtimestamp(start_ts, UTC).date()
    end = datetime.fromtimestamp(end_ts, UTC).date()
    bars: dict[str, list[Any]] = {k: [] for k in ("c", "h", "l", "o", "t", "v")}
    for day in days(start, end):
        if day.weekday() >= 5:
            continue
        r = rng("bar", symbol, day)
        opening = round(company(symbol)[3] * (1 + r.gauss(0, 0.03)), 2)
        close = round(opening * (1 + r.gauss(0, 0.012)), 2)
        bars["o"].append(opening)
        bars["c"].append(close)
        bars["h"].append(round(max(opening, close) * (1 + abs(r.gauss(0, 0.005))), 2))
        bars["l"].append(round(min(opening, close) * (1 - abs(r.gauss(0, 0.005))), 2))
        bars["t"].append(unix(day))
        bars["v"].append(r.randint(5_000_000, 90_000_000))
    if not bars["t"]:
        return {"s": "no_data"}
    return {**bars, "s": "ok"}


def social_sentiment(symbol: str, start: date, end: date) -> dict[str, Any]:
    data = []
    for day in days(start, end):
        for hour in (0, 12):
            r = rng("social", symbol, day, hour)
            positive, negative = r.randint(0, 40), r.randint(0, 20)
            data.append(
                {
                    "atTime": f"{day.isoformat()} {hour:02d}:00:00",
                    "mention": positive + negative,
                    "positiveScore": round(r.uniform(0.5, 1), 4),
                    "negativeScore": round(-r.uniform(0.3, 1), 4) if negative else 0,
                    "positiveMention": positive,
                    "negativeMention": negative,
                    "score": round(r.uniform(-1, 1), 4),
                }
            )
    return {"data": data, "symbol": symbol}


def dividends(symbol: str, start: date, end: date) -> list[dict[str, Any]]:
    out = []
    for day in days(start, end):
        if day.day != 10 or day.month % 3:
            continue
        amount = round(0.2 + stable_id("div", symbol) % 50 / 100, 2)
        out.append(
            {
                "symbol": symbol,
                "date": day.isoformat(),
                "amount": amount,
                "adjustedAmount": amount,
                "payDate": (day + timedelta(days=14)).isoformat(),
                "recordDate": (day + timedelta(days=1)).isoformat(),
                "declarationDate": (day - timedelta(days=30)).isoformat(),
                "currency": "USD",
            }
        )
    return sorted(out, key=lambda d: d["date"], reverse=True)


# What an unknown symbol gets back from each path.
UNKNOWN: dict[str, Any] = {
    "/quote": {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0},
    "/stock/profile2": {},
    "/company-news": [],
    "/stock/earnings": [],
    "/stock/financials-reported": {"cik": "", "data": [], "symbol": ""},
    "/stock/metric": {"metric": {}, "metricType": "", "series": {}, "symbol": ""},
    "/stock/insider-transactions": {"data": [], "symbol": ""},
    "/stock/recommendation": [],
    "/stock/candle": {"s": "no_data"},
    "/stock/social-sentiment": {"data": [], "symbol": ""},
    "/stock/dividend": [],
}

Params = Mapping[str, str]


def _symbol_routes(now: datetime) -> dict[str, Callable[[str, Params], Any]]:
    today = now.astimezone(UTC).date()
    return {
        "/quote": lambda s, p: quote(s, now),
        "/stock/profile2": lambda s, p: profile(s),
        "/company-news": lambda s, p: company_news(s, _day(p["from"]), _day(p["to"]), today),
        "/stock/earnings": lambda s, p: earnings(s, today),
        "/stock/financials-reported": lambda s, p: financials_reported(s, today),
        "/stock/metric": lambda s, p: basic_financials(s, today),
        "/stock/insider-transactions": lambda s, p: insider_transactions(
            s, _day(p["from"]), _day(p["to"])
        ),
        "/stock/recommendation": lambda s, p: recommendations(s, today),
        "/stock/candle": lambda s, p: candles(s, int(p["from"]), int(p["to"])),
        "/stock/social-sentiment": lambda s, p: social_sentiment(s, _day(p["from"]), _day(p["to"])),
        "/stock/dividend": lambda s, p: dividends(s, _day(p["from"]), _day(p["to"])),
    }


# Parameters the real API refuses to do without.
REQUIRED: dict[str, tuple[str, ...]] = {
    "/quote": ("symbol",),
    "/stock/profile2": ("symbol",),
    "/company-news": ("symbol", "from", "to"),
    "/news": ("category",),
    "/stock/earnings": ("symbol",),
    "/calendar/earnings": ("from", "to"),
    "/stock/financials-reported": ("symbol",),
    "/stock/metric": ("symbol", "metric"),
    "/stock/insider-transactions": ("symbol",),
    "/stock/recommendation": ("symbol",),
    "/calendar/ipo": ("from", "to"),
    "/stock/candle": ("symbol", "resolution", "from", "to"),
    "/stock/social-sentiment": ("symbol",),
    "/stock/dividend": ("symbol", "from", "to"),
}
ROUTES = frozenset(REQUIRED)


def body_for(path: str, params: Params, now: datetime, unknown: frozenset[str]) -> Any:
    """The 200 body of a request (the path must be in ROUTES and its parameters complete)."""
    today = now.astimezone(UTC).date()
    if path == "/news":
        return market_news(params["category"], int(params.get("minId") or 0), now)
    if path == "/calendar/earnings":
        return earnings_calendar(_day(params["from"]), _day(params["to"]), today)
    if path == "/calendar/ipo":
        return ipo_calendar(_day(params["from"]), _day(params["to"]))
    symbol = params["symbol"].upper()
    if symbol in unknown:
        return UNKNOWN[path]
    defaults = {
        "from": (today - timedelta(days=365)).isoformat(),
        "to": today.isoformat(),
    }
    return _symbol_routes(now)[path](symbol, {**defaults, **params})
