"""The dataset catalog: every dataset's schema, key and extraction, declared once for all sides.

`get`, `specs` and `for_endpoints` look datasets up in the declarations of `datasets/`; the
types are in `spec`. Nothing registers itself: the list in `datasets/__init__.py` is the
catalog.
"""

from __future__ import annotations

from collections.abc import Iterable

from bucketpipe.catalog.datasets import DATASETS
from bucketpipe.catalog.spec import DatasetSpec
from bucketpipe.lake.layout import REPORTS_DATASET

_BY_NAME: dict[str, DatasetSpec] = {spec.name: spec for spec in DATASETS}
if len(_BY_NAME) != len(DATASETS):
    raise ValueError("a dataset is declared twice in the catalog")


def get(name: str) -> DatasetSpec:
    """The declaration of a dataset; KeyError for a name the catalog does not declare."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(_BY_NAME)}") from None


def specs() -> list[DatasetSpec]:
    """Every declared dataset, in catalog order."""
    return list(DATASETS)


def for_endpoints(endpoints: Iterable[str]) -> list[DatasetSpec]:
    """The datasets built from any of these raw endpoints."""
    wanted = set(endpoints)
    return [s for s in DATASETS if wanted.intersection(s.endpoints)]


def reserved_names() -> frozenset[str]:
    """Dataset names files from a source bucket may not take: every declared dataset and the
    lake's own (`quality_reports`). A folder in a bucket anyone may write to names a dataset."""
    return frozenset(_BY_NAME) | {REPORTS_DATASET}


def reserved_reason(name: str) -> str:
    """Why files named for a reserved dataset are refused, and what to do."""
    return (
        f"dataset name {name!r} is reserved for a built-in dataset; "
        "map these files to another name in the source mapping"
    )


__all__ = ["DatasetSpec", "for_endpoints", "get", "reserved_names", "reserved_reason", "specs"]
