"""The lake's checks for `bucketpipe doctor`: endpoint and TLS, clock, keys and bucket,
conditional create, list-after-write, DuckDB through httpfs, the reader key (lake/grants.py)
and the object count against the bucket's limit.

Every probe object lives under `_doctor/<id>/` and is deleted at the end.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from bucketpipe.config.checks import Check, Status
from bucketpipe.config.errors import BucketpipeError
from bucketpipe.config.settings import Settings
from bucketpipe.lake import census, duck
from bucketpipe.lake.grants import check_reader, first_line, identity, unless_hinted
from bucketpipe.lake.storage import LocalStore, ObjectStore, S3Store, open_store
from bucketpipe.lake.tls import tls_problem

log = logging.getLogger(__name__)

SKEW_FAIL_SECONDS = 300.0  # S3 refuses a request signed more than 5 minutes off its clock
SKEW_WARN_SECONDS = 60.0
PROBE_ROOT = "_doctor"
Clock = Callable[[], datetime]


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


class LakeProbe:
    """Runs the lake's checks in order; a check whose premise failed is skipped, saying why."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.store = self._open(_secret(settings.aws_access_key_id), settings.aws_secret_access_key)
        self.prefix = f"{PROBE_ROOT}/{uuid.uuid4().hex[:12]}"
        self.skew: float | None = None
        self.answers = not self.is_s3
        self.usable = False
        self.probe_key: str | None = None

    @property
    def is_s3(self) -> bool:
        return isinstance(self.store, S3Store)

    def _open(self, key_id: str | None, secret: Any) -> ObjectStore:
        return open_store(
            self.settings.lake,
            endpoint_url=self.settings.aws_endpoint_url,
            region=self.settings.aws_region,
            access_key_id=key_id,
            secret_access_key=_secret(secret),
            conditional_writes=self.settings.s3_conditional_writes,
            ca_bundle=self.settings.aws_ca_bundle,
        )

    def run(self) -> list[Check]:
        """Every lake check, then the probe objects deleted."""
        try:
            return [
                self.endpoint(),
                self.clock_skew(),
                self.credentials(),
                self.conditional_create(),
                self.list_after_write(),
                self.duckdb_read(),
                self.reader(),
                self.objects(),
            ]
        finally:
            self.cleanup()

    # --- the endpoint and its clock ------------------------------------------------------------
    def endpoint_url(self) -> str:
        return (
            self.settings.aws_endpoint_url or f"https://s3.{self.settings.aws_region}.amazonaws.com"
        )

    def endpoint(self) -> Check:
        if not self.is_s3:
            return Check("endpoint", "skip", f"the lake is a local directory ({self.store.url})")
        url = self.endpoint_url()
        tls = urlsplit(url).scheme == "https"
        started = self.clock()
        try:
            # Any answer will do (anonymous requests are refused); only TLS and the network count.
            # Its headers are all that is read (stream): a body that never ends cannot hold it.
            response = requests.get(
                url.rstrip("/") + "/",
                timeout=10,
                verify=self.settings.aws_ca_bundle or True,
                allow_redirects=False,
                stream=True,
            )
            response.close()
        except requests.exceptions.SSLError as exc:
            return Check("endpoint", "fail", f"{url}: TLS failed", tls_problem(str(exc)) or "")
        except requests.RequestException as exc:
            return Check(
                "endpoint",
                "fail",
                f"{url} does not answer ({type(exc).__name__})",
                "check AWS_ENDPOINT_URL, and that this machine can reach it (firewall, proxy)",
            )
        self.answers = True
        self._measure_skew(response.headers.get("Date"), started, self.clock())
        if not tls:
            host = urlsplit(url).hostname or ""
            local = host in ("localhost", "127.0.0.1", "::1")
            return Check(
                "endpoint",
                "pass" if local else "warn",
                f"{url} answers (HTTP {response.status_code}) over plain HTTP",
                "" if local else "keys and data cross the network unencrypted: use https://",
            )
        trust = "AWS_CA_BUNDLE" if self.settings.aws_ca_bundle else "the system's CAs"
        return Check(
            "endpoint",
            "pass",
            f"{url} answers (HTTP {response.status_code}; TLS verified with {trust})",
        )

    def _measure_skew(self, date: str | None, started: datetime, received: datetime) -> None:
        if not date:
            return
        with contextlib.suppress(TypeError, ValueError):
            server = parsedate_to_datetime(date)
            self.skew = (server - (started + (received - started) / 2)).total_seconds()

    def clock_skew(self) -> Check:
        if self.skew is None:
            why = "no S3 endpoint" if not self.is_s3 else "the endpoint sent no Date header"
            if self.is_s3 and not self.answers:
                why = "the endpoint does not answer"
            return Check("clock", "skip", why)
        off = abs(self.skew)
        side = "behind" if self.skew > 0 else "ahead of"
        detail = f"this machine's clock is {off:.0f} s {side} the endpoint's"
        fix = "sync this machine's clock (NTP); S3 refuses requests signed 5 minutes off"
        if off >= SKEW_FAIL_SECONDS:
            return Check("clock", "fail", detail, fix)
        if off >= SKEW_WARN_SECONDS:
            return Check("clock", "warn", detail, fix)
        return Check("clock", "pass", f"within {max(off, 1):.0f} s of the endpoint's")

    # --- keys, bucket, conditional create, listing ----------------------------------------------
    def credentials(self) -> Check:
        if not self.answers:
            return Check("credentials", "skip", "the endpoint does not answer")
        try:
            self.store.put(f"{self.prefix}/written.json", b"{}", "application/json")
            next(iter(self.store.list_objects(f"{self.prefix}/")), None)
        except BucketpipeError as exc:
            return Check("credentials", "fail", first_line(exc), unless_hinted(exc))
        self.usable = True
        if not isinstance(self.store, S3Store):
            return Check("credentials", "pass", f"the lake directory {self.store.url} is writable")
        who = identity(self.store)
        as_who = f" as {who!r}" if who else ""
        return Check("credentials", "pass", f"the keys write and list {self.store.url}{as_who}")

    def conditional_create(self) -> Check:
        if not self.usable:
            return Check("conditional", "skip", "the keys cannot write the lake")
        key = f"{self.prefix}/conditional.json"
        try:
            created = self.store.put_new(key, b'{"probe": 1}')
            again = self.store.put_new(key, b'{"probe": 2}')  # other bytes: not a retry of ours
            kept = self.store.get(key)
        except BucketpipeError as exc:
            return Check(
                "conditional",
                "fail",
                f"a conditional create failed: {first_line(exc)}",
                "the store rejects If-None-Match: set BUCKETPIPE_S3_CONDITIONAL_WRITES=false and "
                "keep Redis on, so the writer lock keeps writers apart",
            )
        self.probe_key = key
        if not created or again or kept != b'{"probe": 1}':
            return Check(
                "conditional",
                "fail",
                "a second create of the same key replaced the first (If-None-Match: * ignored)",
                "commits are not safe on this store: use one that honours conditional writes",
            )
        if not self.settings.s3_conditional_writes:
            return Check(
                "conditional",
                "warn",
                "conditional writes are off: a create checks first, so two racing writers "
                "could both commit",
                "set BUCKETPIPE_S3_CONDITIONAL_WRITES=true unless the store rejects If-None-Match",
            )
        how = "If-None-Match: *, HTTP 412" if self.is_s3 else "create-if-absent"
        return Check(
            "conditional",
            "pass",
            f"a second create of the same key was refused ({how}): commits are safe",
        )

    def list_after_write(self) -> Check:
        if not self.usable:
            return Check("list-after-write", "skip", "the keys cannot write the lake")
        keys = [f"{self.prefix}/listed/{i}.json" for i in range(3)]
        try:
            for key in keys:
                self.store.put(key, b"{}", "application/json")
            listed = [o.key for o in self.store.list_objects(f"{self.prefix}/listed/")]
        except BucketpipeError as exc:
            return Check("list-after-write", "fail", first_line(exc), unless_hinted(exc))
        if listed != keys:
            return Check(
                "list-after-write",
                "fail",
                f"{len(listed)} of {len(keys)} objects just written are listed",
                "listing lags writes on this store: clean could miss committed runs for a while",
            )
        return Check("list-after-write", "pass", "objects are listed as soon as they are written")

    # --- DuckDB and the reader key ----------------------------------------------------------------
    def duckdb_read(self) -> Check:
        if not self.usable:
            return Check("duckdb", "skip", "the keys cannot write the lake")
        key = f"{self.prefix}/duckdb.csv"
        try:
            self.store.put(key, b"n\n1\n2\n3\n", "text/csv")
            con = duck.connect(self.settings, threads=1)
            try:
                path = duck.quote_literal(self.store.duckdb_path(key))
                row = con.execute(f"SELECT sum(n) FROM read_csv({path})").fetchone()
            finally:
                con.close()
        except Exception as exc:
            problem = duck.tls_config_error(exc)
            detail = str(problem) if problem else f"DuckDB could not read: {first_line(exc)}"
            fix = "" if problem else "check the endpoint, keys and DuckDB settings"
            return Check("duckdb", "fail", detail, fix)
        if row != (6,):
            return Check("duckdb", "fail", f"DuckDB read {row}, not the 6 written", "")
        via = "through httpfs" if self.is_s3 else "from the directory"
        return Check("duckdb", "pass", f"DuckDB read the probe object {via}")

    def reader(self) -> Check:
        key_id = _secret(self.settings.reader_access_key_id)
        if not self.is_s3 or not key_id:
            why = "the lake is a local directory" if not self.is_s3 else "no reader key is set"
            return Check("reader", "skip", f"{why} (BUCKETPIPE_READER_ACCESS_KEY_ID)")
        if not self.probe_key:
            return Check("reader", "skip", "nothing was written for the reader to read")
        store = self._open(key_id, self.settings.reader_secret_access_key)
        return check_reader(store, self.probe_key, f"{self.prefix}/reader-wrote.json")

    def objects(self) -> Check:
        """The lake's object count against the bucket's limit (Allas: 500,000), from the last
        census plus what runs wrote since: two small reads, whatever the lake's size."""
        if not self.usable:
            return Check("objects", "skip", "the keys cannot write the lake")
        try:
            found = census.usage(
                census.count_objects(self.store),
                self.settings.lake_object_limit,
                self.settings.lake_object_warn_percent,
            )
        except BucketpipeError as exc:
            return Check("objects", "fail", first_line(exc), unless_hinted(exc))
        fix = (
            "run `bucketpipe compact` daily (retention and vacuum delete old objects) and "
            "shorten BUCKETPIPE_RETENTION_*, or move the lake to a new bucket"
        )
        verdicts: dict[str, Status] = {"ok": "pass", "warning": "warn", "full": "fail"}
        status = verdicts[found.level]
        return Check("objects", status, found.message, fix)

    def cleanup(self) -> None:
        """Delete every probe object (and, in a directory lake, the folders they were in)."""
        if not self.usable:
            return
        try:
            self.store.delete([o.key for o in self.store.list_objects(f"{self.prefix}/")])
        except BucketpipeError as exc:
            log.warning("could not delete the probe objects under %s: %s", self.prefix, exc)
        if isinstance(self.store, LocalStore):
            for folder in (self.store.root / self.prefix / "listed", self.store.root / self.prefix):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            with contextlib.suppress(OSError):
                (self.store.root / PROBE_ROOT).rmdir()
