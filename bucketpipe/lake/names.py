"""Names users give (column headers, folders, files) turned into unique snake_case identifiers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_LENGTH = 63
_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def snake_case(text: str, *, digit_prefix: str = "c", empty: str = "column") -> str:
    """`"Unit Price (€)"` -> `unit_price`, `"firstName"` -> `first_name`, `"Määrä"` -> `maara`.

    Accents are dropped (NFKD), camelCase is split, every run of other characters becomes one
    `_`, and a name that would start with a digit gets `digit_prefix` + `_`. Leading
    underscores are removed: they are reserved for lineage columns.
    """
    folded = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(ch for ch in folded if not unicodedata.combining(ch))
    ascii_text = ascii_text.replace("%", " pct ").replace("#", " no ").replace("&", " and ")
    spaced = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", ascii_text))
    name = _NON_WORD.sub("_", spaced.lower()).strip("_")
    if not name:
        name = empty
    if name[0].isdigit():
        name = f"{digit_prefix}_{name}"
    return name[:MAX_LENGTH].rstrip("_")


def unique_names(raw: Iterable[str], *, taken: Iterable[str] = ()) -> list[str]:
    """Snake_case names, made unique in order: a repeated name gets `_2`, `_3`, ...; so does
    a name in `taken` (names the caller's table already has)."""
    out: list[str] = []
    seen: set[str] = set(taken)
    for index, original in enumerate(raw, start=1):
        base = snake_case(original, empty=f"column_{index}")
        name, n = base, 1
        while name in seen:
            n += 1
            suffix = f"_{n}"
            name = base[: MAX_LENGTH - len(suffix)] + suffix
        seen.add(name)
        out.append(name)
    return out


def dataset_name(text: str) -> str:
    """A dataset name from a folder or file name (`"Sales 2024"` -> `sales_2024`)."""
    return snake_case(text, digit_prefix="data", empty="files")
