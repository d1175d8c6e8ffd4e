"""Look and feel shared by every page: number formats, colours, headers and empty states."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import pandas as pd
import streamlit as st

UP = "#16a34a"  # green: a price went up
DOWN = "#dc2626"  # red: a price went down
FLAT = "#64748b"
ACCENT = "#2563eb"
PALETTE: tuple[str, ...] = ("#2563eb", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#06b6d4")
PALETTE += ("#ec4899", "#84cc16")
SENTIMENT_COLOURS = {
    "strong bullish": "#15803d",
    "bullish": "#4ade80",
    "unchanged": "#94a3b8",
    "bearish": "#f87171",
    "strong bearish": "#b91c1c",
}
MISSING = "\u2013"  # en dash: no value
MINUS = "\u2212"  # the minus sign figures are written with
LOAD_HINT = (
    "Load the demo market with `bucketpipe ingest demo && bucketpipe clean` "
    "(or set `FINNHUB_API_KEY` and run `bucketpipe ingest finnhub && bucketpipe clean`)."
)


def dataframe(data: Any, **kwargs: Any) -> Any:
    """st.dataframe writing a missing value as an en dash, as tiles and lists do (Streamlit's
    own placeholder is the word "None")."""
    kwargs.setdefault("placeholder", MISSING)
    return st.dataframe(data, **kwargs)


def _missing(value: Any) -> bool:
    """None, NaN or NaT (pandas' missing markers)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other non-scalars are not missing
        return False


def number(value: Any, digits: int = 2) -> str:
    """`1,234.57`; MISSING when missing."""
    if _missing(value):
        return MISSING
    return f"{float(value):,.{digits}f}"


def signed(value: Any, digits: int = 2, suffix: str = "") -> str:
    """`+1.23`, `-0.40` with a true minus sign; MISSING when missing."""
    if _missing(value):
        return MISSING
    text = f"{float(value):+,.{digits}f}{suffix}"
    return text.replace("-", "\u2212")


def percent(value: Any, digits: int = 2) -> str:
    return signed(value, digits, " %")


def delta(value: Any, digits: int = 2, suffix: str = " %") -> str | None:
    """A metric delta: Streamlit picks the arrow and colour from a leading ASCII sign."""
    if _missing(value):
        return None
    return f"{float(value):+,.{digits}f}{suffix}"


def rate(slope: float, per: str) -> str:
    """A slope read without exponents: `+0.0826 per 1,000 volume`, `-2 per day`."""
    scale = 1
    while slope and abs(slope * scale) < 0.01 and scale < 10**12:
        scale *= 1000
    value = slope * scale
    figure = f"{value:+,.0f}" if abs(value) >= 100 else f"{value:+.3g}"
    unit = per if scale == 1 else f"{scale:,} {per}"
    return f"{'0' if not slope else figure.replace('-', MINUS)} per {unit}"


# The units of a compact amount, largest first (charts' axes write them too).
COMPACT_UNITS = (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3))


def compact(value: Any) -> str:
    """`1.2 M`, `3.4 B`: for volumes, market caps, counts."""
    if _missing(value):
        return MISSING
    number_ = float(value)
    for unit, size in COMPACT_UNITS:
        if abs(number_) >= size:
            return f"{number_ / size:,.1f} {unit}"
    return f"{number_:,.0f}"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 row`, `2 rows`, `1,050 files`: a count with its noun in the right number."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def size(num_bytes: Any) -> str:
    if _missing(num_bytes):
        return MISSING
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{num_bytes} B"


def age(moment: datetime | date | None, now: datetime | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', '2 d ago'; a moment more than a minute ahead of
    the clock is 'in the future (2 h ahead)': a clock or time-zone mistake to see, not to
    round to 'just now'."""
    if moment is None or _missing(moment):
        return "never"
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds <= -60:
        return f"in the future ({_span(-seconds)} ahead)"
    if seconds < 60:
        return "just now"
    return f"{_span(seconds)} ago"


def _span(seconds: int) -> str:
    """At least a minute, in its largest unit: '5 min', '3 h', '2 d'."""
    for unit, span in (("d", 86400), ("h", 3600)):
        if seconds >= span:
            return f"{seconds // span} {unit}"
    return f"{seconds // 60} min"


def when(moment: datetime | date | None) -> str:
    """A timestamp as `2026-11-20 21:00 UTC` (a date as `2026-11-20`; a timestamp without a
    time zone, as a generic file's, as it is stored, and not called UTC)."""
    if moment is None or _missing(moment):
        return MISSING
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            return moment.strftime("%Y-%m-%d %H:%M")
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return moment.isoformat()


def moment(value: datetime) -> str:
    """A timestamp to the precision it holds, in UTC when it has a time zone:
    `2026-11-20 21:00 UTC`, `2026-11-20 21:00:05 UTC`, `2026-11-20 21:00:05.250000` (one
    without a time zone is shown as it is stored, and not called UTC)."""
    aware = value.tzinfo is not None
    if aware:
        value = value.astimezone(UTC)
    fmt = "%Y-%m-%d %H:%M"
    if value.second or value.microsecond:
        fmt += ":%S"
    if value.microsecond:
        fmt += ".%f"
    return value.strftime(fmt) + (" UTC" if aware else "")


def day(moment: Any) -> str:
    """A date (or the date of a timestamp) as `2026-11-20`."""
    if _missing(moment):
        return MISSING
    if hasattr(moment, "date") and callable(moment.date):
        moment = moment.date()
    return str(moment.isoformat()) if hasattr(moment, "isoformat") else str(moment)


def present(value: Any) -> bool:
    """A value worth showing: not missing and not an empty string."""
    return not _missing(value) and str(value).strip() != ""


def change_colour(value: Any) -> str:
    if _missing(value) or float(value) == 0:
        return FLAT
    return UP if float(value) > 0 else DOWN


def header(title: str, caption: str | None = None) -> None:
    """The page title and a one-line caption under it."""
    st.title(title)
    if caption:
        st.caption(caption)


def empty_state(what: str, hint: str = LOAD_HINT) -> None:
    """Say clearly that there is nothing to show yet, and how to load it."""
    st.info(f"**{what}**\n\n{hint}", icon=":material/inbox:")


def open_tab(tabs: Mapping[str, Callable[[], None]], key: str) -> None:
    """Tabs of which only the open one runs (a tab change reruns the page): each tab's
    queries and charts cost time, and a page that drew them all drew what nobody looked at.
    The open tab is in `st.session_state[key]`."""
    panes = st.tabs(list(tabs), key=key, on_change="rerun")
    for draw, pane in zip(tabs.values(), panes, strict=True):
        if pane.open:
            with pane:
                draw()


def not_found(kind: str, wanted: str | None, held: Sequence[str], shown: str) -> None:
    """Say that the page's address asked for something the lake does not hold, and what is
    shown instead (a link with an old symbol or dataset otherwise shows another silently).
    The asked-for text comes from the address: it is shown as plain text, never as Markdown."""
    if wanted is None or wanted in held:
        return
    st.warning(
        f"The address asks for {kind} `{code(wanted[:80])}`, which the lake does not hold; "
        f"showing {shown}.",
        icon=":material/help:",
    )


def code(text: str) -> str:
    """Text safe inside a Markdown code span (no backtick can close it, no line break)."""
    return "".join(ch for ch in text.replace("`", "'") if ch.isprintable())


# Every ASCII punctuation mark: CommonMark makes each literal after a backslash.
_MARKS = re.compile(r"([!-/:-@\[-`{-~])")
# The spaces and line breaks Markdown reads (a no-break space is kept: it holds `2.9 T` together).
_SPACES = re.compile(r"\s+", re.ASCII)


def text(value: Any) -> str:
    """A value from the data (a headline, a company's name, a file or column name, an error
    message) as Markdown that shows exactly it, on one line. Streamlit reads Markdown in
    every markdown, caption, info box, help text and badge, and strangers write these values
    (an API's answers, the files dropped in a source bucket): unescaped, `![](https://...)`
    made every viewer's browser fetch that address, and `:red[...]`, `:material/...:`,
    emphasis, lists or headings changed what the page says."""
    return _MARKS.sub(r"\\\1", _SPACES.sub(" ", str(value)).strip())


def web_address(url: Any) -> str | None:
    """An http(s) address fit for a link, its parentheses, spaces and angle brackets
    percent-encoded (none ends a Markdown link early); None for anything else
    (`javascript:`, `data:`, a relative path)."""
    if not present(url):
        return None
    address = str(url).strip()
    parts = urlsplit(address)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(address, safe=":/?#@!$&'*+,;=%-._~")


def link(title: Any, url: Any) -> str:
    """Markdown of `title` linking to `url`, or the title alone when `url` is no web address."""
    address = web_address(url)
    return f"[{text(title)}]({address})" if address else text(title)


def pill(label: str, colour: str) -> str:
    """Markdown for a coloured badge (Streamlit's `:color-badge[...]`) showing `label` as it is."""
    return f":{colour}-badge[{text(label)}]"


@functools.cache
def icon() -> bytes:
    """The page's icon, a PNG drawn here: three bars rising on the accent colour. (A Material
    icon name as `page_icon` makes every page ask fonts.gstatic.com for it, which a private
    or offline deployment cannot reach.)"""
    from PIL import Image, ImageDraw

    size = 64
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=12, fill=ACCENT)
    for i, height in enumerate((18, 30, 42)):
        left = 12 + i * 14
        draw.rectangle((left, size - 10 - height, left + 9, size - 10), fill="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
