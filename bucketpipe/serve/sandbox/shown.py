"""What a query result shows its reader, for the checks that withhold a result showing where
the lake is or a credential.

The check reads what a reader can see: the schema (column names, types, metadata) and the
values of every text and binary column, nested ones included. It does not read the raw bytes
of the Arrow buffers: the slots under a null hold whatever memory the engine left there (a
freed file path, say), which no reader is shown, and a check of the raw bytes refused honest
results at random. A number cannot spell a path or key, so number, time and boolean columns
are not read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

# Text types `match_substring` reads as they are; other text and binary types are cast first.
_MATCHED = (
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_binary,
    pa.types.is_large_binary,
)
_CAST = (
    (pa.types.is_string_view, pa.large_string()),
    (pa.types.is_binary_view, pa.large_binary()),
    (pa.types.is_fixed_size_binary, pa.large_binary()),
)
_LISTS = (
    pa.types.is_list,
    pa.types.is_large_list,
    pa.types.is_fixed_size_list,
    pa.types.is_list_view,
    pa.types.is_large_list_view,
)
# Types whose values are numbers, times or booleans: nothing a reader sees spells a text.
_NO_TEXT = (
    pa.types.is_null,
    pa.types.is_boolean,
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_decimal,
    pa.types.is_temporal,
    pa.types.is_interval,
)


def shows_any(schema: pa.Schema, batches: Iterable[pa.RecordBatch], needles: Iterable[str]) -> bool:
    """True when the result would show any of `needles` to its reader."""
    wanted = sorted({n for n in needles if n})
    if not wanted:
        return False
    described = schema.serialize().to_pybytes()
    if any(needle.encode() in described for needle in wanted):
        return True
    for batch in batches:
        for column in batch.columns:
            for leaf in text_leaves(column):
                if any(_contains(leaf, needle) for needle in wanted):
                    return True
    return False


def text_leaves(array: pa.Array) -> Iterator[pa.Array]:
    """The text and binary arrays within `array` (itself, or its nested children), each with
    only the values a reader sees (slices and nulls of the parents applied)."""
    kind = array.type
    if any(test(kind) for test in _NO_TEXT):
        return
    if any(test(kind) for test in _MATCHED):
        yield array
        return
    for test, target in _CAST:
        if test(kind):
            yield array.cast(target)
            return
    if pa.types.is_dictionary(kind):
        yield from text_leaves(array.dictionary)
    elif pa.types.is_map(kind):
        yield from text_leaves(array.keys)
        yield from text_leaves(array.items)
    elif any(test(kind) for test in _LISTS):
        yield from text_leaves(array.flatten())
    elif pa.types.is_struct(kind):
        for child in array.flatten():
            yield from text_leaves(child)
    elif pa.types.is_union(kind):
        for index in range(kind.num_fields):
            yield from text_leaves(array.field(index))
    else:
        # A type this module does not know: its raw bytes, the cautious reading.
        raw = b"".join(buffer.to_pybytes() for buffer in array.buffers() if buffer is not None)
        yield pa.array([raw], pa.large_binary())


def _contains(leaf: pa.Array, needle: str) -> bool:
    if len(leaf) == 0 or leaf.null_count == len(leaf):
        return False
    return bool(pc.any(pc.match_substring(leaf, needle)).as_py())
