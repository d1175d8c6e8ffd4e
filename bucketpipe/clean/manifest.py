"""A clean run's manifest: its results, the inputs it closed, and what it yielded or refused."""

from __future__ import annotations

from datetime import datetime

from bucketpipe.clean.plan import Plan
from bucketpipe.context import Context
from bucketpipe.lake.runs import CLEAN_JOB, DatasetResult, RunManifest
from bucketpipe.quality.report import REPORTS_DATASET


def clean_manifest(
    ctx: Context,
    run_id: str,
    started: datetime,
    inputs: list[str],
    results: dict[str, DatasetResult],
    *,
    lock_kind: str,
    plan: Plan | None = None,
) -> RunManifest:
    """The run's manifest; with its `plan`, the inputs it yielded and the files it refused."""
    failed = [name for name, r in results.items() if r.status == "failed"]
    refused = plan.refused if plan else {}
    manifest = RunManifest(
        job=CLEAN_JOB,
        run_id=run_id,
        status="partial" if failed or refused else "succeeded",
        started_at=started,
        finished_at=ctx.now(),
        inputs=inputs,
        outputs=[],
        # The rows of the data it committed; the quality reports are its bookkeeping (the
        # pipeline page said 903 rows cleaned where the quality page said 902 written).
        rows=sum(r.rows_written for name, r in results.items() if name != REPORTS_DATASET),
        datasets=results,
        errors=[f"{name}: {results[name].message}" for name in failed]
        + [f"{name}: {why}" for name, why in sorted(refused.items())],
        redis=ctx.signals.state,
        details={"lock": lock_kind},
    )
    if plan and plan.yielded:
        manifest.details["yielded"] = sorted(plan.yielded)
    if refused:
        manifest.details["refused"] = dict(sorted(refused.items()))
    return manifest
