"""A loaded value's trimming and null tokens: the cheap SQL equals the plain one on any text.

The load tests a value's ends and first character before it calls `trim` and `lower`, which
copy every value they read, and looks tokens up with `list_contains`. Those shortcuts must
never change a result: checked here against `trim(value, chars)` and `lower(...) IN (tokens)`
applied to every value, over hand-picked edge cases (blank characters of several bytes,
letters whose lower case is ASCII or longer) and random text.
"""

from __future__ import annotations

import random

import duckdb
import pytest

from bucketpipe.catalog.rules import DEFAULT_NULL_TOKENS
from bucketpipe.formats.text import TRIM_CHARS, loaded_sql
from bucketpipe.lake.duck import quote_literal

EDGES = [
    "",
    " ",
    "12.5",
    " 12.5 ",
    "\u00a012\u00a0",
    "\u200bx",
    "x\ufeff",
    "\ufeff",
    "\t\r\n",
    "NULL",
    "Null",
    " n/a ",
    "N.A.",
    "NaN",
    "#N/A",
    "-",
    "--",
    "---",
    "?",
    "Missing",
    "UNDEFINED",
    "none ",
    "nonE\u00a0",
    "\u212aelvin",  # KELVIN SIGN: lower case is ASCII 'k'
    "\u0130",  # I WITH DOT ABOVE: lower case is two code points
    "\u00d1A",
    "Ñ",
    "na\u0301",
    "é",
    "0",
    "nil",
    "NIL ",
]
ALPHABET = "aNnLlUu -?#./é\u00a0\u200b\ufeff\t\u212a\u01300129"


def _values() -> list[str]:
    rng = random.Random(7)
    randoms = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6))) for _ in range(4000)]
    return EDGES + randoms


@pytest.mark.parametrize(
    "tokens",
    [DEFAULT_NULL_TOKENS, ("",), ("na", "k"), ("é", "ñ"), ()],
    ids=["default", "empty-only", "ascii", "non-ascii", "none"],
)
def test_shortcuts_give_what_trim_and_lower_of_every_value_give(tokens: tuple[str, ...]) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in _values()])
    plain_trim = f"trim(v, {quote_literal(TRIM_CHARS)})"
    listed = ", ".join(quote_literal(t) for t in tokens)
    plain = (
        f"CASE WHEN lower({plain_trim}) IN ({listed}) THEN NULL ELSE {plain_trim} END"
        if tokens
        else plain_trim
    )
    rows = con.execute(f"SELECT v, {plain} AS plain, {loaded_sql('v', tokens)} FROM t").fetchall()
    differing = [(v, a, b) for v, a, b in rows if a != b]
    assert differing == []
    # The cases are not vacuous: tokens and trimmed values both occur.
    nulled = sum(1 for _, a, _ in rows if a is None)
    trimmed = sum(1 for v, a, _ in rows if a is not None and a != v)
    assert trimmed > 100
    assert (nulled > 10) == bool(tokens)
    con.close()
