"""Scratch space: each run's own directory under `BUCKETPIPE_TEMP_DIR`, removed when the run
ends; directories of killed runs removed by the next run; and how much a file may take there.

A run directory holds a lock file that its process keeps locked (`flock`) for its lifetime. The
kernel releases the lock when the process ends in any way, `SIGKILL` included, so a directory
whose lock can be taken belongs to a process that is gone, and only such directories are
removed: two runs on one machine (or in two containers sharing the volume) never remove each
other's. A directory is created under a hidden name and renamed once locked, so no other run can
see it unlocked.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.values import MIB, parse_size

if TYPE_CHECKING:
    from bucketpipe.config.settings_core import CoreSettings

log = logging.getLogger(__name__)

OWNER = ".owner"
RUN_PREFIX = "run-"
NEW_PREFIX = ".new-"
# Directories without a lock (scratch of library calls, a creation interrupted before its
# rename) are removed only when untouched this long: no run lasts a day.
STALE_SECONDS = 24 * 3600
MARGIN_MAX = 64 * MIB


@dataclass(frozen=True)
class ScratchSpace:
    """The scratch space of a run: its size, DuckDB's spill cap, and what is left for files."""

    total: int
    spill: int
    measured: bool = False

    @property
    def margin(self) -> int:
        """Room for logs, the raw lines being written and file system overhead."""
        return min(MARGIN_MAX, self.total // 16)

    @property
    def for_files(self) -> int:
        """Bytes a downloaded or unpacked file may take: the rest is the spill's and margin's."""
        return max(0, self.total - self.spill - self.margin)

    def explain(self) -> str:
        size = "free space of BUCKETPIPE_TEMP_DIR" if self.measured else "BUCKETPIPE_SCRATCH_BYTES"
        return (
            f"{self.for_files} bytes of scratch space: {size} {self.total} - spill cap "
            f"{self.spill} (BUCKETPIPE_DUCKDB_MAX_TEMP_SIZE) - margin {self.margin}"
        )


def scratch_space(settings: CoreSettings) -> ScratchSpace:
    """The run's scratch space: `BUCKETPIPE_SCRATCH_BYTES`, else the free space measured now."""
    spill = int(parse_size(settings.duckdb_max_temp_size or "0"))
    if settings.scratch_bytes:
        return ScratchSpace(settings.scratch_bytes, spill)
    path = Path(settings.temp_dir).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return ScratchSpace(shutil.disk_usage(path).free, spill, measured=True)


@contextlib.contextmanager
def run_directory(base: str | Path) -> Iterator[Path]:
    """A directory of this process under `base`, locked while it lives and removed at the end.

    Directories that killed runs left behind are removed first.
    """
    root = Path(base)
    try:
        root.mkdir(parents=True, exist_ok=True)
        sweep(root)
        fresh = Path(tempfile.mkdtemp(prefix=NEW_PREFIX, dir=root))
    except OSError as exc:
        raise ConfigError(f"BUCKETPIPE_TEMP_DIR {str(root)!r} is not usable: {exc}") from None
    fd = os.open(fresh / OWNER, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.write(fd, json.dumps(owner).encode())
        path = root / f"{RUN_PREFIX}{os.getpid()}-{fresh.name.removeprefix(NEW_PREFIX)}"
        fresh.rename(path)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
    finally:
        os.close(fd)
        shutil.rmtree(fresh, ignore_errors=True)


def sweep(root: Path, *, now: float | None = None) -> list[str]:
    """Remove the run directories under `root` whose process is gone; their names."""
    now = time.time() if now is None else now
    removed = []
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if entry.is_symlink() or not entry.is_dir():
            continue
        if not entry.name.startswith((RUN_PREFIX, NEW_PREFIX)):
            continue
        if _stale(entry, now):
            removed.append(entry.name)
    if removed:
        log.info("removed scratch of runs that were killed", extra={"directories": removed})
    return removed


def _stale(entry: Path, now: float) -> bool:
    """Remove `entry` if its owner is gone (its lock can be taken) or, unlocked, if it is old."""
    try:
        old = now - entry.stat().st_mtime >= STALE_SECONDS
        # A directory still being created is unlocked for a moment: only its age counts.
        fd = None if entry.name.startswith(NEW_PREFIX) else _open_owner(entry)
    except OSError:
        return False  # removed by another run meanwhile, or not ours to read
    if fd is None:
        if old:
            shutil.rmtree(entry, ignore_errors=True)
        return old
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # its process still runs
    else:
        # Locked by us now: its owner is gone, and no other run sweeping can take it.
        shutil.rmtree(entry, ignore_errors=True)
        return True
    finally:
        os.close(fd)


def _open_owner(entry: Path) -> int | None:
    """The lock file of a run directory, open; None when it has none."""
    if not (entry / OWNER).exists():
        return None
    return os.open(entry / OWNER, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)


WORK_DATABASE = "work.duckdb"


def work_database(settings: CoreSettings, scratch: Path) -> Path | None:
    """Where the run's work tables (staged, typed, deduplicated rows) are kept.

    Held in memory, they spill uncompressed under the spill cap: at ten million quotes the
    staged rows and the deduplicated batch together pass the default cap of 1.5 GiB. In a file
    of the run's scratch directory they are compressed and DuckDB evicts them without spilling,
    so the cap is left to the operators' own buffers (sorts, windows). The file is bounded only
    by the disk, so it is used when the scratch space is the file system's free space; with
    `BUCKETPIPE_SCRATCH_BYTES` (a sized emptyDir) every byte DuckDB writes must stay within the
    spill cap it enforces, and the tables stay in memory.
    """
    return scratch / WORK_DATABASE if settings.scratch_bytes is None else None
