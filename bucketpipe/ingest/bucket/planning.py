"""Which listed objects a bucket-source run lands: pure, from the listing and the state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bucketpipe.catalog import reserved_names
from bucketpipe.ingest.bucket.mapping import Mapping, Target, ignored
from bucketpipe.ingest.bucket.state import SOURCE, SourceState
from bucketpipe.lake.layout import raw_file_key
from bucketpipe.lake.objects import ObjectInfo


@dataclass
class Plan:
    """What a run will do with the listed objects (pure: from the listing and the state)."""

    land: list[tuple[ObjectInfo, Target]] = field(default_factory=list)
    too_large: list[tuple[ObjectInfo, Target]] = field(default_factory=list)
    no_room: list[tuple[ObjectInfo, Target]] = field(default_factory=list)
    unchanged: int = 0
    ignored: int = 0
    unmapped: int = 0


def copy_key(day: str, run: str, index: int, source_key: str) -> str:
    """`raw/bucket/dt=<day>/<run>/<n>.<ext>`: the immutable copy of one landed file."""
    name = source_key.rsplit("/", 1)[-1].lower()
    parts = name.split(".")[1:][-2:]
    ext = ".".join(p for p in parts if p.isalnum() and len(p) <= 8) or "bin"
    return raw_file_key(SOURCE, day, run, index, ext)


def plan(
    objects: Iterable[ObjectInfo],
    mapping: Mapping,
    state: SourceState,
    *,
    max_bytes: int,
    scratch_bytes: int | None = None,
    retry_failed: bool = False,
) -> Plan:
    """Split a listing into files to land, too large, without room, unchanged, ignored and
    unmapped. `scratch_bytes`: what a downloaded file may take of the scratch space (None: no
    bound). A file skipped for its size comes back once it fits; one that failed, when it
    changes (a new ETag) or when `retry_failed` asks."""
    fits = max_bytes if scratch_bytes is None else min(max_bytes, scratch_bytes)
    out = Plan()
    reserved = reserved_names()
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
            retry = (status == "too_large" and info.size <= fits) or (
                status == "failed" and retry_failed
            )
            if not retry:
                out.unchanged += 1
                continue
        if target.dataset in reserved:
            target = Target(target.dataset, {**target.options, "_reserved": True}, target.rule)
        if info.size > max_bytes:
            out.too_large.append((info, target))
        elif scratch_bytes is not None and info.size > scratch_bytes:
            out.no_room.append((info, target))
        else:
            out.land.append((info, target))
    return out
