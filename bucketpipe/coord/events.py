"""The events stream: what jobs announce (`ingest.committed`, ...) and its entries' fields."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EVENTS = "events"
INGEST_COMMITTED = "ingest.committed"
CLEAN_COMMITTED = "clean.committed"
COMPACT_COMMITTED = "compact.committed"
RUN_FAILED = "run.failed"


@dataclass(frozen=True)
class Event:
    """One entry of the events stream."""

    kind: str
    run_id: str
    job: str
    manifest: str | None = None
    datasets: tuple[str, ...] = ()
    rows: int = 0
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    extra: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None

    def to_fields(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "run_id": self.run_id,
            "job": self.job,
            "manifest": self.manifest or "",
            "datasets": ",".join(self.datasets),
            "rows": str(self.rows),
            "at": self.at,
            "extra": json.dumps(dict(self.extra), default=str),
        }

    @classmethod
    def from_fields(cls, entry_id: str, fields: Mapping[str, str]) -> Event:
        extra = fields.get("extra") or "{}"
        try:
            parsed = json.loads(extra)
        except ValueError:
            parsed = {}
        return cls(
            id=entry_id,
            kind=fields.get("kind", ""),
            run_id=fields.get("run_id", ""),
            job=fields.get("job", ""),
            manifest=fields.get("manifest") or None,
            datasets=tuple(d for d in fields.get("datasets", "").split(",") if d),
            rows=int(fields.get("rows") or 0),
            at=fields.get("at", ""),
            extra=parsed if isinstance(parsed, dict) else {},
        )


def events_of(reply: Any) -> list[Event]:
    """The events of an XREAD/XREADGROUP/XAUTOCLAIM reply, in order."""
    events: list[Event] = []
    for _stream, messages in reply or []:
        for entry_id, fields in messages:
            if fields:
                events.append(Event.from_fields(entry_id, fields))
    return events
