"""The raw format: one gzip JSON line per API call or source file, immutable once committed."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# What the clean job reads from every line (see `raw_columns_sql`).
RAW_COLUMNS: dict[str, str] = {
    "run": "VARCHAR",
    "source": "VARCHAR",
    "endpoint": "VARCHAR",
    "path": "VARCHAR",
    "params": "JSON",
    "requested_at": "TIMESTAMPTZ",
    "status": "INTEGER",
    "error": "VARCHAR",
    "body": "JSON",
}


class RawRecord(BaseModel):
    """One API call (or one source file): what was asked, when, how it went, and the body."""

    model_config = ConfigDict(extra="allow")

    run: str = Field(description="Input id of the ingest run (run id plus shard).")
    source: str
    endpoint: str = Field(description="Logical endpoint name, e.g. `quote`.")
    path: str | None = Field(None, description="API path or source object key.")
    params: dict[str, Any] = Field(default_factory=dict, description="Request, no credentials.")
    requested_at: datetime
    status: int = Field(description="HTTP status (200 for a source file read).")
    elapsed_ms: float | None = None
    error: str | None = None
    body: Any = None


def encode_line(record: RawRecord) -> bytes:
    data = record.model_dump(mode="json", exclude_none=False)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


class RawWriter:
    """Streams records into a gzip JSON-lines temp file; `path` is then uploaded whole."""

    def __init__(self, directory: str | Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=".jsonl.gz", dir=directory)
        os.close(fd)
        self.path = Path(name)
        self._fh = gzip.open(self.path, "wb", compresslevel=6)  # noqa: SIM115 - closed in close()
        self.count = 0
        self.by_endpoint: dict[str, int] = {}

    def write(self, record: RawRecord) -> None:
        self._fh.write(encode_line(record))
        self.count += 1
        self.by_endpoint[record.endpoint] = self.by_endpoint.get(record.endpoint, 0) + 1

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> RawWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_lines(data: bytes) -> Iterator[dict[str, Any]]:
    """Decode a raw object (gzip JSON lines) into dicts."""
    for line in gzip.decompress(data).splitlines():
        if line.strip():
            yield json.loads(line)


def now_utc() -> datetime:
    return datetime.now(UTC)
