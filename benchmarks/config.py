"""What a bench run measures, at which sizes: the full run and the quick smoke run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from benchmarks.ingest import IngestPlan
from benchmarks.objects import Schedule
from benchmarks.scale import ScalePlan
from bucketpipe.config.settings import Settings

# The measured clean runs use the product's default DuckDB memory limit: the goals are judged
# at the default settings.
DEFAULT_MEMORY = str(Settings.model_fields["duckdb_memory_limit"].default)

Mode = Literal["full", "quick"]
SECTIONS = (
    "dashboard",
    "pages",
    "clean",
    "ingest",
    "objects",
    "delta",
    "sandbox",
    "freshness",
    "scale",
    "peers",
)


# The scale section's full size: 5,000 symbols by 10 ingest shards at a paid plan (600 calls a
# minute: 300 would fetch at most 4,500 quotes in 15 minutes), its windows 5x shorter.
FULL_SCALE = ScalePlan(
    symbols=5000,
    shards=10,
    per_minute=600,
    compress=5.0,
    replicas=5,
    sessions=20,
    duration_s=30.0,
    startup_s=8.0,
)


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and repetitions of every measurement."""

    mode: Mode
    out_dir: Path
    symbols: int
    days: tuple[int, ...]
    runs: int  # warm repetitions of each lake query
    baseline_runs: int  # repetitions of each baseline answer
    baseline_runs_long: int  # ... at histories longer than 90 days (minutes per answer)
    stock_symbol: str
    clean_records: tuple[int, ...]
    csv_mib: int
    memory_limit: str
    threads: int
    baseline_rss_cap_gib: float
    ingest: IngestPlan
    ingest_startup_s: float
    objects: Schedule
    sandbox_rows: int  # rows of the sandbox section's dataset
    sandbox_runs: int  # repetitions of each ordinary query, with and without the worker
    delta_commits: int = 30  # appends mirrored one by one in the Delta section
    freshness_runs: int = 20  # ingest runs followed until readable in the freshness section
    freshness_gap_s: float = 5.0  # pause between those runs
    scale: ScalePlan = FULL_SCALE
    peer_records: int = 5_000_000  # generic CSV records of the peers section (ours vs dlt)
    peer_files: int = 20
    peer_repeats: int = 3  # each load in turn, back to back, this many times
    sections: tuple[str, ...] = SECTIONS
    s3: bool = True
    workers: int | None = None
    keep: bool = False  # keep the generated lakes and volumes in out_dir
    pages: tuple[str, ...] | None = None  # pages the pages section opens (None: by mode)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["out_dir"] = str(self.out_dir)
        out["objects"]["first_run"] = str(self.objects.first_run)
        return out

    def baseline_runs_for(self, days: int) -> int:
        return self.baseline_runs_long if days > 90 else self.baseline_runs


def full(out_dir: Path, *, memory_limit: str = DEFAULT_MEMORY, threads: int = 2) -> BenchConfig:
    """The run the goals are judged on: a year of 500 symbols, 1 and 10 M records, 1 GiB CSV."""
    return BenchConfig(
        mode="full",
        out_dir=out_dir,
        symbols=500,
        days=(1, 30, 365),
        runs=10,
        baseline_runs=3,
        baseline_runs_long=2,
        stock_symbol="AAPL",
        clean_records=(1_000_000, 10_000_000),
        csv_mib=1024,
        memory_limit=memory_limit,
        threads=threads,
        baseline_rss_cap_gib=12.0,
        ingest=IngestPlan(per_window=600, window_s=60.0, per_second=30, calls=1200),
        ingest_startup_s=8.0,
        objects=Schedule(days=3, runs_per_day=96),
        sandbox_rows=1_000_000,
        sandbox_runs=50,
    )


def quick(out_dir: Path, *, memory_limit: str = DEFAULT_MEMORY, threads: int = 2) -> BenchConfig:
    """A smoke run of every measurement at small sizes, in well under two minutes."""
    return BenchConfig(
        mode="quick",
        out_dir=out_dir,
        symbols=8,
        days=(1, 5, 20),
        runs=3,
        baseline_runs=1,
        baseline_runs_long=1,
        stock_symbol="AAPL",
        clean_records=(30_000,),
        csv_mib=1,
        memory_limit=memory_limit,
        threads=threads,
        baseline_rss_cap_gib=4.0,
        ingest=IngestPlan(per_window=40, window_s=4.0, per_second=30, calls=40),
        ingest_startup_s=2.5,
        objects=Schedule(days=2, runs_per_day=2, first_run=timedelta(hours=14, minutes=30)),
        sandbox_rows=20_000,
        sandbox_runs=8,
        delta_commits=12,
        freshness_runs=3,
        freshness_gap_s=1.0,
        peer_records=20_000,
        peer_files=2,
        peer_repeats=1,
        scale=ScalePlan(
            symbols=120,
            shards=2,
            per_minute=100,
            compress=30.0,
            replicas=2,
            sessions=4,
            duration_s=1.5,
            startup_s=1.0,
        ),
    )


def only(config: BenchConfig, sections: tuple[str, ...]) -> BenchConfig:
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown bench sections {unknown}; choose from {list(SECTIONS)}")
    return replace(config, sections=tuple(s for s in SECTIONS if s in sections))
