"""The bucket source: land new or changed files from a bucket or directory as raw, incrementally.

Raw representation. The run's `raw/bucket/dt=<day>/<run_id>.jsonl.gz` holds one line per file
considered: the source key and ETag (`params`), when it was landed, status (200 landed, 413 too
large, 422 unreadable) and error, and a body with the dataset, the source URI, size and
modification time, and the detected read options (format, encoding, delimiter, sheets). The
file's bytes are kept unchanged: up to 1 MiB embedded in the line (`content`, base64), so the
many small files of a frequent schedule roll into compaction's day archive; larger files are
copied immutably to `raw/bucket/dt=<day>/<run_id>/<n>.<ext>` (`copy`), never held in memory
or in a JSON line. Clean reads the lines, then the bytes with the recorded options, so a
rebuild replays exactly what was landed.

Incremental: `bucket_state` keeps every seen key's ETag and outcome, updated after the commit.
"""

from __future__ import annotations

import base64
import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bucketpipe.catalog import reserved_reason
from bucketpipe.config.errors import ConfigError, ObjectNotFound, StorageUnavailable
from bucketpipe.config.scratch import scratch_space
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.formats.bounds import Limits, copy_capped
from bucketpipe.formats.detect import inspect_file
from bucketpipe.formats.readers import ReadOptions, UnreadableFile
from bucketpipe.ingest.bucket.mapping import Mapping, Target
from bucketpipe.ingest.bucket.planning import Plan, copy_key, plan
from bucketpipe.ingest.bucket.state import (
    SOURCE,
    STATUS_LANDED,
    STATUS_TOO_LARGE,
    STATUS_UNREADABLE,
    apply_line,
    load_state,
    reconcile,
    save_state,
    source_id,
)
from bucketpipe.ingest.run import commit_ingest, run_day
from bucketpipe.lake.duck import connect
from bucketpipe.lake.layout import input_id
from bucketpipe.lake.local import LocalStore
from bucketpipe.lake.raw import RawRecord, RawWriter
from bucketpipe.lake.runs import RunManifest, RunStatus
from bucketpipe.lake.storage import ObjectInfo, ObjectStore, open_store, scratch_dir

log = logging.getLogger(__name__)

ENDPOINT = "file"
# Files up to this size are embedded (base64) in their raw line instead of copied.
EMBED_MAX_BYTES = 1024 * 1024


def open_source(settings: Settings, url: str | None = None) -> ObjectStore:
    """The source store: its own endpoint and credentials, else the lake's."""
    url = url or settings.source
    if not url:
        raise ConfigError("no source: set BUCKETPIPE_SOURCE or pass --source s3://bucket/prefix")

    if "://" not in url and not Path(url).expanduser().is_dir():
        what = "does not exist" if not Path(url).expanduser().exists() else "is not a directory"
        raise ConfigError(f"source {url!r} {what}: set BUCKETPIPE_SOURCE or --source")

    def plain(secret: Any) -> str | None:
        return secret.get_secret_value() if secret is not None else None

    return open_store(
        url,
        endpoint_url=settings.source_endpoint_url or settings.aws_endpoint_url,
        region=settings.aws_region,
        access_key_id=plain(settings.source_access_key_id or settings.aws_access_key_id),
        secret_access_key=plain(
            settings.source_secret_access_key or settings.aws_secret_access_key
        ),
        ca_bundle=settings.aws_ca_bundle,  # one bundle may hold the CAs of both endpoints
    )


@dataclass
class Landing:
    """One ingest run of the bucket source in progress."""

    ctx: Context
    source: ObjectStore
    run: str
    day: str
    scratch: Path
    writer: RawWriter
    limits: Limits
    lines: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)

    def record(
        self,
        info: ObjectInfo,
        target: Target,
        status: int,
        error: str | None,
        body: dict[str, Any],
    ) -> None:
        """Write the file's raw line (landed or not) and remember it for the state."""
        body = {
            "dataset": target.dataset,
            "uri": f"{self.source.url.rstrip('/')}/{info.key}",
            "size": info.size,
            "last_modified": info.last_modified.isoformat(),
            "rule": target.rule,
            **body,
        }
        record = RawRecord(
            run=self.run,
            source=SOURCE,
            endpoint=ENDPOINT,
            path=info.key,
            params={"key": info.key, "etag": info.etag, "source": source_id(self.source.url)},
            requested_at=self.ctx.now(),
            status=status,
            error=error,
            body=body,
        )
        self.writer.write(record)
        self.lines.append(record.model_dump(mode="json"))
        if error:
            self.errors.append(f"{info.key}: {error}")

    def land_one(self, index: int, info: ObjectInfo, target: Target) -> None:
        """Download, inspect, copy into the lake and describe one object."""
        if target.options.get("_reserved"):
            self.record(info, target, STATUS_UNREADABLE, reserved_reason(target.dataset), {})
            return
        local = self.scratch / f"{index:05d}.src"
        try:
            options = self.fetch_and_inspect(local, info, target)
        except ObjectNotFound:
            log.info("object vanished before it was read", extra={"key": info.key})
            local.unlink(missing_ok=True)
            return
        except StorageUnavailable as exc:
            self.transient.append(f"{info.key}: {exc}")
            local.unlink(missing_ok=True)
            return
        except Exception as exc:
            # Recorded as failed whatever the cause (a bomb too): tried again only when the
            # object changes (a new ETag) or a run asks with --retry-failed.
            self.record(info, target, STATUS_UNREADABLE, file_reason(exc), {})
            log.warning("file not landed", extra={"key": info.key, "reason": file_reason(exc)})
            local.unlink(missing_ok=True)
            return
        body: dict[str, Any] = {"read": options.as_dict()}
        if info.size <= EMBED_MAX_BYTES:
            # Small files ride in the run's raw object, so compaction archives them with it.
            body["content"] = base64.b64encode(local.read_bytes()).decode("ascii")
            body["copy"] = None
        else:
            body["copy"] = copy_key(self.day, self.run, index, info.key)
            self.ctx.store.upload(body["copy"], local)
        local.unlink(missing_ok=True)
        self.record(info, target, STATUS_LANDED, None, body)
        log.info(
            "file landed",
            extra={
                "key": info.key,
                "dataset": target.dataset,
                "bytes": info.size,
                **_brief(options),
            },
        )

    def fetch_and_inspect(self, local: Path, info: ObjectInfo, target: Target) -> ReadOptions:
        """Copy the object into scratch space (within its bound), then read it whole."""
        refuse_escaping_link(self.source, info.key)
        with self.source.open(info.key) as stream:
            copy_capped(stream, local, self.limits)
        con = connect(self.ctx.settings, threads=1)
        try:
            return inspect_file(
                local,
                info.key,
                overrides=target.options,
                con=con,
                scratch=self.scratch,
                limits=self.limits,
            )
        finally:
            con.close()


def refuse_escaping_link(source: ObjectStore, key: str) -> None:
    """A symlink in a source directory must stay inside it (`UnreadableFile` otherwise)."""
    if not isinstance(source, LocalStore):
        return
    path = source.root / key
    target = path.resolve()
    if path.is_symlink() and source.root not in target.parents:
        raise UnreadableFile(
            "a symlink that leaves the source directory: refused (copy the file into the "
            "source instead)"
        )


def file_reason(exc: BaseException) -> str:
    """One line saying why a file was not landed."""
    if isinstance(exc, UnreadableFile):
        return str(exc)
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"unreadable ({type(exc).__name__}: {text})" if text else type(exc).__name__


def _brief(options: ReadOptions) -> dict[str, Any]:
    return {"format": options.format, "encoding": options.encoding}


def land(
    ctx: Context,
    *,
    run_id: str,
    mapping: Mapping,
    source_url: str | None = None,
    limit: int | None = None,
    retry_failed: bool = False,
) -> RunManifest | None:
    """One run: land new and changed objects, commit, then update the state. None if idle."""
    settings = ctx.settings
    source = open_source(settings, source_url)
    state = load_state(ctx.store, source.url)
    if reconcile(ctx.store, state):
        save_state(ctx.store, state, ctx.now())
    started = ctx.now()
    space = scratch_space(settings)
    limits = Limits.from_settings(settings, space.for_files)
    todo = plan(
        source.list_objects(),
        mapping,
        state,
        max_bytes=settings.source_max_bytes,
        scratch_bytes=space.for_files,
        retry_failed=retry_failed,
    )
    if limit is not None:
        todo.land = todo.land[:limit]
    if not todo.land and not todo.too_large and not todo.no_room:
        log.info("no new or changed files", extra={"run_id": run_id, "unchanged": todo.unchanged})
        return None
    run = input_id(run_id, None)
    scratch = scratch_dir(settings.temp_dir)
    day = run_day(run_id, started).isoformat()
    landing = Landing(ctx, source, run, day, scratch, RawWriter(scratch), limits)
    try:
        for info, target in todo.too_large:
            reason = (
                f"{info.size} bytes is over BUCKETPIPE_SOURCE_MAX_BYTES "
                f"({settings.source_max_bytes}); skipped"
            )
            landing.record(info, target, STATUS_TOO_LARGE, reason, {})
        for info, target in todo.no_room:
            reason = f"{info.size} bytes does not fit the {space.explain()}; skipped"
            landing.record(info, target, STATUS_TOO_LARGE, reason, {})
        for index, (info, target) in enumerate(todo.land):
            landing.land_one(index, info, target)
        manifest = _commit(ctx, landing, todo, started, run_id)
    finally:
        landing.writer.discard()
        shutil.rmtree(scratch, ignore_errors=True)
    for line in landing.lines:
        apply_line(state, line)
    state.runs.append(manifest.input_id)
    save_state(ctx.store, state, ctx.now())
    return manifest


def _commit(
    ctx: Context, landing: Landing, todo: Plan, started: datetime, run_id: str
) -> RunManifest:
    landed = [line for line in landing.lines if line["status"] == STATUS_LANDED]
    datasets: dict[str, int] = {}
    for line in landed:
        name = line["body"]["dataset"]
        datasets[name] = datasets.get(name, 0) + 1
    failed = [
        {"key": line["path"], "status": line["status"], "error": line["error"]}
        for line in landing.lines
        if line["status"] != STATUS_LANDED
    ]
    status: RunStatus = "partial" if landing.errors or landing.transient else "succeeded"
    details = {
        "source_url": landing.source.url,
        "source_id": source_id(landing.source.url),
        "datasets": datasets,
        "files_landed": len(landed),
        "bytes_landed": sum(int(line["body"]["size"]) for line in landed),
        "files_failed": len(failed),
        "files_unchanged": todo.unchanged,
        "files_ignored": todo.ignored,
        "files_unmapped": todo.unmapped,
        "files_retry_later": len(landing.transient),
        "failed": failed[:200],
        "copies": [line["body"]["copy"] for line in landed if line["body"]["copy"]],
    }
    return commit_ingest(
        ctx,
        source=SOURCE,
        run_id=run_id,
        writer=landing.writer,
        started_at=started,
        status=status,
        errors=(landing.errors + landing.transient)[:100],
        details=details,
    )
