"""The lexical side of user SQL: checks on the raw text and DuckDB's tokens, in bytes.

`duckdb.tokenize` reports where each token starts as a BYTE offset into the UTF-8 text, and
drops comments. Everything here slices the encoded bytes, never the Python string, so a
comment full of non-ASCII letters cannot shift a boundary. Nothing here decides whether a
query may run: the parse tree does (`validator.py`); a wrong split can only turn into a
refusal or a syntax error, because every piece is validated whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from bucketpipe.config.errors import QueryRefused

MAX_SQL_CHARS = 100_000
_WORD = re.compile(rb"[A-Za-z_]+")


@dataclass(frozen=True)
class Token:
    """A token: where it starts (bytes), its kind, and its leading word or character."""

    start: int
    kind: str
    word: str


def check_text(sql: str, max_chars: int | None = MAX_SQL_CHARS) -> bytes:
    """The query as UTF-8 bytes, or `QueryRefused` for text no statement can be made of."""
    if max_chars is not None and len(sql) > max_chars:
        raise QueryRefused(f"the query is longer than {MAX_SQL_CHARS:,} characters")
    if "\x00" in sql:
        # DuckDB's scanner stops at a NUL; what follows it would never be checked.
        raise QueryRefused("the query contains a NUL character")
    try:
        return sql.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryRefused("the query is not valid Unicode text (a lone surrogate)") from None


def tokens(sql: str, max_chars: int | None = MAX_SQL_CHARS) -> list[Token]:
    """DuckDB's tokens of `sql` (comments dropped), with byte offsets."""
    data = check_text(sql, max_chars)
    try:
        raw = duckdb.tokenize(sql)
    except (duckdb.Error, RuntimeError, ValueError):
        return []
    out = []
    for start, kind in raw:
        word = _WORD.match(data, start)
        text = word.group().decode() if word else data[start : start + 1].decode(errors="replace")
        out.append(Token(start, kind.name, text.lower()))
    return out


def leading_keyword(sql: str) -> str:
    """The first keyword of the statement, upper case ('' when it opens with anything else)."""
    found = tokens(sql)
    if found and found[0].kind == "keyword":
        return found[0].word.upper()
    return ""


def split_statements(sql: str) -> list[str]:
    """The `;`-separated statements of a script, empty ones dropped (CLI sessions)."""
    data = check_text(sql, None)  # a script may be long; each statement is checked alone
    cuts = [t.start for t in tokens(sql, None) if t.kind == "operator" and t.word == ";"]
    pieces, begin = [], 0
    for cut in [*cuts, len(data)]:
        piece = data[begin:cut].decode("utf-8")
        if tokens(piece, None):
            pieces.append(piece.strip())
        begin = cut + 1
    return pieces


def is_complete(script: str) -> bool:
    """True when the script's last token is a `;` (the REPL runs what was typed so far)."""
    found = tokens(script, None)
    return bool(found) and found[-1].kind == "operator" and found[-1].word == ";"


@dataclass(frozen=True)
class Explain:
    """`EXPLAIN <query>` taken apart: the query explained, and how many bytes preceded it."""

    query: str
    offset: int


def explain_parts(sql: str) -> Explain | None:
    """The explained query of an EXPLAIN statement (None when `sql` is no EXPLAIN).

    Only plain `EXPLAIN <query>` is taken: `EXPLAIN ANALYZE` prints the profile, which names
    the files a dataset reads, and `EXPLAIN (options)` changes what is printed.
    """
    found = tokens(sql)
    if not found or found[0].kind != "keyword" or found[0].word != "explain":
        return None
    if len(found) < 2:
        raise QueryRefused("EXPLAIN needs a query to explain, e.g. EXPLAIN SELECT * FROM quotes")
    second = found[1]
    if second.word in ("analyze", "analyse"):
        raise QueryRefused(
            "EXPLAIN ANALYZE is not available here (its profile names the lake's files); "
            "use EXPLAIN"
        )
    if second.kind == "operator" and second.word == "(":
        raise QueryRefused("EXPLAIN options are not available here; use plain EXPLAIN")
    data = sql.encode("utf-8")
    return Explain(data[second.start :].decode("utf-8"), second.start)


def line_and_column(sql: str, position: int) -> tuple[int, int]:
    """1-based line and column of a character position in `sql` (DuckDB's error positions
    count characters; token offsets count bytes: `chars_before` converts)."""
    before = sql[: max(0, min(position, len(sql)))]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def chars_before(sql: str, byte_offset: int) -> int:
    """How many characters of `sql` precede a byte offset into its UTF-8 encoding."""
    return len(sql.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))
