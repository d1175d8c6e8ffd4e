"""What clean has to do: committed ingest runs no committed clean run consumed yet.

The work list comes from the bucket (`_runs/ingest/` minus the inputs of committed clean runs);
the Redis stream only wakes clean sooner, and its entries are acked after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from bucketpipe.clean.plan import Plan
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
    # Inputs committed clean runs list (the rest of the ingest runs is what is pending).
    closed: set[str] = field(default_factory=set)

    @property
    def input_ids(self) -> list[str]:
        return [m.input_id for m in self.manifests]


def processed_inputs(ctx: Context) -> set[str]:
    """Input ids consumed by committed clean runs (from manifests, cached in `_state/`).

    Whole manifests are read once each; day archives (retention folds old manifests into
    them) are read again only when their ETag changed.
    """
    return ctx.runlog.consumed(CLEAN_JOB, cache_key=CLEAN_CONSUMED_KEY)


def find_pending(
    ctx: Context, *, limit: int | None = None, done: set[str] | None = None
) -> list[RunManifest]:
    """Committed ingest runs not yet cleaned, oldest first (reconciliation with the bucket).

    `done`: the inputs committed clean runs list, when the caller has read them already."""
    done = processed_inputs(ctx) if done is None else done
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
    closed = processed_inputs(ctx)
    pending = Pending(manifests=find_pending(ctx, limit=limit, done=closed), closed=closed)
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


def closing_inputs(ctx: Context, plan: Plan, run_id: str) -> list[str]:
    """The inputs a clean run's manifest lists: those it planned and did not yield.

    A run lists what it consumed, and what a version of its own run id consumed (the retried
    pod of a run that died after commits). An input it consumed into no dataset (other runs'
    versions consumed it everywhere) is left out when another run's manifest lists it by now,
    or when another run's version that consumed it is younger than a lock lifetime: that run
    is taken to be alive and about to list it, so two runs do not both list it. Once that
    version is older, its run is taken to have died before its manifest, and the next run
    lists the input (an input listed by none would stay pending).
    """
    closing = plan.closing
    mine = [snap for snap in plan.bases.values() if snap is not None and snap.run_id == run_id]
    worked = {i for inputs in plan.consumed.values() for i in inputs}
    worked |= {i for snap in mine for i in snap.inputs}
    others = [i for i in closing if i not in worked]
    if not others:
        return closing
    closed_now = processed_inputs(ctx)
    since = ctx.now() - timedelta(seconds=ctx.settings.lock_ttl_seconds)
    alive = plan.claimed([i for i in others if i not in closed_now], run_id, since)
    if alive:
        log.info(
            "inputs left to the live run that consumed them",
            extra={"run_id": run_id, "inputs": sorted(alive)},
        )
    return [i for i in closing if i in worked or (i not in closed_now and i not in alive)]
