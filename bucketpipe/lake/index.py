"""The lake index: one small document a reader starts from, so a cold session reads the lake in
one GET instead of a LIST plus two GETs per dataset.

`_state/lake.json` holds each dataset's newest snapshot document as its writer committed it, and
each service's last run (what the dashboard's sidebar shows). Like `current.json` it is a hint,
replaced whole after each commit and run manifest: version documents stay the truth. Two writers
updating it at the same moment can lose one's entry (no compare-and-swap on RGW), and a writer
that dies between its commit and the index leaves it behind; both are repaired by the next
commit of that dataset and by every `compact` (vacuum moves the index to each dataset's head
before deleting anything); readers read a dataset Redis announced a commit of from its version
documents at once, and every dataset's at their periodic full sync. A reader never takes an
entry older than a version it has seen.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bucketpipe.config.errors import BucketpipeError, ObjectNotFound
from bucketpipe.lake.layout import state_key
from bucketpipe.lake.snapshots import Snapshot, list_datasets, read_current
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)

INDEX_KEY = state_key("lake.json")
# The newest runs of each service, for the pipeline page's history (one GET, no listing).
RUNS_KEY = state_key("runs.json")
RECENT_RUNS = 100


class LakeIndex(BaseModel):
    """Dataset -> its newest snapshot; service -> a summary of its last run."""

    model_config = ConfigDict(frozen=True)

    written_at: datetime
    snapshots: dict[str, Snapshot] = Field(default_factory=dict)
    services: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Dataset -> the newest ingest run's account of its endpoint (entitlement, errors), with
    # that run's `run_id` and `finished_at`: why a dataset is empty, without listing runs.
    endpoints: dict[str, dict[str, Any]] = Field(default_factory=dict)


def read_index(store: ObjectStore) -> LakeIndex | None:
    """The index, or None when no writer made one yet (or it cannot be read)."""
    try:
        return LakeIndex.model_validate_json(store.get(INDEX_KEY))
    except ObjectNotFound:
        return None
    except ValidationError as exc:
        log.warning("lake index unreadable, ignored", extra={"error": str(exc)[:200]})
        return None


def merged(
    index: LakeIndex | None,
    snapshots: Iterable[Snapshot] = (),
    services: dict[str, dict[str, Any]] | None = None,
    *,
    now: datetime,
    endpoints: dict[str, dict[str, Any]] | None = None,
) -> LakeIndex:
    """`index` with newer snapshots, service runs and endpoint accounts taken in (never an
    older one)."""
    snaps = dict(index.snapshots) if index else {}
    for snap in snapshots:
        held = snaps.get(snap.dataset)
        if held is None or held.version < snap.version:
            snaps[snap.dataset] = snap
    runs = _newer(index.services if index else {}, services or {})
    ends = _newer(index.endpoints if index else {}, endpoints or {})
    return LakeIndex(written_at=now, snapshots=snaps, services=runs, endpoints=ends)


def _newer(
    held: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """`held` with each entry of `new` that finished no earlier than the one it replaces."""
    out = dict(held)
    for name, entry in new.items():
        old = out.get(name)
        if old is None or str(old.get("finished_at", "")) <= str(entry.get("finished_at", "")):
            out[name] = entry
    return out


def update_index(
    store: ObjectStore,
    snapshots: Iterable[Snapshot] = (),
    services: dict[str, dict[str, Any]] | None = None,
    endpoints: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Take committed snapshots or finished runs into the index. Never fails its caller: the
    commit or run it records stands without it (readers fall back to the version documents)."""
    try:
        index = read_index(store)
        if index is None:
            # The first index of a lake that has datasets already starts from all of them.
            snapshots = [*_every_dataset(store), *snapshots]
        new = merged(index, snapshots, services, now=datetime.now(UTC), endpoints=endpoints)
        store.put(INDEX_KEY, new.model_dump_json().encode(), "application/json")
    except BucketpipeError as exc:
        log.warning("lake index not updated", extra={"error": str(exc)})


def prune_index(store: ObjectStore, datasets: Iterable[str]) -> None:
    """Forget the datasets of the index that are not in `datasets` (their snapshot folders
    were deleted by hand): `compact` calls it with every dataset it found."""
    index = read_index(store)
    keep = set(datasets)
    if index is None or set(index.snapshots) <= keep:
        return
    snaps = {name: snap for name, snap in index.snapshots.items() if name in keep}
    new = index.model_copy(update={"snapshots": snaps, "written_at": datetime.now(UTC)})
    store.put(INDEX_KEY, new.model_dump_json().encode(), "application/json")


def _every_dataset(store: ObjectStore) -> list[Snapshot]:
    found = (read_current(store, name) for name in list_datasets(store))
    return [snap for snap in found if snap is not None]


class RecentRuns(BaseModel):
    """Service -> summaries of its newest `RECENT_RUNS` runs, newest first (a hint as well:
    the run manifests are the record)."""

    written_at: datetime
    runs: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)


def read_recent_runs(store: ObjectStore) -> RecentRuns | None:
    try:
        return RecentRuns.model_validate_json(store.get(RUNS_KEY))
    except ObjectNotFound:
        return None
    except ValidationError as exc:
        log.warning("recent runs unreadable, ignored", extra={"error": str(exc)[:200]})
        return None


def record_recent_run(store: ObjectStore, service: str, summary: dict[str, Any]) -> None:
    """Put a finished run's summary first in its service's list (once per run id)."""
    try:
        held = read_recent_runs(store)
        runs = dict(held.runs) if held else {}
        key = (summary.get("run_id"), summary.get("shard"))
        others = [r for r in runs.get(service, []) if (r.get("run_id"), r.get("shard")) != key]
        newest = sorted([summary, *others], key=lambda r: str(r.get("finished_at")), reverse=True)
        runs[service] = newest[:RECENT_RUNS]
        doc = RecentRuns(written_at=datetime.now(UTC), runs=runs)
        store.put(RUNS_KEY, doc.model_dump_json().encode(), "application/json")
    except BucketpipeError as exc:
        log.warning("recent runs not updated", extra={"error": str(exc)})
