"""A clean run that dies at its Nth write to a local lake, for crash tests (run it as a process).

`python -m tests.support.crashing_clean RUN_ID N` with the lake in BUCKETPIPE_LAKE: the process
calls `os._exit(CRASH_EXIT)` just before the Nth put/upload/delete, like a pod killed at that
moment (no cleanup, no lock release other than the kernel's). N = 0 never crashes and prints
the number of writes the run made.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from bucketpipe.clean.job import run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.coord.signals import Signals
from bucketpipe.lake.storage import LocalStore
from bucketpipe.wiring import AFTER_CLEAN

CRASH_EXIT = 86


class CrashingStore(LocalStore):
    """A local lake whose Nth write never happens: the process dies instead."""

    def __init__(self, root: str | Path, crash_at: int) -> None:
        super().__init__(root)
        self.crash_at = crash_at
        self.writes = 0

    def _tick(self) -> None:
        self.writes += 1
        if self.writes == self.crash_at:
            sys.stdout.flush()
            os._exit(CRASH_EXIT)

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._tick()
        super().put(key, data, content_type)

    def put_new(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        self._tick()
        return super().put_new(key, data, content_type)

    def upload(self, key: str, path: Path, content_type: str | None = None) -> None:
        self._tick()
        super().upload(key, path, content_type)

    def delete(self, keys: Iterable[str]) -> int:
        self._tick()
        return super().delete(keys)


def main(run_id: str, crash_at: int) -> int:
    settings = Settings()
    store = CrashingStore(settings.lake, crash_at)
    ctx = Context(settings=settings, store=store, signals=Signals.from_settings(settings))
    manifest = run_clean(ctx, after_clean=AFTER_CLEAN, run_id=run_id)
    ctx.close()
    sys.stdout.write(json.dumps({"writes": store.writes, "committed": manifest is not None}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
