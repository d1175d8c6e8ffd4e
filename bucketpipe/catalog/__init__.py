"""The dataset catalog: every dataset's schema, key and extraction, declared once for all sides.

`get`, `specs` and `for_endpoints` look datasets up in the declarations of `datasets/`; the
types are in `spec`. Nothing registers itself: the list in `datasets/__init__.py` is the
catalog.
"""

from __future__ import annotations

from collections.abc import Iterable

from bucketpipe.catalog.datasets import DATASETS
from bucketpipe.catalog.spec import DatasetSpec

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


__all__ = ["DatasetSpec", "for_endpoints", "get", "specs"]
