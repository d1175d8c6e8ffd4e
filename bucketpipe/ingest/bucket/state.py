"""What the bucket source has seen: key -> ETag and outcome, kept in the lake.

`_state/bucket/<source id>.json.gz` is written only after a run's manifest (the commit). A
crash in between leaves it behind the committed runs; `reconcile` folds them in on the next
start, reading only manifests written since the state's last update.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake.layout import state_key
from bucketpipe.lake.raw import read_lines
from bucketpipe.lake.runs import INGEST_JOB, RunLog
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)

SOURCE = "bucket"
STATUS_LANDED, STATUS_TOO_LARGE, STATUS_UNREADABLE = 200, 413, 422


class SourceState(BaseModel):
    """What has been seen of one source: key -> {etag, size, status, run, reason}."""

    source: str
    updated_at: datetime | None = None
    runs: list[str] = Field(default_factory=list)
    objects: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def record(
        self, key: str, etag: str, size: int, status: str, run: str, reason: str = ""
    ) -> None:
        entry: dict[str, Any] = {"etag": etag, "size": size, "status": status, "run": run}
        if reason:
            entry["reason"] = reason
        self.objects[key] = entry


def source_id(url: str) -> str:
    """A short stable id of a source URL (names its state object)."""
    return hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]


def source_state_key(sid: str) -> str:
    return state_key(SOURCE, f"{sid}.json.gz")


def load_state(store: ObjectStore, url: str) -> SourceState:
    try:
        data = json.loads(gzip.decompress(store.get(source_state_key(source_id(url)))))
        return SourceState.model_validate(data)
    except ObjectNotFound:
        return SourceState(source=url)


def save_state(store: ObjectStore, state: SourceState, now: datetime) -> None:
    state.updated_at = now
    state.runs = state.runs[-200:]
    body = gzip.compress(state.model_dump_json().encode(), compresslevel=6)
    store.put(source_state_key(source_id(state.source)), body, "application/gzip")


def reconcile(store: ObjectStore, state: SourceState) -> int:
    """Fold committed runs of this source that the state misses (a crash after the commit).

    Only manifests written since the state's last update (minus a margin for clock skew) are
    read, so this costs one LIST of `_runs/ingest/` on a normal start.
    """
    sid = source_id(state.source)
    since = state.updated_at - timedelta(hours=1) if state.updated_at else None
    applied = 0
    runlog = RunLog(store)
    for info in runlog.manifest_infos(INGEST_JOB):
        if since is not None and info.last_modified < since:
            continue
        if (manifest := runlog.load(info.key)) is None:
            continue
        if manifest.source != SOURCE or manifest.details.get("source_id") != sid:
            continue
        if manifest.input_id in state.runs:
            continue
        for key in manifest.outputs:
            for line in read_lines(store.get(key)):
                apply_line(state, line)
        state.runs.append(manifest.input_id)
        applied += 1
    if applied:
        log.warning("source state repaired from committed runs", extra={"runs": applied})
    return applied


def apply_line(state: SourceState, line: dict[str, Any]) -> None:
    params = line.get("params") or {}
    body = line.get("body") or {}
    status = {STATUS_LANDED: "landed", STATUS_TOO_LARGE: "too_large"}.get(
        int(line.get("status") or 0), "failed"
    )
    state.record(
        str(line.get("path")),
        str(params.get("etag")),
        int(body.get("size") or 0),
        status,
        str(line.get("run")),
        str(line.get("error") or ""),
    )
