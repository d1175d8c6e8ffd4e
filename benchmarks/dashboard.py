"""Measuring the dashboard questions: latency of each design, and S3 requests of the lake's.

A lake is measured through a fresh `LakeSession` (what a dashboard replica opens): the first
answer of each question is the cold one (new DuckDB connection, nothing cached), then `runs`
warm repetitions give the median and p95 a user sees on each page load after a commit. On S3
the counting proxy says how many requests each answer cost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from benchmarks.baseline import CsvDashboard
from benchmarks.proxy import CountingProxy, Requests
from benchmarks.questions import Question
from benchmarks.stats import Latency, ratio, repeat, timed
from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.coord.signals import Signals
from bucketpipe.serve.queries.session import LakeSession

log = logging.getLogger(__name__)


@dataclass
class Answered:
    """One design's answer to one question, and what it cost."""

    question: str
    answer: pd.DataFrame = field(repr=False)
    latency: Latency
    cold_s: float | None = None
    requests_cold: Requests | None = None
    requests_warm: Requests | None = None

    @property
    def rows(self) -> int:
        return len(self.answer)


def open_session(settings: Settings) -> LakeSession:
    """A dashboard's view of the lake (no Redis: every refresh reads the snapshots)."""
    session = LakeSession(settings, lake_store(settings), Signals.from_settings(settings))
    session.sync()
    return session


def answer_lake(
    settings: Settings,
    questions: list[Question],
    runs: int,
    *,
    proxy: CountingProxy | None = None,
) -> tuple[dict[str, Answered], Requests | None]:
    """Every question answered by the lake: cold once, then `runs` warm repetitions.

    Also returns the requests the session's first sync cost (reading the snapshots).
    """
    before = proxy.reading() if proxy else None
    session = open_session(settings)
    sync_requests = proxy.since(before) if proxy and before else None
    out: dict[str, Answered] = {}
    try:
        cold: dict[str, tuple[float, Requests | None]] = {}
        for q in questions:
            mark = proxy.reading() if proxy else None
            _, seconds = timed(partial(q.lake, session))
            cold[q.name] = (seconds, proxy.since(mark) if proxy and mark else None)
        for q in questions:
            mark = proxy.reading() if proxy else None
            answer, latency = repeat(partial(q.lake, session), runs, warmup=0)
            warm = proxy.since(mark) if proxy and mark else None
            out[q.name] = Answered(
                q.name,
                answer,
                latency,
                cold_s=cold[q.name][0],
                requests_cold=cold[q.name][1],
                requests_warm=_per_run(warm, runs),
            )
    finally:
        session.close()
    return out, sync_requests


def _per_run(total: Requests | None, runs: int) -> Requests | None:
    if total is None:
        return None
    kinds = {k: round(v / runs) for k, v in total.by_kind.items()}
    return Requests({k: v for k, v in kinds.items() if v}, total.bytes_out // runs)


def answer_volume(
    dashboard: CsvDashboard, questions: list[Question], runs: int
) -> dict[str, Answered]:
    """Every question answered by the volume design, `runs` times each (no caching exists)."""
    out = {}
    for q in questions:
        answer, latency = repeat(partial(q.volume, dashboard), runs, warmup=0)
        out[q.name] = Answered(q.name, answer, latency)
    return out


def check_answers(
    questions: list[Question], lake: dict[str, Answered], other: dict[str, Answered]
) -> None:
    """`AnswerMismatch` unless both sides answered every question the same way."""
    for q in questions:
        if q.name in lake and q.name in other:
            q.compare(lake[q.name].answer, other[q.name].answer)


def figure(
    q: Question,
    *,
    days: int,
    symbols: int,
    where: str,
    lake: Answered,
    volume: Answered | None,
) -> dict[str, Any]:
    """One row of the dashboard table (JSON-ready)."""
    row: dict[str, Any] = {
        "question": q.name,
        "title": q.title,
        "days": days,
        "symbols": symbols,
        "lake": where,
        "rows": lake.rows,
        "median_s": round(lake.latency.median, 6),
        "p95_s": round(lake.latency.p95, 6),
        "cold_s": round(lake.cold_s, 6) if lake.cold_s is not None else None,
        "runs": len(lake.latency.samples),
        "s3_requests_cold": lake.requests_cold.as_dict() if lake.requests_cold else None,
        "s3_requests_warm": lake.requests_warm.as_dict() if lake.requests_warm else None,
        "baseline_median_s": None,
        "baseline_p95_s": None,
        "baseline_runs": None,
        "speedup": None,
        "answers_match": volume is not None,
    }
    if volume is not None:
        row["baseline_median_s"] = round(volume.latency.median, 6)
        row["baseline_p95_s"] = round(volume.latency.p95, 6)
        row["baseline_runs"] = len(volume.latency.samples)
        speedup = ratio(volume.latency.median, lake.latency.median)
        row["speedup"] = round(speedup, 3) if speedup is not None else None
    return row
