"""The shape of a file's rows: how many fields its data lines have, which columns a JSON
object flattens to, and the JSON pointers that reach them."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from itertools import islice
from typing import Any

# Objects nested deeper than this stay one JSON text column.
MAX_DEPTH = 3
# CSV rows parsed from a file's head for its header and width: the header, and enough data
# lines to tell their usual width (all of a 1 MiB head took 18 ms a file, these 1 ms).
HEAD_ROWS = 1000


def head_rows(text: str, delimiter: str, quote: str) -> list[list[str]]:
    """The first HEAD_ROWS rows of a CSV text, parsed."""
    rows = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quote)
    return list(islice(rows, HEAD_ROWS))


def data_width(sample: list[list[str]]) -> int:
    """The number of fields most data lines have, when more than the header's: exports often
    end every data line with a delimiter the header lacks. The extra column is read (and
    dropped later if it stays empty) instead of rejecting every line as ragged."""
    counts: dict[int, int] = {}
    for row in sample[1:]:
        if row:
            counts[len(row)] = counts.get(len(row), 0) + 1
    if not counts:
        return len(sample[0])
    common = max(counts, key=lambda n: (counts[n], n))
    return max(common, len(sample[0]))


def json_leaves(structure: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of the columns a JSON structure flattens to (objects nested up to MAX_DEPTH)."""
    if not isinstance(structure, dict):
        return [prefix] if prefix else []
    out: list[tuple[str, ...]] = []
    for key, sub in structure.items():
        path = (*prefix, str(key))
        if isinstance(sub, dict) and sub and len(path) < MAX_DEPTH:
            out.extend(json_leaves(sub, path))
        else:
            out.append(path)
    return out


def pointer(path: Sequence[str]) -> str:
    """A JSON pointer (`/a/b~1c`) for a path of keys."""
    return "".join("/" + key.replace("~", "~0").replace("/", "~1") for key in path)
