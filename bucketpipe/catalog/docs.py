"""The dataset reference in docs/datasets.md, generated from the catalog (a test keeps them in
step).

`python -m bucketpipe.catalog.docs docs/datasets.md` rewrites the part between its markers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bucketpipe import catalog
from bucketpipe.catalog.spec import LINEAGE, DatasetSpec

START = "<!-- datasets:start -->"
END = "<!-- datasets:end -->"

POLICIES = {
    "keep": "keep: a row whose key is already committed is a duplicate and dropped",
    "latest": "latest: a changed row replaces the committed one (if fetched no earlier); "
    "an unchanged one is a duplicate",
}
GRAINS = {
    "day": "day",
    "month": "month (`dt` = its first day)",
    "quarter": "quarter (`dt` = its first day)",
    "year": "year (`dt` = 1 Jan)",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def columns_table(spec: DatasetSpec) -> list[str]:
    """A Markdown table of a dataset's stored columns (lineage included)."""
    lines = ["| Column | Type | Description |", "|---|---|---|"]
    for column in spec.columns:
        lines.append(f"| `{column.name}` | {column.type} | {_cell(column.description)} |")
    if not spec.derived_from:
        for name, typ, description in LINEAGE:
            lines.append(f"| `{name}` | {typ} | {_cell(description)} |")
    return lines


def rules_table(spec: DatasetSpec) -> list[str]:
    if not spec.rules:
        return []
    lines = ["", "Quarantine rules (the first that matches gives the reason):", ""]
    lines += ["| Reason | Condition |", "|---|---|"]
    for rule in spec.rules:
        lines.append(f"| {_cell(rule.reason)} | `{_cell(rule.condition)}` |")
    return lines


def dataset_section(spec: DatasetSpec) -> str:
    if spec.derived_from:
        origin = f"Derived after each clean run from {_code(spec.derived_from)}."
    else:
        origin = f"Raw endpoint {_code(spec.endpoints)}" + (
            " (premium: paid Finnhub plans only)." if spec.premium else "."
        )
    lines = [
        f"### `{spec.name}`",
        "",
        spec.description,
        "",
        f"- {origin}",
        f"- Key: {_code(spec.primary_key)}; event time: `{spec.time_column}`; partitions: "
        f"one per {GRAINS[spec.partition_by]} of `{spec.time_column}`.",
        f"- On conflict: {POLICIES[spec.on_conflict]}.",
        "",
        *columns_table(spec),
        *rules_table(spec),
    ]
    return "\n".join(lines)


def reference() -> str:
    """Every dataset of the catalog, raw-fed first, then derived, each in catalog order."""
    specs = catalog.specs()
    ordered = [s for s in specs if not s.derived_from] + [s for s in specs if s.derived_from]
    index = "\n".join(f"- [`{s.name}`](#{s.name}): {s.description}" for s in ordered)
    return index + "\n\n" + "\n\n".join(dataset_section(s) for s in ordered)


def replace_reference(text: str) -> str:
    """`text` with the block between the markers replaced by the current reference."""
    head, sep, rest = text.partition(START)
    if not sep or END not in rest:
        raise ValueError(f"markers {START} / {END} not found")
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{reference()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "docs/datasets.md")
    path.write_text(replace_reference(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
