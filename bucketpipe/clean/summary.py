"""What a generic clean did, in words and figures: schema drift against the committed schema
and per file, and the processing steps applied (the run's processing summary)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bucketpipe.catalog.rules import DatasetRules, OutlierRules
from bucketpipe.clean.inference import WIDENINGS, TypeChoice
from bucketpipe.lake.runs import DatasetResult
from bucketpipe.quality.wording import OUTLIER_ACTIONS


def drift(
    file_columns: Mapping[str, list[str]],
    choices: Mapping[str, TypeChoice],
    committed: Mapping[str, str],
    missing: Mapping[str, str],
    empty: set[str],
) -> dict[str, Any]:
    """New, missing and retyped columns against the committed schema, and per-file gaps.

    A column is retyped when this batch's values point to another type than the committed
    one: widened when allowed, else kept (values that do not fit are quarantined).
    """
    union = set(choices)
    files = {}
    for uri, cols in file_columns.items():
        lacks = sorted(union - set(cols))
        if lacks:
            files[uri] = {"missing": lacks}
    retyped = {
        name: {
            "committed": ch.committed,
            "inferred": ch.inferred,
            "written": ch.type,
            "action": ch.action,
        }
        for name, ch in choices.items()
        if ch.committed
        and ch.committed != "VARCHAR"
        and ch.inferred != ch.committed
        and (ch.inferred, ch.committed) not in WIDENINGS  # narrower values fit as they are
        and name not in empty
    }
    return {
        "new_columns": sorted(c for c in choices if committed and c not in committed),
        "missing_columns": sorted(missing),
        "retyped_columns": retyped,
        "files": files,
    }


def describe(
    result: DatasetResult,
    choices: Mapping[str, TypeChoice],
    dropped: Mapping[str, float],
    outliers: Mapping[str, Mapping[str, Any]],
    imputed: Mapping[str, int],
    rules: DatasetRules,
) -> list[str]:
    """The processing steps applied, in plain words (the run's processing summary)."""
    out = ["column names normalised to snake_case", "values trimmed; null tokens made empty"]
    typed = [f"{c} {ch.type}" for c, ch in choices.items() if ch.type != "VARCHAR"]
    if typed:
        out.append("types: " + ", ".join(typed))
    if dropped:
        out.append("empty columns dropped: " + ", ".join(sorted(dropped)))
    if result.rows_quarantined:
        out.append(_count(result.rows_quarantined, "row") + " quarantined")
    if result.rows_duplicate:
        what = "key" if rules.key else "exact"
        out.append(_count(result.rows_duplicate, f"{what} duplicate") + " removed")
    test = outlier_test(rules.outliers)
    for column, info in outliers.items():
        done = OUTLIER_ACTIONS.get(str(info["action"]), str(info["action"]))
        out.append(f"{_count(int(info['count']), 'outlier')} in {column} {done} ({test})")
    for column, n in imputed.items():
        out.append(f"{_count(n, 'empty value')} of {column} filled")
    return out


def outlier_test(rules: OutlierRules) -> str:
    """Cleaning's outlier test in words, apart from the quality profile's far-out values
    (beyond three IQR)."""
    iqr = f"beyond {rules.iqr_k:g} \u00d7 IQR"
    z = f"robust z-score above {rules.z_threshold:g}"
    tests = {"iqr": iqr, "zscore": z, "either": f"{iqr} or {z}"}
    return "cleaning's outlier test: " + tests.get(rules.method, f"{iqr} and {z}")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
