"""Commits: a dataset's next version, created only if absent (the lake's one compare-and-swap).

A commit builds version N+1 from the version N its writer planned against (its `Basis`) and
creates `_snapshots/<dataset>/<N+1>.json` with create-if-absent (`If-None-Match: *` on a
single-part PUT, `link()` on a directory). That write is the commit point: once it exists the
version is committed, whatever happens next. If another writer created N+1 first, nothing is
written and `VersionTaken` tells the writer to re-plan against the new head; it never
overwrites. `current.json` is written after, as a hint for readers.

A version consuming ingest inputs records them (`inputs`), plus the inputs the dataset has
consumed that no clean run manifest lists yet (`open_inputs`), so the next writer, and one
re-planning after a conflict, can see that an input is in and drop it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bucketpipe.config.errors import CommitConflict, ObjectNotFound
from bucketpipe.lake.index import update_index
from bucketpipe.lake.layout import check_name, current_key, snapshot_key
from bucketpipe.lake.snapshots import (
    CONTENT_VERSION,
    PROTOCOL,
    SAME_ROWS,
    FileEntry,
    Snapshot,
    read_current,
    read_version,
)
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)

# A rebase (a compaction whose files are all still there) is tried this often.
REBASE_ATTEMPTS = 5


class VersionTaken(CommitConflict):
    """Another writer created the version this commit meant to create: re-plan and retry."""

    def __init__(self, dataset: str, version: int) -> None:
        super().__init__(f"{dataset}: version {version} was committed by another writer")
        self.dataset = dataset
        self.version = version


@dataclass(frozen=True)
class Basis:
    """What a commit builds on: the version its writer planned against (None: the dataset had
    no version then), the ingest inputs it consumes, the inputs clean run manifests already
    list (dropped from `open_inputs`), and a monotonic deadline past which the writer's files
    may have been vacuumed (the commit is refused: the run is redone)."""

    snapshot: Snapshot | None
    inputs: tuple[str, ...] = ()
    closed: Collection[str] = field(default_factory=frozenset)
    deadline: float | None = None

    @property
    def version(self) -> int:
        return self.snapshot.version if self.snapshot else 0


def commit(
    store: ObjectStore,
    dataset: str,
    *,
    run_id: str,
    add: Iterable[FileEntry] = (),
    remove: Iterable[str] = (),
    columns: Iterable[tuple[str, str]] | None = None,
    time_column: str | None = None,
    operation: str = "append",
    replace_all: bool = False,
    basis: Basis | None = None,
    rebase: bool = False,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Snapshot:
    """Commit the next version: the basis' files + `add` - `remove` (only `add` with
    `replace_all`). Without a basis, on the newest version.

    `VersionTaken` if another writer committed a version after the basis. With `rebase` (an
    operation that only rewrites files, like compaction) the commit is retried on the new
    head instead, as long as every file it removes is still there.
    """
    check_name(dataset)
    basis = basis if basis is not None else Basis(read_current(store, dataset))
    remove = list(remove)
    add = list(add)
    for _ in range(REBASE_ATTEMPTS):
        try:
            snapshot = _build(
                basis,
                dataset,
                run_id,
                add,
                remove,
                columns,
                time_column,
                operation,
                replace_all,
                details,
                now,
            )
            return _commit_once(store, dataset, snapshot, basis.deadline)
        except VersionTaken:
            if not rebase:
                raise
            head = read_current(store, dataset, at_least=basis.version)
            if head is None or not set(remove) <= set(head.keys):
                raise
            log.info("rebasing on a newer version", extra={"dataset": dataset})
            basis = Basis(head, basis.inputs, basis.closed, basis.deadline)
    raise CommitConflict(f"{dataset}: other writers kept committing; rerun")


def _build(
    basis: Basis,
    dataset: str,
    run_id: str,
    add: list[FileEntry],
    remove: list[str],
    columns: Iterable[tuple[str, str]] | None,
    time_column: str | None,
    operation: str,
    replace_all: bool,
    details: dict[str, Any] | None,
    now: datetime | None,
) -> Snapshot:
    base = basis.snapshot
    removing = set(remove)
    kept = [] if base is None or replace_all else [f for f in base.files if f.key not in removing]
    seen = {f.key for f in kept}
    duplicates = [f.key for f in add if f.key in seen]
    if duplicates:
        raise CommitConflict(f"{dataset}: files already in the snapshot: {duplicates[:3]}")
    files = tuple(sorted(kept + add, key=lambda f: (f.partition or "", f.key)))
    keys = {f.key for f in files}
    details = dict(details or {})
    if operation in SAME_ROWS and base is not None:
        # Same rows: what the parent recorded about them (a derived dataset's inputs) holds.
        details = {**base.details, **details, CONTENT_VERSION: base.content_version}
    consumed = set(basis.inputs)
    still_open = {i for i in (base.open_inputs if base else ()) if i not in basis.closed}
    if base is not None and columns is None:
        columns = base.columns
    return Snapshot(
        dataset=dataset,
        version=basis.version + 1,
        created_at=now or datetime.now(UTC),
        run_id=run_id,
        parent=base.version if base else None,
        files=files,
        columns=tuple(columns or ()),
        time_column=time_column or (base.time_column if base else None),
        operation=operation,
        details=details,
        protocol=PROTOCOL,
        inputs=tuple(sorted(consumed)),
        open_inputs=tuple(sorted(still_open | consumed)),
        removed=tuple(sorted(k for k in (base.keys if base else ()) if k not in keys)),
    )


def _commit_once(
    store: ObjectStore, dataset: str, snapshot: Snapshot, deadline: float | None = None
) -> Snapshot:
    if deadline is not None and time.monotonic() > deadline:
        raise CommitConflict(
            f"{dataset}: this run took longer than the vacuum grace period allows, so its "
            "files may be gone; nothing was committed, rerun"
        )
    for _ in range(2):
        body = snapshot.model_dump_json().encode()
        if store.put_new(snapshot_key(dataset, snapshot.version), body, "application/json"):
            break
        if not _old_leftover(store, dataset, snapshot.version):
            raise VersionTaken(dataset, snapshot.version)
        # A version document of the old protocol that its writer never made current: the
        # number is burnt, the next one is used (readers step over it too).
        snapshot = snapshot.model_copy(update={"version": snapshot.version + 1})
    else:
        raise VersionTaken(dataset, snapshot.version)
    # The hint; the commit stands without it (readers probe forward from an older one).
    store.put(current_key(dataset), body, "application/json")
    update_index(store, [snapshot])  # the hint cold readers start from, a hint as well
    log.debug(
        "snapshot committed",
        extra={"dataset": dataset, "version": snapshot.version, "files": len(snapshot.files)},
    )
    return snapshot


def _old_leftover(store: ObjectStore, dataset: str, version: int) -> bool:
    try:
        return read_version(store, dataset, version).protocol < PROTOCOL
    except (ObjectNotFound, ValueError):
        return False
