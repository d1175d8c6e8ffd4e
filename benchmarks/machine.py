"""What the figures were measured on: CPUs, memory, load, software versions."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bucketpipe import __version__


@dataclass(frozen=True)
class Machine:
    """The machine and software a bench run measured."""

    cpus: int
    cpu_model: str
    memory_gib: float
    load_average: tuple[float, float, float]
    system: str
    python: str
    duckdb: str
    pandas: str
    bucketpipe: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        load = ", ".join(f"{v:.2f}" for v in self.load_average)
        return (
            f"{self.cpus} CPUs ({self.cpu_model}), {self.memory_gib:.1f} GiB RAM, "
            f"load {load}; Python {self.python}, DuckDB {self.duckdb}, pandas {self.pandas}"
        )


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_bytes() -> int:
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return int(pages * size)


def cpu_count() -> int:
    """CPUs this process may use (the container's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def probe() -> Machine:
    """The machine as it is now (load included: colleagues' jobs make timings noisy)."""
    load = os.getloadavg()
    return Machine(
        cpus=cpu_count(),
        cpu_model=_cpu_model(),
        memory_gib=round(_memory_bytes() / 1024**3, 1),
        load_average=(round(load[0], 2), round(load[1], 2), round(load[2], 2)),
        system=f"{platform.system()} {platform.release()}",
        python=sys.version.split()[0],
        duckdb=duckdb.__version__,
        pandas=pd.__version__,
        bucketpipe=__version__,
    )
