"""Cleaning the landed files of a clean run: one generic dataset at a time, failures contained."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from bucketpipe.catalog import reserved_names, reserved_reason
from bucketpipe.catalog.rules import CleanConfig
from bucketpipe.clean.assessment import generic_report
from bucketpipe.clean.generic import GenericOutcome, clean_generic, release
from bucketpipe.clean.plan import ALREADY_CONSUMED, ATTEMPTS, Plan
from bucketpipe.clean.rawinput import file_refs
from bucketpipe.config.errors import CommitConflict, TerminalError
from bucketpipe.config.scratch import scratch_space
from bucketpipe.context import Context
from bucketpipe.formats.bounds import Limits
from bucketpipe.formats.loading import FileRef
from bucketpipe.lake.commits import VersionTaken
from bucketpipe.lake.layout import quarantine_key
from bucketpipe.lake.runs import DatasetResult
from bucketpipe.quality.report import QualityReport

log = logging.getLogger(__name__)

CarrySql = Callable[[str], str | None]


def by_dataset(refs: Sequence[FileRef]) -> dict[str, list[FileRef]]:
    out: dict[str, list[FileRef]] = {}
    for ref in refs:
        out.setdefault(ref.dataset, []).append(ref)
    return dict(sorted(out.items()))


def clean_files(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    *,
    config: CleanConfig,
    plan: Plan,
    run_id: str,
    scratch: Path,
    only: Sequence[str] | None = None,
    carry: CarrySql | None = None,
    owns: Callable[[str], bool] | None = None,
) -> tuple[dict[str, DatasetResult], dict[str, QualityReport]]:
    """Clean every generic dataset with files in the `raw` view; results and reports.

    A dataset that fails (bad configuration, unexpected data) is reported as failed in its
    result and the others proceed; its raw files stay for a rebuild. A commit that keeps
    losing races fails the run instead (its inputs stay pending). `owns`: only the datasets
    it accepts (a shard's).
    """
    results: dict[str, DatasetResult] = {}
    reports: dict[str, QualityReport] = {}
    limits = Limits.from_settings(ctx.settings, scratch_space(ctx.settings).for_files)
    for dataset, files in by_dataset(file_refs(con)).items():
        if (only is not None and dataset not in only) or (owns is not None and not owns(dataset)):
            continue
        if dataset in reserved_names():
            # Landed before ingest refused the name (or by a mapping older than the dataset):
            # such files never reach a built-in dataset. They stay in raw, reported.
            plan.refused[dataset] = reserved_reason(dataset)
            log.error("dataset not cleaned", extra={"dataset": dataset, "error": "reserved"})
            continue
        started = time.monotonic()
        try:
            outcome = _clean_dataset(
                con,
                ctx,
                dataset,
                files,
                config=config,
                plan=plan,
                run_id=run_id,
                scratch=scratch,
                carry=carry,
                limits=limits,
            )
        except (duckdb.IOException, duckdb.HTTPException, CommitConflict):
            raise  # the store did not answer, or writers kept racing: retried later
        except (TerminalError, duckdb.Error) as exc:
            message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else repr(exc)
            log.error("dataset not cleaned", extra={"dataset": dataset, "error": message})
            results[dataset] = DatasetResult(status="failed", message=message)
            continue
        if outcome is None:
            results[dataset] = DatasetResult(message=ALREADY_CONSUMED)
            continue
        results[dataset] = outcome.result
        if outcome.result.status != "failed" and outcome.result.rows_in:
            report = generic_report(con, ctx, dataset, outcome, run_id)
            if report is not None:
                reports[dataset] = report
        release(con, scratch)
        log.info(
            "dataset cleaned",
            extra={
                "dataset": dataset,
                "run_id": run_id,
                "files": len(files),
                "rows": outcome.result.rows_written,
                "quarantined": outcome.result.rows_quarantined,
                "duration_s": round(time.monotonic() - started, 3),
            },
        )
    return results, reports


def _clean_dataset(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    dataset: str,
    files: list[FileRef],
    *,
    config: CleanConfig,
    plan: Plan,
    run_id: str,
    scratch: Path,
    carry: CarrySql | None,
    limits: Limits,
) -> GenericOutcome | None:
    """Clean and commit one generic dataset, planning again after each lost race; None when
    every input is in already (another writer committed them)."""
    for _ in range(ATTEMPTS):
        reads = set(plan.reads(dataset))
        mine = [f for f in files if f.run in reads]
        if not mine and not plan.rebuild:
            return None
        basis = plan.basis(dataset)
        try:
            outcome = clean_generic(
                con,
                ctx.store,
                dataset,
                mine,
                rules=config.rules(dataset),
                run_id=run_id,
                now=ctx.now(),
                scratch=scratch,
                replace_all=plan.rebuild,
                carry_sql=carry(dataset) if carry else None,
                limits=limits,
                basis=basis,
                small_file_bytes=ctx.settings.clean_small_file_bytes,
            )
        except VersionTaken:
            ctx.store.delete([quarantine_key(dataset, ctx.now().date(), run_id)])
            plan.replan(dataset)
            continue
        plan.committed(outcome.snapshot, dataset, basis.inputs)
        if outcome.snapshot is not None and basis.inputs:
            outcome.result = outcome.result.model_copy(update={"inputs": list(basis.inputs)})
        return outcome
    raise CommitConflict(f"{dataset}: other writers kept committing first; rerun")
