"""Cleaning the landed files of a clean run: one generic dataset at a time, failures contained."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from bucketpipe.catalog.rules import CleanConfig
from bucketpipe.clean.assessment import generic_report
from bucketpipe.clean.generic import clean_generic
from bucketpipe.clean.rawinput import file_refs
from bucketpipe.config.errors import TerminalError
from bucketpipe.config.scratch import scratch_space
from bucketpipe.context import Context
from bucketpipe.formats.bounds import Limits
from bucketpipe.formats.loading import FileRef
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
    run_id: str,
    scratch: Path,
    only: Sequence[str] | None = None,
    replace_all: bool = False,
    carry: CarrySql | None = None,
) -> tuple[dict[str, DatasetResult], dict[str, QualityReport]]:
    """Clean every generic dataset with files in the `raw` view; results and reports.

    A dataset that fails (bad configuration, unexpected data) is reported as failed in its
    result and the others proceed; its raw files stay for a rebuild.
    """
    results: dict[str, DatasetResult] = {}
    reports: dict[str, QualityReport] = {}
    limits = Limits.from_settings(ctx.settings, scratch_space(ctx.settings).for_files)
    for dataset, files in by_dataset(file_refs(con)).items():
        if only is not None and dataset not in only:
            continue
        started = time.monotonic()
        try:
            outcome = clean_generic(
                con,
                ctx.store,
                dataset,
                files,
                rules=config.rules(dataset),
                run_id=run_id,
                now=ctx.now(),
                scratch=scratch,
                replace_all=replace_all,
                carry_sql=carry(dataset) if carry else None,
                limits=limits,
            )
        except (duckdb.IOException, duckdb.HTTPException):
            raise  # the store did not answer: the whole run is retried later
        except (TerminalError, duckdb.Error) as exc:
            message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else repr(exc)
            log.error("dataset not cleaned", extra={"dataset": dataset, "error": message})
            results[dataset] = DatasetResult(status="failed", message=message)
            continue
        results[dataset] = outcome.result
        if outcome.result.status != "failed" and outcome.result.rows_in:
            report = generic_report(con, ctx, dataset, outcome, run_id)
            if report is not None:
                reports[dataset] = report
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
