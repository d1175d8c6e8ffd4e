"""SQL of a loaded text value: trimmed of blank characters, NULL when it is a null token."""

from __future__ import annotations

from collections.abc import Sequence

from bucketpipe.lake.duck import quote_literal, sql_list

TRIM_CHARS = " \t\r\n\u00a0\u200b\ufeff"


def loaded_sql(text: str, null_tokens: Sequence[str]) -> str:
    """A loaded value: `text` (a VARCHAR column) trimmed of TRIM_CHARS, NULL when it is then a
    null token (case-insensitive). One test of both shortcuts, then the exact work.

    Almost every value neither starts nor ends with a blank character nor starts like a token
    (a character some token starts with, in either case, or any non-ASCII one, whose lower
    case may be ASCII): such a value is itself, and only the others are trimmed and looked up.
    The lookup is `list_contains` on a list constant: `lower(...) IN (...)` in a branch of a
    CASE costs DuckDB a pass over every row of the chunk, not only the rows taking the branch
    (five million rows of eight columns loaded in 3.7 s instead of 4.7 s).
    """
    starts = {t[0] for t in null_tokens if t and t[0].isascii()}
    firsts = {ord(c) for start in starts for c in (start.lower(), start.upper())}
    codes = sorted(
        firsts
        | {ord(ch) for ch in TRIM_CHARS if ord(ch) < 128}
        | ({0} if "" in null_tokens else set())
    )
    ends = " OR ".join(f"ends_with({text}, {quote_literal(ch)})" for ch in TRIM_CHARS)
    gate = f"ascii({text}) > 127 OR ascii({text}) IN ({', '.join(map(str, codes))}) OR {ends}"
    trimmed = f"trim({text}, {quote_literal(TRIM_CHARS)})"
    exact = trimmed
    if null_tokens:
        tokens = sql_list(list(null_tokens))
        exact = f"CASE WHEN list_contains({tokens}, lower({trimmed})) THEN NULL ELSE {trimmed} END"
    return f"CASE WHEN NOT ({gate}) THEN {text} ELSE {exact} END"
