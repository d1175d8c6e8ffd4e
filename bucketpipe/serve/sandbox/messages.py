"""Errors that help and reveal nothing: one line, no traceback, no path, bucket or key."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"]+")
# Two or more path segments: `/a/b`, `C:\x\y`; a lone `/` (division) stays.
_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[/\\](?:[^\s'\"/\\]+[/\\])+[^\s'\"]*")
_NOISE = ("LINE ", "^", "Stack Trace", "This error signals", "For more information")


@dataclass(frozen=True)
class Failure:
    """Why a query did not return rows. `kind`: refused, error, memory, too_large, crash."""

    kind: str
    message: str

    @property
    def recycle(self) -> bool:
        """Whether the worker must be replaced (anything that reached the engine and failed)."""
        return self.kind != "refused"


def one_line(exc: BaseException) -> str:
    """An engine error as one line: its message and any 'Did you mean' hint, no caret."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    kept = [lines[0]] if lines else [exc.__class__.__name__]
    kept += [line for line in lines[1:] if line.startswith("Did you mean")]
    return " ".join(line for line in kept if not line.startswith(_NOISE))


def scrub(text: str, needles: Iterable[str]) -> str:
    """`text` with every storage path, URL, bucket, endpoint or credential taken out."""
    for needle in sorted({n for n in needles if n}, key=len, reverse=True):
        text = text.replace(needle, "…")
    text = _URL.sub("<url>", text)
    return _PATH.sub("<path>", text)


def classify(exc: BaseException, needles: Iterable[str], memory: str) -> Failure:
    """The user's one-line message for an error raised while a query ran."""
    text = str(exc)
    if "max_temp_directory_size" in text:
        return Failure(
            "memory",
            "the query spilled more to disk than the SQL engine may use "
            "(BUCKETPIPE_SQL_MAX_TEMP_SIZE); narrow it",
        )
    if isinstance(exc, duckdb.OutOfMemoryException | MemoryError) or "bad allocation" in text:
        return Failure(
            "memory",
            f"the query needs more memory than the SQL engine may use ({memory}); narrow it "
            "(filters, LIMIT, fewer or smaller columns)",
        )
    if isinstance(exc, duckdb.PermissionException):
        return Failure(
            "refused", "the query tried to reach files or settings outside the lake's datasets"
        )
    if isinstance(exc, duckdb.InternalException | duckdb.FatalException) or "INTERNAL" in text:
        return Failure(
            "crash", "the SQL engine failed on this query (an internal error); it was restarted"
        )
    if isinstance(exc, duckdb.IOException | duckdb.HTTPException):
        return Failure("error", "a dataset's files could not be read just now; try again")
    if isinstance(exc, duckdb.Error):
        return Failure("error", scrub(one_line(exc), needles))
    return Failure("error", f"the query failed ({exc.__class__.__name__})")
