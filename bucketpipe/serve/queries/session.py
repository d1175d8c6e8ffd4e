"""The dashboard's view of the lake: committed snapshots as DuckDB views, kept current cheaply."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import duckdb

from bucketpipe.config.errors import QueryRefused
from bucketpipe.config.logs import register_secrets
from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.coord.signals import Signals
from bucketpipe.lake.duck import connect, sql_list
from bucketpipe.lake.index import read_index
from bucketpipe.lake.snapshots import Snapshot
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.reader import (
    LakeReader,
    create_views,
    create_views_lean,
    drop_views,
    is_current,
    relation_sql,
)
from bucketpipe.serve.sandbox.session import READY_WAIT_S, SqlSession
from bucketpipe.serve.sandbox.validator import Validator

log = logging.getLogger(__name__)

T = TypeVar("T")
VersionKey = tuple[tuple[str, int], ...]
# Every dataset's versions are re-read this often, Redis or not: a commit made while Redis
# was down or flushed bumped no counter, and the lake index may lag (a hint).
FULL_SYNC_EVERY_S = 300.0


def reader_settings(settings: Settings) -> Settings:
    """The settings readers use: the read-only lake credentials when the deployment has them."""
    key, secret = settings.reader_access_key_id, settings.reader_secret_access_key
    # Both keys are masked wherever a message is shown; the SQL page withholds any result
    # holding one (the writer's never reaches the SQL worker in the first place).
    # Not every secret of the settings: the SQL page withholds a result showing a registered
    # value, and a person's dashboard password may be a common word (`demo` is in run ids).
    writer = settings.aws_secret_access_key
    register_secrets([writer.get_secret_value() if writer else None])
    register_secrets(settings.address_passwords())
    if key is None or secret is None:
        return settings
    register_secrets([secret.get_secret_value()])
    return settings.model_copy(update={"aws_access_key_id": key, "aws_secret_access_key": secret})


@dataclass(frozen=True)
class PollResult:
    """What one live-refresh check saw."""

    versions: dict[str, int]
    changed: tuple[str, ...]
    source: str  # "redis" or "snapshots"


class LakeSession:
    """Committed datasets registered as views on one DuckDB connection, refreshed on demand.

    One session is shared by every browser session of a dashboard process. `poll()` is what
    live refresh calls every few seconds: with Redis it is one round trip (`version:*`
    counters) and the snapshots are re-read only when a counter moved; without Redis it reads
    the lake index (one GET). Every dataset's versions are probed every `FULL_SYNC_EVERY_S`.
    Views are replaced only for datasets whose snapshot changed, when a query next needs them,
    and query results are cached by `version_key`, so unchanged data is never read twice.
    """

    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        signals: Signals,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.signals = signals
        self.reader = LakeReader(store)
        self.clock = clock
        self.con = connect(settings)
        # Data files are written once under unique keys, so their sizes and footers never
        # change: each is fetched once per process (a HEAD and a footer GET per file a query
        # opens), not once per query. The caches belong to this connection's database.
        for option in ("parquet_metadata_cache", "enable_http_metadata_cache"):
            self.con.execute(f"SET GLOBAL {option} = true")
        self.snapshots: dict[str, Snapshot] = {}
        self._lock = threading.RLock()
        self._redis_versions: dict[str, int] | None = None
        self._last_sync = float("-inf")
        self._last_poll = float("-inf")
        self._last_result = PollResult({}, (), "snapshots")
        self._sandbox: tuple[VersionKey, SqlSession] | None = None
        self._stale: set[str] = set()
        self._pending: set[str] = set()  # datasets whose view a query has yet to need
        self._indexed = False
        self._last_full = float("-inf")
        self._prefetched: set[str] = set()  # data files read whole into DuckDB's file cache
        # Each service's last run and each dataset's endpoint as the lake index recorded
        # them (None: the lake has no index, readers list the run manifests instead).
        self.services: dict[str, dict[str, Any]] | None = None
        self.endpoints: dict[str, dict[str, Any]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LakeSession:
        readers = reader_settings(settings)
        return cls(readers, lake_store(readers), Signals.from_settings(settings))

    # --- keeping the views current -------------------------------------------------------------
    def sync(self, *, full: bool = False, probe: Iterable[str] = ()) -> tuple[str, ...]:
        """Re-read the datasets' snapshots; mark the views that changed. Changed names.

        From the lake index (one GET) unless `full` or the lake has none; a full sync probes
        every dataset's versions (a LIST and two GETs a dataset), which also catches a commit
        the index missed. The datasets in `probe` (those Redis announced a commit of) are read
        from their version documents as well: the index may have lost that commit's entry to
        another writer's update. Views are (re)created when a query first needs them.
        """
        with self._lock:
            current = self._resolve(full)
            for name in () if full else probe:
                snap = self.reader.snapshot(name)
                if snap is not None and snap.version > self._version_in(current, name):
                    current[name] = snap
            changed = [n for n, s in current.items() if self._version(n) != s.version]
            gone = [n for n in self.snapshots if n not in current]
            # A derived dataset behind its inputs has no view until clean catches it up.
            stale = {n for n, s in current.items() if not is_current(s, current)}
            self._pending |= {n for n in changed if n not in stale}
            self._pending |= (self._stale - stale).intersection(current)
            for name in [*gone, *(stale - self._stale)]:
                self._pending.discard(name)
                drop_views(self.con, name)
            self._stale = stale
            self.snapshots = current
            self._last_sync = self.clock()
            if full or not self._indexed or self._last_full == float("-inf"):
                self._last_full = self._last_sync
            if changed or gone:
                log.info("views refreshed", extra={"changed": changed, "removed": gone})
            return tuple(sorted(changed + gone))

    def _resolve(self, full: bool) -> dict[str, Snapshot]:
        index = read_index(self.store)
        self._indexed = index is not None
        self.services = index.services if index else None
        self.endpoints = index.endpoints if index else None
        if index is None or full:
            found = ((name, self.reader.snapshot(name)) for name in self.reader.datasets())
            return {name: snap for name, snap in found if snap is not None}
        current = {}
        for name, snap in index.snapshots.items():
            held = self.snapshots.get(name)
            if snap.version < self.reader.seen.get(name, 0) and held is not None:
                snap = held  # the index lags behind a version this reader has seen
            self.reader.seen[name] = max(snap.version, self.reader.seen.get(name, 0))
            current[name] = snap
        return current

    def _ensure_views(self, datasets: Iterable[str] | None) -> None:
        """Create the pending views of `datasets` (None: all): DuckDB opens a file of each."""
        with self._lock:
            wanted = self._pending if datasets is None else self._pending.intersection(datasets)
            for name in sorted(wanted):
                create_views_lean(self.con, self.store, name, self.snapshots[name])
            self._pending -= wanted

    def run(
        self,
        datasets: Sequence[str] | None,
        fn: Callable[..., T],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """`fn(cursor, *args, **kwargs)` over the views of `datasets` (None: any)."""
        try:
            with self.cursor(datasets) as cursor:
                return fn(cursor, *args, **kwargs)
        except duckdb.InvalidInputException as exc:
            if "schema mismatch" not in str(exc):
                raise
        # A file of another schema than the first one a view opened: line them up by name.
        with self._lock:
            for name in datasets if datasets is not None else list(self.snapshots):
                if name in self.snapshots and name not in self._stale:
                    create_views(self.con, self.store, name, self.snapshots[name])
        with self.cursor(datasets) as cursor:
            return fn(cursor, *args, **kwargs)

    def poll(self, min_interval_s: float = 0.0) -> PollResult:
        """Check for new commits (at most once per `min_interval_s` across all callers)."""
        with self._lock:
            now = self.clock()
            if now - self._last_poll < min_interval_s:
                return self._last_result
            self._last_poll = now
            counters = self.signals.versions() if self.signals.configured else None
            source = "redis" if counters is not None else "snapshots"
            full = now - self._last_full >= FULL_SYNC_EVERY_S
            # Without Redis, a sync of the last `min_interval_s` (a session opening) counts.
            synced = counters is None and now - self._last_sync < min_interval_s and not full
            if synced:
                changed: tuple[str, ...] = ()
            elif counters is None or counters != self._redis_versions or full:
                held = self._redis_versions or {}
                moved = [n for n, v in (counters or {}).items() if held.get(n) != v]
                changed = self.sync(
                    full=full, probe=moved if self._redis_versions is not None else ()
                )
            else:
                changed = ()
            self._redis_versions = counters
            self._last_result = PollResult(self.versions(), changed, source)
            return self._last_result

    def ensure_fresh(self, max_age_s: float) -> None:
        """Sync unless the views were synced within `max_age_s` (a new browser session)."""
        with self._lock:
            if self.clock() - self._last_sync >= max_age_s:
                self.sync()

    # --- what is there -------------------------------------------------------------------------
    @staticmethod
    def _version_in(snapshots: dict[str, Snapshot], name: str) -> int:
        snap = snapshots.get(name)
        return snap.version if snap else 0

    def _version(self, name: str) -> int | None:
        snap = self.snapshots.get(name)
        return snap.version if snap else None

    def versions(self) -> dict[str, int]:
        return {name: snap.version for name, snap in sorted(self.snapshots.items())}

    def version_key(self, datasets: Iterable[str]) -> VersionKey:
        """Cache key of query results over `datasets` (0 for a missing one)."""
        return tuple((name, self._version(name) or 0) for name in sorted(set(datasets)))

    def has(self, name: str) -> bool:
        """True if the dataset is committed and holds at least one row."""
        snap = self.snapshots.get(name)
        return snap is not None and snap.rows > 0

    def pruned(self, name: str, start: datetime, end: datetime) -> str:
        """SQL over just the dataset's files that may hold event times in [start, end] (by
        its snapshot's metadata), or the dataset's view when there is no snapshot."""
        snap = self.snapshots.get(name)
        if snap is None or name in self._stale:
            return name
        return relation_sql(self.store, snap, start=start, end=end)

    def prefetch(self, keys: Iterable[str]) -> None:
        """Read whole data files into DuckDB's external file cache, one GET each, once per
        process: the queries that follow read their footers and row groups from memory, where
        reading them from the store costs a request per row group. For small files a page
        reads most of anyway; views are not created for this."""
        with self._lock:
            wanted = [k for k in dict.fromkeys(keys) if k not in self._prefetched]
            paths = [p for p in map(self.store.duckdb_path, wanted) if "://" in p]
            if not paths:
                return  # a local lake's files are read in place
            with self.con.cursor() as cursor:
                cursor.execute(
                    f"SELECT sum(octet_length(content)) FROM read_blob({sql_list(paths)})"
                )
            self._prefetched.update(wanted)

    def ready(self, name: str) -> bool:
        """True if the dataset is committed and current (a derived one not behind its inputs)."""
        return name in self.snapshots and name not in self._stale

    def datasets(self) -> list[str]:
        return sorted(self.snapshots)

    def cursor(self, datasets: Iterable[str] | None = None) -> duckdb.DuckDBPyConnection:
        """A cursor for one query over `datasets` (None: any): each thread (browser session)
        needs its own. Their views are created first if a sync left them pending."""
        self._ensure_views(datasets)
        return self.con.cursor()

    def sandbox(self) -> SqlSession:
        """User SQL over the current snapshots: worker processes, replaced when data changes."""
        with self._lock:
            key = self.version_key(self.snapshots)
            if self._sandbox is None or self._sandbox[0] != key:
                if self._sandbox is not None:
                    self._sandbox[1].close()
                box = SqlSession(self.settings, self.store, self.snapshots)
                self._sandbox = (key, box)
            return self._sandbox[1]

    def close(self) -> None:
        with self._lock:
            if self._sandbox is not None:
                self._sandbox[1].close()
                self._sandbox = None
        self.signals.close()
        self.con.close()


def open_sandbox(
    settings: Settings,
    *,
    workers: int = 1,
    validate: bool = True,
    queue_wait_s: float = READY_WAIT_S,
    query: str | None = None,
) -> SqlSession:
    """User SQL over the lake's current snapshots (for `bucketpipe sql`).

    One user runs one statement at a time here, so a statement that follows a failure waits
    for the replacement worker instead of being told the engine is busy (the dashboard's
    sessions, shared by every user, wait at most `QUEUE_WAIT_S`). `validate=False` exists for
    the tests that prove the lower walls hold on their own.

    Each dataset's snapshot costs two reads (its `current.json` and a probe for a newer
    version); for a session of one `query`, only the datasets it names are read, so a query
    of one dataset costs the listing and two reads before its own, whatever the lake holds.
    """
    readers = reader_settings(settings)
    store = lake_store(readers)
    reader = LakeReader(store)
    names = reader.datasets()
    wanted = named_datasets(names, query) if query is not None else None
    snapshots = {
        name: snap
        for name in names
        if (wanted is None or name in wanted) and (snap := reader.snapshot(name))
    }
    session = SqlSession(
        readers, store, snapshots, workers=workers, validate=validate, queue_wait_s=queue_wait_s
    )
    session.wait_ready()  # the first query must not spend its queue wait on the start-up
    return session


def named_datasets(names: Sequence[str], query: str) -> frozenset[str] | None:
    """The datasets of `names` that `query` reads; None (all of them) when it names none, as
    SHOW TABLES, or when it is refused: the session then judges it with every view known."""
    validator = Validator(names)
    try:
        named = validator.check(query).datasets
    except QueryRefused:
        return None
    finally:
        validator.close()
    return named or None
