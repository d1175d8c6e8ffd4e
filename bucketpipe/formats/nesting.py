"""How deep arrays and objects nest in a JSON or NDJSON file, measured while streaming.

A hostile file nested thousands of levels deep overflows recursive JSON code (DuckDB's
`json_group_structure` crashes the process), so ingest refuses such files before clean sees
them. The scan never recurses: strings are cut out with a regular expression, and the depth is
a running sum over the brackets that remain, all at C speed, one chunk at a time.
"""

from __future__ import annotations

import operator
import re
from itertools import accumulate, count
from pathlib import Path

from bucketpipe.formats.bounds import Limits
from bucketpipe.formats.readers import CHUNK, open_decompressed

MAX_JSON_DEPTH = 100

# Strings as "unrolled loops" with possessive repeats: a run of plain bytes is one repeat of a
# character class, so a string of hundreds of MiB costs no memory per byte (the plain form
# `(?:[^"\\]|\\.)*` keeps state per byte: 1 GiB for an 8 MiB string).
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_STRING_REST = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
# Opening brackets count 2, closing ones 0: after the i-th bracket (from 1) the depth is the
# running sum minus i.
_OPEN_AS_TWO = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


class _Scan:
    """The running state of a scan: depth so far, and whether a string is open."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False

    def feed(self, piece: bytes) -> bool:
        """Scan one piece (never ending inside a run of backslashes); True once too deep."""
        start = 0
        if self.in_string:
            closing = _STRING_REST.match(piece)
            if closing is None:
                return False  # the whole piece is inside the string
            start, self.in_string = closing.end(), False
        rest = _STRING.sub(b"", piece[start:])
        quote = rest.find(b'"')
        if quote >= 0:  # a string opens here and goes on in the next piece
            rest, self.in_string = rest[:quote], True
        brackets = _NOT_BRACKET.sub(b"", rest)
        if not brackets:
            return False
        sums = accumulate(brackets.translate(_OPEN_AS_TWO))
        deepest = max(map(operator.sub, sums, count(1)))
        if self.depth + deepest > self.limit:
            return True
        self.depth += 2 * (len(brackets) - brackets.count(b"]") - brackets.count(b"}"))
        self.depth -= len(brackets)
        return False


def json_too_deep(
    path: Path,
    compression: str = "none",
    limit: int = MAX_JSON_DEPTH,
    limits: Limits | None = None,
) -> bool:
    """True if arrays and objects in the file nest deeper than `limit` levels."""
    scan = _Scan(limit)
    carry = b""
    with open_decompressed(path, compression, limits) as fh:
        while True:
            block = fh.read(CHUNK)
            data = carry + block
            if not data:
                return False
            cut = len(data)
            if block:  # keep a trailing run of backslashes for the next piece
                while cut > 0 and data[cut - 1] == 0x5C:
                    cut -= 1
            carry = data[cut:]
            if scan.feed(data[:cut]):
                return True
            if not block:
                return False
