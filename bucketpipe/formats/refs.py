"""A landed file as clean sees it, and what loading a dataset's files did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bucketpipe.config.errors import BucketpipeError
from bucketpipe.formats.readers import ReadOptions

# The loaded rows of a dataset, and the lines its parsers rejected (`loading`).
INPUT = "_g_in"
REJECTS = "_g_rejects"
LOAD_LINEAGE = (
    ("_source_file", "VARCHAR"),
    ("_source_row", "BIGINT"),
    ("_ingest_run", "VARCHAR"),
    ("_fetched_at", "TIMESTAMPTZ"),
    ("_source_modified", "TIMESTAMPTZ"),
)
REJECT_COLUMNS = (
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_ingest_run", "VARCHAR"),
    ("_fetched_at", "TIMESTAMPTZ"),
    ("_raw_line", "VARCHAR"),
    ("_reject_reason", "VARCHAR"),
)


@dataclass(frozen=True)
class FileRef:
    """One landed file of a generic dataset, as its raw line describes it."""

    dataset: str
    uri: str
    key: str
    copy: str | None
    read: ReadOptions
    run: str
    landed_at: datetime
    modified: datetime | None = None
    size: int | None = None  # the source object's bytes, as listed at ingest

    @classmethod
    def from_raw(cls, run: str, path: str, requested_at: datetime, body: dict[str, Any]) -> FileRef:
        modified = body.get("last_modified")
        copy = body.get("copy")
        return cls(
            dataset=str(body["dataset"]),
            uri=str(body.get("uri") or path),
            key=path,
            copy=str(copy) if copy else None,
            read=ReadOptions.from_dict(dict(body.get("read") or {})),
            run=run,
            landed_at=requested_at,
            modified=datetime.fromisoformat(modified) if modified else None,
            size=int(body["size"]) if body.get("size") is not None else None,
        )


@dataclass
class LoadReport:
    """What loading a dataset's files did: rows, rejects, columns per file, failed files."""

    rows: int = 0
    rejected: int = 0
    columns: list[str] = field(default_factory=list)
    file_columns: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


class FileFailed(BucketpipeError):
    """A landed file that could not be loaded; the message is the reason."""
