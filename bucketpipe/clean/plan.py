"""What a clean run builds on, and how it re-plans after another writer committed first.

A run reads the newest version of every dataset first, and only then the inputs clean run
manifests list (`closed`). That order is what makes a version's `open_inputs` enough to see
every input the dataset consumed: a version can only have dropped an input from it once a
manifest listed that input, and such a manifest is then in `closed` too.

Per dataset, the run consumes its pending inputs minus those the version it builds on lists
as consumed. When its commit finds the version taken (`VersionTaken`), it reads the versions
it missed: inputs they consumed belong to the writer that committed them, for this dataset
and for the rest of the run (the run yields them; if that writer dies, the inputs stay
pending and the next run finishes them). Then it plans that dataset again on the new head.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bucketpipe.config.errors import CommitConflict, ObjectNotFound
from bucketpipe.lake.commits import Basis
from bucketpipe.lake.snapshots import (
    Snapshot,
    list_datasets,
    read_current,
    read_version,
    versions_between,
)
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)

# Commits of one dataset tried before the run gives up on it (each after a re-plan).
ATTEMPTS = 5
# The message of a dataset whose inputs were all consumed by other runs before this one.
ALREADY_CONSUMED = "nothing to do: other runs committed its inputs"


class CleanedMeanwhile(CommitConflict):
    """A rebuild lost a race to a clean that consumed inputs whose raw the rebuild has not
    read: it starts again from the new heads, reading those inputs too."""

    def __init__(self, dataset: str, inputs: Collection[str]) -> None:
        super().__init__(
            f"{dataset}: inputs cleaned while it was rebuilt ({sorted(inputs)[:3]}); "
            "rerun the rebuild"
        )
        self.dataset = dataset
        self.inputs = frozenset(inputs)


def read_heads(store: ObjectStore) -> dict[str, Snapshot | None]:
    """The newest version of every dataset in the lake (read before the closed inputs)."""
    return {name: read_current(store, name) for name in list_datasets(store)}


@dataclass
class Plan:
    """The versions a run builds on, the inputs it consumes, and what it learnt on the way.

    `inputs`: the pending ingest inputs of a clean run. `rebuild`: the run re-cleans the
    inputs each dataset already consumed instead (from `readable`, the inputs whose raw it
    has), consuming nothing new. `deadline`: a monotonic time after which a commit is
    refused (the run's first files may have been vacuumed).
    """

    store: ObjectStore
    bases: dict[str, Snapshot | None]
    closed: frozenset[str]
    inputs: tuple[str, ...] = ()
    rebuild: bool = False
    readable: frozenset[str] = frozenset()
    deadline: float | None = None
    yielded: set[str] = field(default_factory=set)
    consumed: dict[str, list[str]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # dataset -> why its files were not

    @staticmethod
    def deadline_after(grace_hours: float) -> float | None:
        """A deadline well inside vacuum's grace period (none when there is no grace)."""
        return time.monotonic() + grace_hours * 3600 * 0.9 if grace_hours > 0 else None

    def base(self, dataset: str) -> Snapshot | None:
        """The version this run builds the dataset on (None: it had none when planned)."""
        return self.bases.get(dataset)

    def reads(self, dataset: str) -> tuple[str, ...]:
        """The inputs whose rows the dataset's step reads."""
        base = self.base(dataset)
        done = set(base.open_inputs) if base else set()
        if self.rebuild:
            return tuple(sorted(i for i in self.readable if i in self.closed or i in done))
        return tuple(i for i in self.inputs if i not in self.yielded and i not in done)

    def basis(self, dataset: str) -> Basis:
        """What the dataset's commit builds on (a rebuild consumes nothing new)."""
        consumes = () if self.rebuild else self.reads(dataset)
        return Basis(self.base(dataset), consumes, self.closed, self.deadline)

    def committed(self, snapshot: Snapshot | None, dataset: str, consumed: Iterable[str]) -> None:
        """The run committed `snapshot` (None: nothing new) consuming `consumed`."""
        if snapshot is not None:
            self.bases[dataset] = snapshot
        taken = list(consumed)
        if taken and snapshot is not None:
            self.consumed[dataset] = taken

    def replan(self, dataset: str) -> None:
        """After `VersionTaken`: move to the new head; yield the inputs it consumed."""
        old = self.base(dataset)
        after = old.version if old else 0
        head = read_current(self.store, dataset, at_least=after)
        if head is None:
            return
        try:
            missed = versions_between(self.store, dataset, after, head.version)
        except ObjectNotFound:
            raise CommitConflict(
                f"{dataset}: versions this run did not see were vacuumed; rerun"
            ) from None
        taken = {i for snap in missed for i in snap.inputs} & set(self.inputs)
        if taken and not self.rebuild:
            log.info(
                "inputs committed by another writer; leaving them to it",
                extra={"dataset": dataset, "inputs": sorted(taken), "version": head.version},
            )
            self.yielded |= taken
        missing = set(head.open_inputs) - self.readable
        if self.rebuild and missing:
            raise CleanedMeanwhile(dataset, missing)
        self.bases[dataset] = head

    @property
    def closing(self) -> list[str]:
        """The inputs the run's manifest lists: all it planned but those it yielded."""
        return [i for i in self.inputs if i not in self.yielded]

    def claimed(self, inputs: Collection[str], run_id: str, since: datetime) -> set[str]:
        """Of `inputs`, those a version of another run committed after `since` consumed: that
        run may be alive and about to list them in its manifest, so this one leaves them.

        Walks back from each base while versions are newer than `since` and still hold one of
        the inputs open (an input drops out of `open_inputs` only once a manifest lists it, so
        its consuming version is further back), usually reading nothing but the base.
        """
        wanted = set(inputs)
        out: set[str] = set()
        for dataset, snap in self.bases.items():
            version = snap
            while version is not None and version.created_at > since:
                if not (wanted - out) & set(version.open_inputs):
                    break
                if version.run_id != run_id:
                    out |= wanted & set(version.inputs)
                version = self._parent(dataset, version)
        return out

    def _parent(self, dataset: str, snap: Snapshot) -> Snapshot | None:
        if snap.parent is None:
            return None
        try:
            return read_version(self.store, dataset, snap.parent)
        except (ObjectNotFound, ValueError):
            return None  # vacuumed: older than any grace period, its run is long over
