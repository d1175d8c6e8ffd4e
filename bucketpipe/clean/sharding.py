"""A clean run split over shards (pods of a Kubernetes Indexed Job), one share of datasets each.

Each dataset belongs to exactly one shard, decided from its name alone, so every pod of the
run agrees without talking to the others. A shard cleans the pending inputs into its datasets
only and commits each of them on its own (each version records the inputs it consumed: the
commit protocol of `clean.plan`), then writes a shard manifest that closes nothing.

The run is finished by whichever shard sees every shard's manifest after writing its own (the
last to finish always does: it wrote after all the others). It updates the derived datasets
from the committed sources, then writes the run's manifest, which closes the inputs every
shard handled, and announces the commit. An input only some shards handled (it was ingested
while the run started) stays pending: the next run cleans it into the datasets that lack it.
A shard that fails leaves the run unfinished and its inputs pending; the next clean, sharded
or not, finishes them. The result is the rows a single-pod clean of the same inputs commits.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bucketpipe import catalog
from bucketpipe.clean.assessment import publish_quality
from bucketpipe.clean.job import DatasetHook, announce, clean_inputs
from bucketpipe.clean.manifest import clean_manifest
from bucketpipe.clean.pending import find_pending, processed_inputs
from bucketpipe.clean.plan import Plan, read_heads
from bucketpipe.config.errors import ConfigError
from bucketpipe.context import Context
from bucketpipe.lake import delta
from bucketpipe.lake.layout import input_id
from bucketpipe.lake.runs import CLEAN_JOB, DatasetResult, RunManifest

log = logging.getLogger(__name__)

# The shard manifests' lock detail: shards take no writer lock (they run at once by design);
# the per-dataset compare-and-swap keeps each dataset to one writer's commit.
NO_LOCK = "none"


def _catalog_order() -> list[str]:
    """The catalog datasets cleaned from raw, by name (derived ones are the finisher's)."""
    return sorted(s.name for s in catalog.specs() if not s.derived_from)


@dataclass(frozen=True)
class CleanShard:
    """Shard `index` of `count` (0-based) of a sharded clean run."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(f"invalid clean shard {self.index}/{self.count}")

    def owns(self, dataset: str) -> bool:
        """Whether this shard cleans the dataset: catalog datasets round-robin by name (an
        even spread of the known ones), generic datasets by a stable hash of the name (the
        same in every process, unlike `hash()`)."""
        return shard_of(dataset, self.count) == self.index


def shard_of(dataset: str, count: int) -> int:
    """The shard that cleans a dataset, out of `count`."""
    order = _catalog_order()
    if dataset in order:
        return order.index(dataset) % count
    digest = hashlib.sha256(dataset.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def run_shard(
    ctx: Context,
    *,
    run_id: str,
    shard: CleanShard,
    after_clean: Sequence[DatasetHook],
    force: bool = False,
) -> RunManifest | None:
    """Clean this shard's datasets from every pending input, then finish the run if every
    shard is done. Returns the shard's manifest (None: its work was committed before)."""
    runlog = ctx.runlog
    shard_id = input_id(run_id, shard.index)
    if not force and runlog.exists(CLEAN_JOB, shard_id):
        log.info("shard already committed", extra={"run_id": run_id, "shard": shard.index})
        finish_if_complete(ctx, run_id=run_id, count=shard.count, after_clean=after_clean)
        return None
    started = ctx.now()
    heads = read_heads(ctx.store)
    closed = frozenset(processed_inputs(ctx))
    manifests = find_pending(ctx, done=set(closed))
    plan = Plan(
        ctx.store,
        heads,
        closed,
        inputs=tuple(m.input_id for m in manifests),
        deadline=Plan.deadline_after(ctx.settings.vacuum_grace_hours),
    )
    results: dict[str, DatasetResult] = {}
    if manifests:
        results = clean_inputs(
            ctx, manifests, plan=plan, run_id=run_id, after_clean=(), owns=shard.owns
        )
    manifest = clean_manifest(ctx, run_id, started, [], results, lock_kind=NO_LOCK, plan=plan)
    manifest.shard, manifest.shards = shard.index, shard.count
    # What this shard did with every input it planned: the finisher closes those all did.
    manifest.details["handled"] = plan.closing
    runlog.write(manifest)
    log.info(
        "clean shard committed",
        extra={"run_id": run_id, "shard": shard.index, "inputs": len(plan.closing)},
    )
    finish_if_complete(ctx, run_id=run_id, count=shard.count, after_clean=after_clean)
    return manifest


def finish_if_complete(
    ctx: Context, *, run_id: str, count: int, after_clean: Sequence[DatasetHook]
) -> RunManifest | None:
    """Finish the run once all `count` shard manifests exist (None: not yet, or finished)."""
    runlog = ctx.runlog
    if runlog.exists(CLEAN_JOB, run_id):
        return None
    shards: list[RunManifest] = []
    for index in range(count):
        shard_id = input_id(run_id, index)
        if not runlog.exists(CLEAN_JOB, shard_id):
            log.info("shards still running", extra={"run_id": run_id, "missing": index})
            return None
        shards.append(runlog.read(CLEAN_JOB, shard_id))
    return _finish(ctx, run_id, shards, after_clean)


def _finish(
    ctx: Context, run_id: str, shards: list[RunManifest], after_clean: Sequence[DatasetHook]
) -> RunManifest:
    """Derived datasets from the committed sources, then the run's manifest and its signals."""
    started = min(m.started_at for m in shards)
    handled = set.intersection(*(set(m.details.get("handled", [])) for m in shards))
    results: dict[str, DatasetResult] = {}
    for manifest in shards:
        results.update(manifest.datasets)
    heads = read_heads(ctx.store)
    plan = Plan(ctx.store, heads, frozenset(processed_inputs(ctx)))
    results.update(clean_inputs(ctx, [], plan=plan, run_id=run_id, after_clean=after_clean))
    for shard in shards:
        plan.refused.update(shard.details.get("refused", {}))
    inputs = sorted(handled)
    manifest = clean_manifest(ctx, run_id, started, inputs, results, lock_kind=NO_LOCK, plan=plan)
    manifest.details["shards"] = len(shards)
    yielded = sorted({i for m in shards for i in m.details.get("yielded", [])})
    if yielded:
        manifest.details["yielded"] = yielded
    key = ctx.runlog.write(manifest)
    publish_quality(ctx.store, manifest, ctx.now())
    delta.sync_lake(ctx.store, delta.Policy.from_settings(ctx.settings))
    announce(ctx, manifest, key, [])
    return manifest
