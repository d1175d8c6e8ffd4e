"""SQL of a loaded text value: trimmed of blank characters, NULL when it is a null token."""

from __future__ import annotations

from collections.abc import Sequence

from bucketpipe.lake.duck import quote_literal

TRIM_CHARS = " \t\r\n\u00a0\u200b\ufeff"
TRIM_CODES = ", ".join(str(ord(ch)) for ch in TRIM_CHARS)


def trimmed_sql(text: str) -> str:
    """`text` (a VARCHAR expression) without TRIM_CHARS at either end.

    `trim` with a character set costs about four times a plain read of the value, and almost
    no value needs it: only a value whose first or last code point is one of the characters
    is trimmed (`ascii` is the first code point, 0 for ''; `ends_with` compares bytes, where
    `right(text, 1)` would count code points and copy one: the test costs half as much).
    """
    ends = " OR ".join(f"ends_with({text}, {quote_literal(ch)})" for ch in TRIM_CHARS)
    return (
        f"CASE WHEN ascii({text}) IN ({TRIM_CODES}) OR {ends} "
        f"THEN trim({text}, {quote_literal(TRIM_CHARS)}) ELSE {text} END"
    )


def token_sql(trimmed: str, null_tokens: Sequence[str]) -> str:
    """An already trimmed value (case kept), NULL when it is a null token (case-insensitive).

    `lower` copies every value it reads; it runs only on a value that could be a token: one
    whose first code point is not ASCII (whose lower case may be) or is an ASCII character
    some token starts with, in either case (most values, numbers, skip it: a third of the
    cost). `ascii('')` is 0, the code of the empty token.
    """
    tokens = ", ".join(quote_literal(t) for t in null_tokens)
    if not tokens:
        return trimmed
    starts = {t[0] for t in null_tokens if t and t[0].isascii()}
    firsts = {ord(c) for start in starts for c in (start.lower(), start.upper())}
    codes = sorted(firsts | ({0} if "" in null_tokens else set()))
    gate = f"ascii({trimmed}) > 127" + (
        f" OR ascii({trimmed}) IN ({', '.join(map(str, codes))})" if codes else ""
    )
    return f"CASE WHEN ({gate}) AND lower({trimmed}) IN ({tokens}) THEN NULL ELSE {trimmed} END"
