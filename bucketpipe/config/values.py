"""What setting values look like: the known choices, lists written as `a,b,c`, their checks,
and URLs with their password masked. Pure functions the settings object validates with."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

KIB, MIB, GIB = 1024, 1024**2, 1024**3

DEFAULT_SYMBOLS = ("AAPL", "GOOGL", "MSFT", "TSLA", "AMZN", "NVDA", "META")

FINNHUB_DATASETS = (
    "quotes",
    "company_profiles",
    "company_news",
    "market_news",
    "earnings",
    "earnings_calendar",
    "financials_reported",
    "basic_financials",
    "insider_transactions",
    "recommendations",
    "ipo_calendar",
    "candles",
    "social_sentiment",
    "dividends",
)

FINNHUB_NEWS_CATEGORIES = ("general", "forex", "crypto", "merger")
# An HTTP header name (RFC 9110 token).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A cadence interval: `0` (every run) or a number with a unit s/m/h/d.
_INTERVAL = re.compile(r"^(0|\d+(\.\d+)?[smhd])$")


def split_list(value: Any) -> Any:
    """`a, b,c` -> ["a", "b", "c"] (other values as they are)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def upper_list(value: Any) -> Any:
    """A list of symbols, upper-cased."""
    value = split_list(value)
    if isinstance(value, list):
        return [str(v).upper() for v in value]
    return value


# A ticker as exchanges and Finnhub write one: `AAPL`, `BRK.B`, `BF-B`, `7203.T`, `^GSPC`,
# `ES=F`, `BINANCE:BTCUSDT`, `OANDA:EUR_USD`.
_SYMBOL = re.compile(r"^[A-Z0-9^][A-Z0-9.:_^=-]{0,39}$")


def check_symbols(symbols: list[str]) -> list[str]:
    """Symbols reach API queries, Redis keys and every page: refuse what no exchange uses."""
    for symbol in symbols:
        if not _SYMBOL.match(symbol):
            raise ValueError(
                f"{symbol[:50]!r} is not a ticker symbol (letters, digits and . : _ - ^ =, "
                "at most 40 characters)"
            )
    return symbols


def finnhub_datasets(value: Any) -> Any:
    """A list of Finnhub datasets, each one Bucketpipe knows."""
    value = split_list(value)
    if isinstance(value, list):
        unknown = sorted(set(value) - set(FINNHUB_DATASETS))
        if unknown:
            raise ValueError(
                f"unknown Finnhub datasets {unknown}; choose from {list(FINNHUB_DATASETS)}"
            )
    return value


def check_cadences(value: list[str]) -> list[str]:
    """`dataset=interval` items, e.g. `company_news=30m`."""
    for item in value:
        name, _, interval = item.partition("=")
        if name.strip() not in FINNHUB_DATASETS or not _INTERVAL.match(interval.strip()):
            raise ValueError(
                f"bad cadence {item!r}: use dataset=interval, e.g. company_news=30m "
                f"(intervals: 0, 90s, 30m, 6h, 1d, 7d; datasets: {list(FINNHUB_DATASETS)})"
            )
    return value


def check_intervals(value: list[str]) -> list[str]:
    """`name=interval` items, e.g. `clean=30m`."""
    for item in value:
        name, _, interval = item.partition("=")
        if not name.strip() or not _INTERVAL.match(interval.strip()):
            raise ValueError(
                f"bad interval {item!r}: use name=interval, e.g. clean=30m (intervals: 0, "
                "90s, 30m, 6h, 1d, 7d)"
            )
    return value


def interval(text: str) -> timedelta:
    """`0`, `90s`, `30m`, `6h`, `1d` as a duration (the syntax of cadences and intervals)."""
    text = text.strip()
    if not _INTERVAL.match(text):
        raise ValueError(f"not an interval: {text!r} (use 0, 90s, 30m, 6h, 1d)")
    if text == "0":
        return timedelta(0)
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    return timedelta(**{units[text[-1]]: float(text[:-1])})


def header_name(value: str | None) -> str | None:
    """An HTTP header name (RFC 9110 token), or None."""
    if value is not None and not _HEADER_NAME.fullmatch(value):
        raise ValueError(f"not an HTTP header name: {value!r} (e.g. X-Forwarded-Email)")
    return value


def check_news_categories(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - set(FINNHUB_NEWS_CATEGORIES))
    if unknown:
        raise ValueError(
            f"unknown news categories {unknown}; choose from {list(FINNHUB_NEWS_CATEGORIES)}"
        )
    return value


def four_thresholds(value: Any) -> Any:
    """The quality thresholds: completeness, uniqueness, consistency, validity."""
    value = split_list(value)
    if isinstance(value, list) and len(value) != 4:
        raise ValueError("give four thresholds: completeness,uniqueness,consistency,validity")
    return value


def blank_is_unset(value: Any) -> Any:
    """Compose and Kubernetes pass unset optional values as empty strings: None."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


_NO_SECRETS = (
    "{where} cannot hold a user name, password, query or fragment: give keys in their own "
    "settings (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, FINNHUB_API_KEY), which are masked"
)


def check_http_url(value: str | None, *, bare_host: bool = False) -> str | None:
    """An http(s) address with a host and nothing secret in it, kept as given. Addresses are
    printed (errors, `bucketpipe config`, run manifests), so a user name, password, query or
    fragment is refused, without repeating the value. `bare_host`: `a3s.fi` means https."""
    if not value:
        return value
    parts = urlsplit(value if "://" in value or not bare_host else f"https://{value}")
    if "@" in parts.netloc or parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError(_NO_SECRETS.format(where="the address"))
    if parts.scheme not in ("http", "https"):
        raise ValueError("not an http:// or https:// address")
    try:
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise ValueError("the address has a bad port") from None
    if not parts.hostname:
        raise ValueError("the address names no host")
    return value


def url_password(url: str | None) -> str | None:
    """The password inside a URL, if any (to register it as a secret for masking)."""
    if not url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def redact_url(url: str) -> str:
    """Drop a password from a URL (`redis://user:pw@host` -> `redis://user:***@host`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


# A size: a number with an optional unit, DuckDB's (KB = 1000, KiB = 1024) or Kubernetes'
# (K = 1000, Ki = 1024); no unit means bytes.
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(i)?b?|b|bytes)?\s*$", re.IGNORECASE)


def parse_size(value: Any) -> Any:
    """`8GiB`, `512Mi`, `1.5GiB`, `2GB`, `1048576` -> bytes (other values as they are)."""
    if not isinstance(value, str):
        return value
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"not a size: {value!r} (e.g. 1048576, 512MiB, 1.5GiB, 512Mi)")
    number, prefix, binary = match.groups()
    power = "kmgt".index(prefix.lower()) + 1 if prefix else 0
    return int(float(number) * (1024 if binary else 1000) ** power)


# The units DuckDB reads in a size setting (`memory_limit`, `max_temp_directory_size`).
_DUCKDB_SIZE = re.compile(r"^\s*\d+(?:\.\d+)?\s*(?:[kmgt]i?b|b|bytes)\s*$", re.IGNORECASE)


def duckdb_size(value: str) -> str:
    """A size DuckDB reads: the text as given when DuckDB reads it (`640MB`, `1.5GiB`), else
    its bytes in DuckDB's units (`512Mi` -> `512MiB`, `268435456` -> `256MiB`). DuckDB
    refuses a pod spec's `Mi` and a bare number, and would only say so in the middle of a run.
    """
    size = parse_size(value)
    if size <= 0:
        raise ValueError(f"{value!r} is not above zero")
    return value.strip() if _DUCKDB_SIZE.match(value) else size_text(int(size))


def size_text(size: int) -> str:
    """Bytes as DuckDB reads a size: whole MiB when it divides, else bytes."""
    if size % MIB == 0:
        return f"{size // MIB}MiB"
    return f"{size}B"


def check_lake(value: str) -> str:
    """`s3://bucket/prefix`, or a local path that is (or can become) a directory."""
    value = value.strip()
    if value.startswith("s3://"):
        parts = urlsplit(value)
        if "@" in parts.netloc:
            raise ValueError(_NO_SECRETS.format(where="an s3:// address"))
        if not parts.netloc:
            raise ValueError(f"{value!r} names no bucket: use s3://bucket/prefix")
        return value
    if "://" in value:
        raise ValueError(f"unsupported lake URL {value!r}: use s3://bucket/prefix or a directory")
    if not value:
        raise ValueError("empty: use s3://bucket/prefix or a directory")
    return value


def check_redis_url(value: str | None) -> str | None:
    """A Redis URL redis-py accepts: `redis://host:port/db`, `rediss://...` or `unix://path`."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(
            f"{redact_url(value)!r} is not a Redis URL: use redis://host:6379/0, rediss://... "
            "or unix:///path/to/socket"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{redact_url(value)!r} has a bad port") from None
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError(f"{redact_url(value)!r} names no host: use redis://host:6379/0")
    if parts.scheme == "unix" and not parts.path:
        raise ValueError(f"{redact_url(value)!r} names no socket path")
    del port
    return value
