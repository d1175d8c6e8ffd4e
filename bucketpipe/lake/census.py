"""How many objects the lake holds, without listing the bucket on every run.

CSC Allas allows 500,000 objects per bucket. The daily compaction, which deletes what the
schedule no longer needs, ends with an exact census (one LIST page per 1,000 objects) saved in
`_state/objects.json` together with the run ledgers' running totals of objects written. Between
two censuses the count is the census plus what the ledgers say every run has written since:
two small GETs per job, whatever the lake's size. Runs only add objects between compactions
(deleting is compaction's work), so the estimate errs, if at all, on the high side.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake.layout import state_key
from bucketpipe.lake.ledger import JobLedger, read_ledgers
from bucketpipe.lake.storage import ObjectStore

CENSUS_KEY = state_key("objects.json")
Level = Literal["ok", "warning", "full"]


class Census(BaseModel):
    """An exact count of the lake's objects per top-level area, and the ledgers' totals then."""

    counted_at: datetime
    total: int
    areas: dict[str, int] = Field(default_factory=dict)
    # Ledger name -> its objects_written per area when the census was taken.
    marks: dict[str, dict[str, int]] = Field(default_factory=dict)
    # Area -> its bytes and its newest object's time then (the pipeline page shows them
    # without listing the bucket).
    bytes: dict[str, int] = Field(default_factory=dict)
    newest: dict[str, datetime] = Field(default_factory=dict)


@dataclass(frozen=True)
class ObjectCount:
    """The lake's object count: exact at `counted_at`, plus what runs wrote since."""

    total: int
    areas: dict[str, int] = field(default_factory=dict)
    counted_at: datetime | None = None
    since_census: int = 0

    @property
    def method(self) -> str:
        if self.counted_at is None:
            return "runs' own counts, no census yet: `bucketpipe compact` takes one"
        if self.since_census:
            return f"census plus {self.since_census} objects written since"
        return "census"


@dataclass(frozen=True)
class ObjectUsage:
    """The count against the bucket's limit."""

    count: ObjectCount
    limit: int
    warn_percent: float

    @property
    def ratio(self) -> float:
        return self.count.total / self.limit if self.limit else 0.0

    @property
    def level(self) -> Level:
        if self.count.total >= self.limit:
            return "full"
        return "warning" if self.ratio * 100 >= self.warn_percent else "ok"

    @property
    def message(self) -> str:
        return (
            f"the lake holds {self.count.total:,} objects, {self.ratio:.0%} of the bucket's "
            f"limit of {self.limit:,} ({self.count.method})"
        )


def area_of(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else "(top)"


def take_census(store: ObjectStore, now: datetime) -> Census:
    """List the whole lake once, count per area and save the census (compaction's last step)."""
    areas: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    newest: dict[str, datetime] = {}
    for info in store.list_objects(""):
        area = area_of(info.key)
        areas[area] += 1
        sizes[area] += info.size
        if area not in newest or info.last_modified > newest[area]:
            newest[area] = info.last_modified
    census = Census(
        counted_at=now,
        total=sum(areas.values()),
        areas=dict(sorted(areas.items())),
        marks={led.name: dict(led.objects_written) for led in read_ledgers(store)},
        bytes=dict(sorted(sizes.items())),
        newest=dict(sorted(newest.items())),
    )
    store.put(CENSUS_KEY, census.model_dump_json(indent=1).encode(), "application/json")
    return census


def read_census(store: ObjectStore) -> Census | None:
    try:
        return Census.model_validate_json(store.get(CENSUS_KEY))
    except (ObjectNotFound, ValueError):
        return None


def estimate(census: Census | None, ledgers: list[JobLedger]) -> ObjectCount:
    """The census plus every ledger's objects written since it (pure)."""
    areas: Counter[str] = Counter(census.areas if census else {})
    since: Counter[str] = Counter()
    for ledger in ledgers:
        mark = census.marks.get(ledger.name, {}) if census else {}
        for area, total in ledger.objects_written.items():
            since[area] += max(0, total - mark.get(area, 0))
    areas.update(since)
    return ObjectCount(
        total=sum(areas.values()),
        areas=dict(sorted(areas.items())),
        counted_at=census.counted_at if census else None,
        since_census=sum(since.values()),
    )


def count_objects(store: ObjectStore, *, exact: bool = False) -> ObjectCount:
    """The lake's object count: the cheap estimate, or with `exact` a full listing (not saved;
    one LIST request per 1,000 objects), e.g. for `doctor`."""
    if exact:
        areas: Counter[str] = Counter(area_of(info.key) for info in store.list_objects(""))
        return ObjectCount(
            total=sum(areas.values()),
            areas=dict(sorted(areas.items())),
            counted_at=datetime.now(UTC),
        )
    return estimate(read_census(store), read_ledgers(store))


def usage(count: ObjectCount, limit: int, warn_percent: float) -> ObjectUsage:
    return ObjectUsage(count, limit, warn_percent)
