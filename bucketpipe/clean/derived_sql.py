"""The pure SQL of the derived datasets: daily bars from candles or quotes, indicator rows.

Every function returns SQL text over the relations it is given (tested on in-memory tables).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date

from bucketpipe import catalog
from bucketpipe.catalog.datasets.bars import MARKET_TZ, SESSION_CLOSE_HOUR
from bucketpipe.catalog.spec import PartitionGrain
from bucketpipe.lake.duck import quote_ident, quote_literal, sql_list, utc_date
from bucketpipe.lake.snapshots import period_start


def parquet_sql(paths: Sequence[str], columns: Sequence[tuple[str, str]]) -> str:
    """Rows of these Parquet files, or a typed empty relation when there are none."""
    if paths:
        return f"SELECT * FROM read_parquet({sql_list(list(paths))}, union_by_name = true)"
    cols = ", ".join(f"CAST(NULL AS {typ}) AS {name}" for name, typ in columns)
    return f"SELECT {cols} WHERE false"


QUOTE_COLUMNS = (
    ("symbol", "VARCHAR"),
    ("ts", "TIMESTAMPTZ"),
    ("price", "DOUBLE"),
    ("open", "DOUBLE"),
    ("high", "DOUBLE"),
    ("low", "DOUBLE"),
)
CANDLE_COLUMNS = (
    ("symbol", "VARCHAR"),
    ("resolution", "VARCHAR"),
    ("ts", "TIMESTAMPTZ"),
    ("open", "DOUBLE"),
    ("high", "DOUBLE"),
    ("low", "DOUBLE"),
    ("close", "DOUBLE"),
    ("volume", "BIGINT"),
)
BAR_KEYS = (("symbol", "VARCHAR"), ("day", "DATE"), ("final", "BOOLEAN"))
CANDLE_DAY = utc_date("ts")
# The UTC hour of a quote time from 1970 on (NULL before, and for infinite times).
_HOUR = (
    "CASE WHEN ts >= TIMESTAMPTZ '1970-01-01 00:00:00+00' AND isfinite(ts) "
    "THEN epoch_us(ts) // 3600000000 END"
)


def market_date(ts: str) -> str:
    """SQL for the market's calendar date of the TIMESTAMPTZ `ts`."""
    return f"CAST(timezone({quote_literal(MARKET_TZ)}, {ts}) AS DATE)"


def session_close(day: str) -> str:
    """SQL for the TIMESTAMPTZ at which the regular session of the market day `day` closes."""
    return (
        f"timezone({quote_literal(MARKET_TZ)}, CAST({day} AS TIMESTAMP) + "
        f"INTERVAL {SESSION_CLOSE_HOUR} HOUR)"
    )


def with_market_day(quotes: str) -> str:
    """The rows of `quotes` with the market day of their `ts` as `day`.

    The date in the market's time zone costs a conversion through the time zone library per
    row (1.3 s for 10 M quotes on two threads). Since 1970 New York's offsets are whole hours
    and change on the hour, so every instant of a UTC hour has the same market date: it is
    converted once per hour the quotes fall in and joined back (0.2 s). Other times (before
    1970, infinite) are converted one by one. `test_derived` checks every hour of 1970-2040.
    """
    return f"""SELECT r.* EXCLUDE (_hour), coalesce(h.day, {market_date("r.ts")}) AS day
FROM (SELECT *, {_HOUR} AS _hour FROM ({quotes})) AS r
LEFT JOIN (
  SELECT _hour, {market_date("make_timestamptz(_hour * 3600000000)")} AS day
  FROM (SELECT DISTINCT {_HOUR} AS _hour FROM ({quotes})) WHERE _hour IS NOT NULL
) AS h ON r._hour = h._hour"""


def bars_sql(
    quotes: str, candles: str, touched: str | None, *, today: str, now: str, run_id: str
) -> str:
    """Bars of the `touched` (symbol, day) pairs: the candle when there is one, else the quotes.
    With `touched` None, the bars of every symbol-day that `quotes` and `candles` hold.

    A candle's range is widened to the day's committed quotes (their prices and the day high
    and low they report), so the bar always spans its quotes: a quote whose newest delivery was
    rejected keeps an earlier delivery's values, which another source's candle need not
    contain. For the same reason the close is the day's last quote when that quote was taken
    at or after the session's close: it states the closing price, and quotes and bars agree.

    `quotes`, `candles` and `touched` are relations; `today` the market's date (bars of
    earlier days are final), `now` the computation time. Only positive opens, highs and lows
    count; they are picked by a CASE, not an aggregate's FILTER (`duck.count_where`).
    """
    closed = f"q.last_ts >= {session_close('t.day')}"
    if touched is None:
        only = ""
        days = "(SELECT symbol, day FROM quote_bars UNION SELECT symbol, day FROM candle_bars)"
    else:
        only = f"SEMI JOIN ({touched}) AS t ON q.symbol = t.symbol AND q.day = t.day"
        days = f"(SELECT DISTINCT symbol, day FROM ({touched}))"
    return f"""WITH q AS (
  SELECT symbol, day, ts, price, open, high, low FROM ({with_market_day(quotes)})
), quote_bars AS (
  SELECT q.symbol, q.day,
    coalesce(arg_min(q.open, CASE WHEN q.open > 0 THEN q.ts END), arg_min(q.price, q.ts)) AS open,
    greatest(max(q.price), max(CASE WHEN q.high > 0 THEN q.high END)) AS high,
    least(min(q.price), min(CASE WHEN q.low > 0 THEN q.low END)) AS low,
    arg_max(q.price, q.ts) AS close,
    max(q.ts) AS last_ts,
    count(*) AS n_quotes
  FROM q {only}
  GROUP BY q.symbol, q.day
), candle_bars AS (
  SELECT symbol, {CANDLE_DAY} AS day, open, high, low, close, volume
  FROM ({candles}) WHERE resolution = 'D'
  QUALIFY row_number() OVER (PARTITION BY symbol, {CANDLE_DAY} ORDER BY ts DESC) = 1
)
SELECT t.symbol, t.day,
  coalesce(c.open, q.open) AS open,
  CASE WHEN c.close IS NOT NULL THEN greatest(c.high, q.high) ELSE q.high END AS high,
  CASE WHEN c.close IS NOT NULL THEN least(c.low, q.low) ELSE q.low END AS low,
  CASE WHEN c.close IS NULL OR {closed} THEN q.close ELSE c.close END AS close,
  c.volume AS volume,
  CASE WHEN c.close IS NULL THEN 'quotes'
       WHEN q.high > c.high OR q.low < c.low OR ({closed} AND q.close <> c.close)
       THEN 'candle+quotes' ELSE 'candle' END AS source,
  coalesce(q.n_quotes, 0) AS n_quotes,
  t.day < DATE {quote_literal(today)} AS final,
  CAST({quote_literal(now)} AS TIMESTAMPTZ) AS _fetched_at,
  {quote_literal(run_id)} AS _clean_run
FROM {days} AS t
LEFT JOIN candle_bars AS c ON c.symbol = t.symbol AND c.day = t.day
LEFT JOIN quote_bars AS q ON q.symbol = t.symbol AND q.day = t.day
WHERE c.close IS NOT NULL OR q.close IS NOT NULL"""


def frame_rows_sql(
    dataset: str, frame: str, *, now: str, run_id: str, present: Collection[str] | None = None
) -> str:
    """Typed rows of a derived dataset from a registered frame (pandas NaN arrive as NULL):
    its content columns (those in `present`, when given) and the derived lineage."""
    values = [
        f"CAST({quote_ident(c.name)} AS {c.type}) AS {quote_ident(c.name)}"
        for c in catalog.get(dataset).columns
        if not c.name.startswith("_") and (present is None or c.name in present)
    ]
    return (
        f"SELECT {', '.join(values)}, CAST({quote_literal(now)} AS TIMESTAMPTZ) AS _fetched_at, "
        f"{quote_literal(run_id)} AS _clean_run FROM {frame}"
    )


def indicator_rows_sql(frame: str, *, now: str, run_id: str) -> str:
    """Typed `daily_indicators` rows from the indicator frame."""
    return frame_rows_sql("daily_indicators", frame, now=now, run_id=run_id)


def touched_sql(quotes: str, candles: str, provisional: str, *, today: str) -> str:
    """(symbol, day) pairs to recompute: days of new quotes and candles, and provisional
    bars of days that are now over."""
    return (
        f"SELECT DISTINCT symbol, day FROM ({with_market_day(quotes)})\n"
        f"UNION SELECT DISTINCT symbol, {CANDLE_DAY} FROM ({candles}) WHERE resolution = 'D'\n"
        f"UNION SELECT symbol, day FROM ({provisional}) "
        f"WHERE NOT final AND day < DATE {quote_literal(today)}"
    )


def grain_partitions(days: Iterable[date], grain: PartitionGrain) -> list[str]:
    """The `dt` values of the partitions that hold rows of these (UTC) days."""
    return sorted({period_start(d.isoformat(), grain) for d in days})
