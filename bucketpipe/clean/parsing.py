"""How a text value parses as each type: strict patterns, number text with its decimal mark,
date formats, and the SQL turning a text column into its typed value (`Parser`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bucketpipe.catalog.rules import DatasetRules
from bucketpipe.lake.duck import quote_ident, quote_literal, sql_list

INT_RE = r"[+-]?\d{1,18}"
DEC_RE = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?"
LONG_DIGITS_RE = r"[+-]?\d{16,}"
LEADING_ZERO_RE = r"[+-]?0\d+"
COMMA_EVIDENCE_RE = r"[+-]?\d+,(\d{1,2}|\d{4,})"
DOT_EVIDENCE_RE = r"[+-]?\d*\.\d+"
DOT_GROUPS_RE = r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?"
COMMA_GROUPS_RE = r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?|[+-]?\d+(,\d+)?"
ISO_DATE_RE = r"\d{4}-\d{1,2}-\d{1,2}"
ISO_TS_RE = (
    r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?)?"
)
TZ_RE = r".*\d(Z|[+-]\d{2}:?\d{2})"
DATE_LIKE_RE = r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}([ T].{1,20})?"
NUMBER_NOISE = "[\\s\u00a0\u202f$€£¥%]"


def canonical_type(duckdb_type: str) -> str:
    """A DuckDB type name as one of the types generic cleaning produces."""
    t = duckdb_type.upper()
    if t in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "HUGEINT"):
        return "BIGINT"
    if t in ("DOUBLE", "FLOAT", "REAL") or t.startswith("DECIMAL"):
        return "DOUBLE"
    if t == "TIMESTAMP WITH TIME ZONE":
        return "TIMESTAMPTZ"
    if t in ("BOOLEAN", "DATE", "TIMESTAMP", "TIMESTAMPTZ"):
        return t
    return "VARCHAR"


def number_text(column: str, decimal: str) -> str:
    """SQL cleaning a number's text: spaces, currency and `%` removed, thousands groups joined,
    a decimal comma turned into a point."""
    stripped = f"regexp_replace({column}, {quote_literal(NUMBER_NOISE)}, '', 'g')"
    # Only text with a separator can change beyond the noise, so other text (almost all) skips
    # the group pattern and is stripped once, not twice (a CASE computes each branch it uses).
    if decimal == ",":
        separator = f"contains({column}, ',') OR contains({column}, '.')"
        grouped = (
            f"CASE WHEN regexp_full_match({stripped}, {quote_literal(COMMA_GROUPS_RE)}) "
            f"THEN replace(replace({stripped}, '.', ''), ',', '.') ELSE {stripped} END"
        )
    else:
        separator = f"contains({column}, ',')"
        grouped = (
            f"CASE WHEN regexp_full_match({stripped}, {quote_literal(DOT_GROUPS_RE)}) "
            f"THEN replace({stripped}, ',', '') ELSE {stripped} END"
        )
    return f"CASE WHEN {separator} THEN {grouped} ELSE {stripped} END"


def match_sql(expr: str, regex: str) -> str:
    """SQL: does the whole of `expr` match `regex`."""
    return f"regexp_full_match({expr}, {quote_literal(regex)})"


def strptime_formats(fmt: str) -> str:
    """A date format and its time-of-day variants, as a DuckDB list for `try_strptime`."""
    return "[" + ", ".join(quote_literal(f) for f in (fmt, f"{fmt} %H:%M", f"{fmt} %H:%M:%S")) + "]"


@dataclass(frozen=True)
class Decimal:
    """The decimal mark of each row: one mark, or a comma for rows of the listed files."""

    mark: str = "."
    comma_files: tuple[str, ...] = ()

    def text(self, col: str) -> str:
        if self.mark == "," or not self.comma_files:
            return number_text(col, self.mark)
        files = ", ".join(quote_literal(f) for f in self.comma_files)
        return (
            f"CASE WHEN _source_file IN ({files}) THEN {number_text(col, ',')} "
            f"ELSE {number_text(col, '.')} END"
        )


@dataclass(frozen=True)
class Parser:
    """How a column's text becomes its type: the type plus a date format or decimal mark."""

    type: str
    date_format: str | None = None
    decimal: Decimal = Decimal()
    # Every non-empty value is known to match the type's strict pattern as it stands (a number
    # with nothing to clean, an ISO date that casts): values are cast without the test.
    raw: bool = False

    @property
    def cleans_numbers(self) -> bool:
        """Does `sql` read the number text of the column (`decimal.text`)?"""
        return self.type in ("BIGINT", "DOUBLE") and not self.raw

    def sql(self, column: str, rules: DatasetRules, number_text: str | None = None) -> str:
        """SQL turning the text column into the typed value (NULL when it does not parse).

        `number_text`: a column already holding `decimal.text` of this one (a number's text
        is used twice here, and DuckDB would compute it twice)."""
        col = quote_ident(column)
        if self.type == "VARCHAR":
            return col
        if self.type in ("BIGINT", "DOUBLE"):
            if self.raw:
                return f"TRY_CAST({col} AS {self.type})"
            text = number_text or self.decimal.text(col)
            regex = INT_RE if self.type == "BIGINT" else DEC_RE
            return f"CASE WHEN {match_sql(text, regex)} THEN TRY_CAST({text} AS {self.type}) END"
        if self.type == "BOOLEAN":
            true, false = sql_list(list(rules.true_tokens)), sql_list(list(rules.false_tokens))
            # `list_contains`: an IN list in a CASE costs DuckDB a pass over every row.
            return (
                f"CASE WHEN list_contains({true}, lower({col})) THEN true "
                f"WHEN list_contains({false}, lower({col})) THEN false END"
            )
        if self.type == "DATE":
            iso = self._iso(col, ISO_DATE_RE)
            if self.date_format:
                fmt = f"CAST(try_strptime({col}, {quote_literal(self.date_format)}) AS DATE)"
                return f"coalesce({iso}, {fmt})"
            return iso
        iso = self._iso(col, ISO_TS_RE)
        if self.date_format:
            parsed = f"try_strptime({col}, {strptime_formats(self.date_format)})"
            typed = parsed if self.type == "TIMESTAMP" else f"CAST({parsed} AS TIMESTAMPTZ)"
            return f"coalesce({iso}, {typed})"
        return iso

    def _iso(self, col: str, regex: str) -> str:
        """The value cast as an ISO date or time, where it is one."""
        cast = f"TRY_CAST({col} AS {self.type})"
        return cast if self.raw else f"CASE WHEN {match_sql(col, regex)} THEN {cast} END"


def format_regex(fmt: str) -> str:
    """A regex that every text `try_strptime(text, fmt)` accepts matches (a cheap gate)."""
    parts = {
        "%d": r"\d{1,2}",
        "%m": r"\d{1,2}",
        "%Y": r"\d{4}",
        "%y": r"\d{2}",
        "%H": r"\d{1,2}",
        "%M": r"\d{2}",
        "%S": r"\d{2}",
    }
    out, i = [], 0
    while i < len(fmt):
        token = fmt[i : i + 2]
        if token in parts:
            out.append(parts[token])
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return "".join(out)
