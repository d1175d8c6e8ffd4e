"""Where a column's value is due: the cells completeness counts (`catalog.spec.Column.due`).

A column can be empty by definition in some rows (an earnings actual before its release, an
indicator before its window fills). Such a column carries a SQL condition over the rows; its
cells elsewhere count neither as filled nor as empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import duckdb

from bucketpipe.lake.duck import count_where, quote_ident, quote_literal


def count_due(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[str],
    due: Mapping[str, str],
    now: datetime,
) -> dict[str, tuple[int, int]]:
    """Column -> (rows where a value is due, those with a value), for each of `columns` with a
    condition in `due` (SQL over the rows of `relation`; `{now}` stands for `now`): one pass."""
    conditions = [(c, due[c]) for c in columns if due.get(c)]
    if not conditions:
        return {}
    moment = f"CAST({quote_literal(now.isoformat())} AS TIMESTAMPTZ)"
    # A condition may be a window (an indicator's bar of its symbol), which cannot sit inside
    # an aggregate: each is a column of the rows the counts read.
    flags = ", ".join(
        f"({condition.replace('{now}', moment)}) AS _due_{i}"
        for i, (_, condition) in enumerate(conditions)
    )
    fields = []
    for i, (column, _) in enumerate(conditions):
        fields += [
            count_where(f"_due_{i}"),
            count_where(f"_due_{i} AND {quote_ident(column)} IS NOT NULL"),
        ]
    row = con.execute(
        f"SELECT {', '.join(fields)} FROM (SELECT *, {flags} FROM {relation})"
    ).fetchone()
    assert row is not None
    return {
        column: (int(row[2 * i]), int(row[2 * i + 1])) for i, (column, _) in enumerate(conditions)
    }
