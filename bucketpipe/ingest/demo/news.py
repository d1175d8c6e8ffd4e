"""Demo bodies of Finnhub's news, social sentiment and IPO calendar, from templates.

Article ids are stable hashes of what the article is about, so a later run that fetches the
same day again returns the same articles with the same ids.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bucketpipe.ingest.demo.model import company, day_change, rng, stable_id

SOURCES = ("Reuters", "Bloomberg", "CNBC", "MarketWatch", "Yahoo", "SeekingAlpha", "Benzinga")
TOPICS = (
    "AI spending",
    "supply chains",
    "interest rates",
    "regulation",
    "the demand outlook",
    "profit margins",
    "cloud growth",
    "consumer spending",
)
COMPANY_HEADLINES = (
    "{name} shares {move} as investors weigh {topic}",
    "Analysts {verb} {symbol} price target after a look at {topic}",
    "{name} unveils plans to expand in {topic}",
    "What {name}'s latest filing says about {topic}",
    "{name} executive says {topic} will shape next year",
    "{symbol} stock: three things to watch as {topic} dominates",
)
MARKET_HEADLINES: dict[str, tuple[str, ...]] = {
    "general": (
        "Stocks {move} as traders weigh {topic}",
        "Treasury yields {move} ahead of a key reading on {topic}",
        "Oil {move} as markets digest {topic}",
    ),
    "forex": (
        "Dollar {move} against the euro as {topic} comes into focus",
        "Yen {move} after comments on {topic}",
    ),
    "crypto": (
        "Bitcoin {move} as {topic} weighs on risk appetite",
        "Ether {move} while exchanges report record volumes",
    ),
    "merger": (
        "{buyer} agrees to buy {target} in a deal driven by {topic}",
        "{buyer} explores a sale of its {unit} unit",
    ),
}
PARTS = ("Northwind", "Bluefin", "Crescent", "Ironbark", "Lumen", "Solace", "Tidewater", "Vantor")
KINDS = ("Robotics", "Therapeutics", "Logistics", "Energy", "Software", "Foods", "Materials")


def _move(change: float) -> str:
    if change > 0.01:
        return "jump"
    if change > 0:
        return "edge higher"
    if change > -0.01:
        return "slip"
    return "tumble"


def _article(ident: int, published: datetime, headline: str, summary: str) -> dict[str, Any]:
    return {
        "datetime": int(published.timestamp()),
        "headline": headline,
        "id": ident,
        "image": f"https://example.com/images/{ident}.jpg",
        "source": rng("source", ident).choice(SOURCES),
        "summary": summary,
        "url": f"https://example.com/news/{ident}",
    }


def _published(gen_seed: object, day: date) -> datetime:
    gen = rng("published", gen_seed)
    return datetime.combine(day, time(gen.randint(0, 23), gen.randint(0, 59)), UTC)


def company_news_body(
    seed: int, symbol: str, days: list[date], end: datetime, *, defect: bool = False
) -> list[Any]:
    """`/company-news`: one to three articles per day, newest first, none after `end`."""
    name = company(symbol).name
    out: list[dict[str, Any]] = []
    for day in days:
        gen = rng("news", seed, symbol, day)
        move = _move(day_change(seed, symbol, day))
        for k in range(gen.randint(0 if day.weekday() >= 5 else 1, 3)):
            ident = stable_id("company-news", seed, symbol, day, k)
            published = _published(ident, day)
            if published > end:
                continue
            topic = gen.choice(TOPICS)
            headline = gen.choice(COMPANY_HEADLINES).format(
                name=name,
                symbol=symbol,
                move=move,
                verb=gen.choice(["raise", "trim", "reiterate"]),
                topic=topic,
            )
            summary = f"{name} ({symbol}) was in focus as coverage turned to {topic}."
            article = _article(ident, published, headline, summary)
            article.update(category="company", related=symbol)
            out.append(article)
    out.sort(key=lambda a: (a["datetime"], a["id"]), reverse=True)
    if defect and out:
        out.insert(1, dict(out[0]))  # the same article twice in one answer
    return out


def market_news_body(
    seed: int, category: str, days: list[date], end: datetime, *, defect: bool = False
) -> list[Any]:
    """`/news?category=...`: three articles per day and category, newest first."""
    templates = MARKET_HEADLINES.get(category, MARKET_HEADLINES["general"])
    out: list[dict[str, Any]] = []
    for day in days:
        gen = rng("market-news", seed, category, day)
        for k in range(3):
            ident = stable_id("market-news", seed, category, day, k)
            published = _published(ident, day)
            if published > end:
                continue
            topic = gen.choice(TOPICS)
            headline = gen.choice(templates).format(
                move=_move(gen.gauss(0, 0.01)),
                topic=topic,
                buyer=f"{gen.choice(PARTS)} {gen.choice(KINDS)}",
                target=f"{gen.choice(PARTS)} {gen.choice(KINDS)}",
                unit=gen.choice(KINDS).lower(),
            )
            article = _article(ident, published, headline, f"Markets and {topic}: {headline}.")
            article.update(category=category, related="")
            out.append(article)
    out.sort(key=lambda a: (a["datetime"], a["id"]), reverse=True)
    if defect and out:
        broken = dict(out[-1], id=stable_id("market-news-defect", seed, category), headline="")
        out.append(broken)  # an article without a headline
    return out


def social_sentiment_body(
    seed: int, symbol: str, days: list[date], end: datetime
) -> dict[str, Any]:
    """`/stock/social-sentiment`: daily Reddit and Twitter mentions, tone following prices."""
    size = company(symbol).shares_millions
    body: dict[str, Any] = {"symbol": symbol}
    for source in ("reddit", "twitter"):
        series = []
        for day in days:
            if datetime.combine(day, time(0), UTC) > end:
                continue
            gen = rng("sentiment", seed, symbol, source, day)
            tone = max(-0.9, min(0.9, day_change(seed, symbol, day) * 25 + gen.gauss(0, 0.15)))
            mention = max(1, int(size / 40 * gen.lognormvariate(0, 0.4)))
            positive = int(mention * (0.5 + tone / 2) * gen.uniform(0.6, 0.9))
            negative = int(mention * (0.5 - tone / 2) * gen.uniform(0.6, 0.9))
            series.append(
                {
                    "atTime": f"{day.isoformat()} 00:00:00",
                    "mention": mention,
                    "positiveMention": positive,
                    "negativeMention": negative,
                    "positiveScore": round(min(1.0, 0.55 + max(tone, 0) / 2), 4),
                    "negativeScore": -round(min(1.0, 0.55 + max(-tone, 0) / 2), 4),
                    "score": round(tone, 4),
                }
            )
        body[source] = series
    return body


def ipo_calendar_body(seed: int, start: date, stop: date, today: date) -> dict[str, Any]:
    """`/calendar/ipo`: about one IPO a week; priced when past, expected or filed when ahead."""
    entries: list[dict[str, Any]] = []
    day = start
    while day <= stop:
        gen = rng("ipo", seed, day)
        if day.weekday() < 5 and gen.random() < 0.22:
            name = f"{gen.choice(PARTS)} {gen.choice(KINDS)} Inc"
            low = float(gen.randint(8, 30))
            shares = gen.randint(4, 30) * 1_000_000
            status = "priced" if day <= today else gen.choice(["expected", "expected", "filed"])
            symbol = (name[:2] + name.split()[1][:2]).upper()
            price = (
                f"{low + 1:.2f}"
                if status == "priced"
                else ("" if status == "filed" else f"{low:.2f}-{low + 2:.2f}")
            )
            entries.append(
                {
                    "date": day.isoformat(),
                    "exchange": gen.choice(["NASDAQ Global", "NYSE"]),
                    "name": name,
                    "numberOfShares": shares,
                    "price": price,
                    "status": status,
                    "symbol": symbol,
                    "totalSharesValue": shares * (low + 2) if price else None,
                }
            )
        day += timedelta(days=1)
    return {"ipoCalendar": entries}
