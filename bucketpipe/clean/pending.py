"""What clean has to do: committed ingest runs no committed clean run consumed yet.

The work list comes from the bucket (`_runs/ingest/` minus the inputs of committed clean runs);
the Redis stream only wakes clean sooner, and its entries are acked after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bucketpipe.context import Context
from bucketpipe.coord.signals import INGEST_COMMITTED, Event
from bucketpipe.lake.layout import CLEAN_CONSUMED_KEY, last_part
from bucketpipe.lake.runs import CLEAN_JOB, INGEST_JOB, RunManifest

log = logging.getLogger(__name__)

# The consumer group of clean on the events stream.
GROUP = "clean"


@dataclass
class Pending:
    """Committed ingest inputs waiting to be cleaned, and the stream entries announcing them."""

    manifests: list[RunManifest] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    stale_event_ids: list[str] = field(default_factory=list)

    @property
    def input_ids(self) -> list[str]:
        return [m.input_id for m in self.manifests]


def processed_inputs(ctx: Context) -> set[str]:
    """Input ids consumed by committed clean runs (from manifests, cached in `_state/`).

    Whole manifests are read once each; day archives (retention folds old manifests into
    them) are read again only when their ETag changed.
    """
    return ctx.runlog.consumed(CLEAN_JOB, cache_key=CLEAN_CONSUMED_KEY)


def find_pending(ctx: Context, *, limit: int | None = None) -> list[RunManifest]:
    """Committed ingest runs not yet cleaned, oldest first (reconciliation with the bucket)."""
    done = processed_inputs(ctx)
    manifests: list[RunManifest] = []
    for key in ctx.runlog.manifest_keys(INGEST_JOB):
        if last_part(key).removesuffix(".json") in done:
            continue
        if (manifest := ctx.runlog.load(key)) is None:
            log.warning("unreadable ingest manifest skipped", extra={"key": key})
            continue
        manifests.append(manifest)
    manifests.sort(key=lambda m: (m.finished_at, m.input_id))
    return manifests[:limit] if limit else manifests


def collect_pending(ctx: Context, consumer: str, *, limit: int | None = None) -> Pending:
    """Stream entries (own pending, new, abandoned) plus reconciliation against the bucket."""
    signals = ctx.signals
    events: list[Event] = []
    if signals.configured:
        events += signals.pending_events(GROUP, consumer)
        events += signals.read_group(GROUP, consumer, count=1000)
        events += signals.claim_abandoned(
            GROUP, consumer, min_idle_ms=ctx.settings.lock_ttl_seconds * 1000
        )
    pending = Pending(manifests=find_pending(ctx, limit=limit))
    waiting = set(pending.input_ids)
    for event in events:
        if event.id is None:
            continue
        if event.kind == INGEST_COMMITTED and event.run_id in waiting:
            pending.event_ids.append(event.id)
        else:
            # Already cleaned, or not an ingest event: nothing to wait for.
            pending.stale_event_ids.append(event.id)
    return pending


def all_ingest_manifests(ctx: Context) -> list[RunManifest]:
    """Every whole ingest manifest (a rebuild reads the runs clean had consumed)."""
    return [m for key in ctx.runlog.manifest_keys(INGEST_JOB) if (m := ctx.runlog.load(key))]
