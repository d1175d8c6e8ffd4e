"""Building blocks of dataset declarations: typed field expressions and common rules.

Field names are constants of the dataset modules, never user input.
"""

from __future__ import annotations

from bucketpipe.catalog.spec import Rule


def day(field: str, src: str = "item") -> str:
    """A `YYYY-MM-DD[ HH:MM:SS]` field as DATE (NULL when missing or not a date)."""
    return f"TRY_CAST(left({src}->>'{field}', 10) AS DATE)"


def integer(field: str, src: str = "item") -> str:
    """A JSON number field as BIGINT, rounded (NULL when missing or not a number)."""
    return f"TRY_CAST(TRY_CAST({src}->>'{field}' AS DOUBLE) AS BIGINT)"


def utc_time(field: str) -> str:
    """A `YYYY-MM-DD HH:MM:SS` field in UTC as TIMESTAMPTZ (independent of the session zone)."""
    return f"timezone('UTC', TRY_CAST(item->>'{field}' AS TIMESTAMP))"


def metric(key: str) -> str:
    """A number of Finnhub's `metric` object (keys may start with digits or contain `/`)."""
    return f"TRY_CAST(json_extract_string(item, '$.metric.\"{key}\"') AS DOUBLE)"


def symbol_of(*sources: str) -> str:
    """The symbol from the first JSON object that has one, else the request's."""
    found = ", ".join(f"NULLIF(trim({src}->>'symbol'), '')" for src in sources)
    return f"upper(coalesce({found}, params->>'symbol'))"


def line_value(statement: str, *concepts: str) -> str:
    """The value of the first listed XBRL concept found in a report statement (bs/ic/cf).

    Concepts are matched without their taxonomy prefix (`us-gaap_Revenues` is `Revenues`).
    """
    lines = f"CAST(json_extract(item, '$.report.{statement}[*]') AS JSON[])"
    picks = [
        f"TRY_CAST(list_filter({lines}, lambda x: "
        f"regexp_replace(x->>'concept', '^[A-Za-z-]+_', '') = '{concept}')[1]->>'value' AS DOUBLE)"
        for concept in concepts
    ]
    return f"coalesce({', '.join(picks)})"


def missing(column: str, what: str | None = None) -> Rule:
    return Rule(f"missing {what or column.replace('_', ' ')}", f"{column} IS NULL")


def before_1900(column: str, what: str) -> Rule:
    return Rule(f"{what} before 1900", f"{column} < DATE '1900-01-01'")


def future(column: str, what: str, days: int = 1) -> Rule:
    """Later than the fetch plus a tolerance: a past event cannot be dated after it was seen."""
    return Rule(
        f"{what} in the future", f"CAST({column} AS DATE) > CAST(_fetched_at AS DATE) + {days}"
    )


def negative(*columns: str) -> Rule:
    names = " or ".join(c.replace("_", " ") for c in columns)
    return Rule(f"negative {names}", " OR ".join(f"{c} < 0" for c in columns))
