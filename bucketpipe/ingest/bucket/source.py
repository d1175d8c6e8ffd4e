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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bucketpipe import catalog
from bucketpipe.config.errors import ConfigError, ObjectNotFound, StorageUnavailable
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.formats.detect import inspect_file
from bucketpipe.formats.readers import ReadOptions, UnreadableFile
from bucketpipe.ingest.bucket.mapping import Mapping, Target, ignored
from bucketpipe.ingest.bucket.state import (
    SOURCE,
    STATUS_LANDED,
    STATUS_TOO_LARGE,
    STATUS_UNREADABLE,
    SourceState,
    apply_line,
    load_state,
    reconcile,
    save_state,
    source_id,
)
from bucketpipe.ingest.run import commit_ingest, run_day
from bucketpipe.lake.duck import connect
from bucketpipe.lake.layout import input_id, raw_file_key
from bucketpipe.lake.raw import RawRecord, RawWriter
from bucketpipe.lake.runs import RunManifest, RunStatus
from bucketpipe.lake.storage import ObjectInfo, ObjectStore, open_store, scratch_dir

log = logging.getLogger(__name__)

ENDPOINT = "file"
COPY_CHUNK = 8 * 1024 * 1024
# Files up to this size are embedded (base64) in their raw line instead of copied.
EMBED_MAX_BYTES = 1024 * 1024


@dataclass
class Plan:
    """What a run will do with the listed objects (pure: from the listing and the state)."""

    land: list[tuple[ObjectInfo, Target]] = field(default_factory=list)
    too_large: list[tuple[ObjectInfo, Target]] = field(default_factory=list)
    unchanged: int = 0
    ignored: int = 0
    unmapped: int = 0


def copy_key(day: str, run: str, index: int, source_key: str) -> str:
    """`raw/bucket/dt=<day>/<run>/<n>.<ext>`: the immutable copy of one landed file."""
    name = source_key.rsplit("/", 1)[-1].lower()
    parts = name.split(".")[1:][-2:]
    ext = ".".join(p for p in parts if p.isalnum() and len(p) <= 8) or "bin"
    return raw_file_key(SOURCE, day, run, index, ext)


def open_source(settings: Settings, url: str | None = None) -> ObjectStore:
    """The source store: its own endpoint and credentials, else the lake's."""
    url = url or settings.source
    if not url:
        raise ConfigError("no source: set BUCKETPIPE_SOURCE or pass --source s3://bucket/prefix")

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
    )


def plan(
    objects: Iterable[ObjectInfo],
    mapping: Mapping,
    state: SourceState,
    *,
    max_bytes: int,
    retry_failed: bool = False,
) -> Plan:
    """Split a listing into files to land, too large, unchanged, ignored and unmapped."""
    out = Plan()
    reserved = {spec.name for spec in catalog.specs()}
    for info in objects:
        if ignored(info.key):
            out.ignored += 1
            continue
        target = mapping.target(info.key)
        if target is None:
            out.unmapped += 1
            continue
        seen = state.objects.get(info.key)
        if seen and seen.get("etag") == info.etag:
            status = seen.get("status")
            retry = (status == "too_large" and info.size <= max_bytes) or (
                status == "failed" and retry_failed
            )
            if not retry:
                out.unchanged += 1
                continue
        if target.dataset in reserved:
            target = Target(target.dataset, {**target.options, "_reserved": True}, target.rule)
        if info.size > max_bytes:
            out.too_large.append((info, target))
        else:
            out.land.append((info, target))
    return out


@dataclass
class Landing:
    """One ingest run of the bucket source in progress."""

    ctx: Context
    source: ObjectStore
    run: str
    day: str
    scratch: Path
    writer: RawWriter
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
            reason = (
                f"dataset name {target.dataset!r} is reserved for a built-in dataset; "
                "map these files to another name in the source mapping"
            )
            self.record(info, target, STATUS_UNREADABLE, reason, {})
            return
        local = self.scratch / f"{index:05d}.src"
        try:
            with self.source.open(info.key) as stream, local.open("wb") as out:
                shutil.copyfileobj(stream, out, COPY_CHUNK)
        except ObjectNotFound:
            log.info("object vanished before it was read", extra={"key": info.key})
            return
        except StorageUnavailable as exc:
            self.transient.append(f"{info.key}: {exc}")
            return
        try:
            options = self.inspect(local, info.key, target)
        except UnreadableFile as exc:
            self.record(info, target, STATUS_UNREADABLE, str(exc), {})
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

    def inspect(self, local: Path, key: str, target: Target) -> ReadOptions:
        con = connect(self.ctx.settings, threads=1)
        try:
            return inspect_file(local, key, overrides=target.options, con=con, scratch=self.scratch)
        finally:
            con.close()


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
    todo = plan(
        source.list_objects(),
        mapping,
        state,
        max_bytes=settings.source_max_bytes,
        retry_failed=retry_failed,
    )
    if limit is not None:
        todo.land = todo.land[:limit]
    if not todo.land and not todo.too_large:
        log.info("no new or changed files", extra={"run_id": run_id, "unchanged": todo.unchanged})
        return None
    run = input_id(run_id, None)
    scratch = scratch_dir(settings.temp_dir)
    day = run_day(run_id, started).isoformat()
    landing = Landing(ctx, source, run, day, scratch, RawWriter(scratch))
    try:
        for info, target in todo.too_large:
            reason = (
                f"{info.size} bytes is over BUCKETPIPE_SOURCE_MAX_BYTES "
                f"({settings.source_max_bytes}); skipped"
            )
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
