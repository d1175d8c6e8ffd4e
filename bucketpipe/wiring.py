"""The composition root: the steps wired into every clean run, in one place.

Nothing registers itself by being imported. The CLI (`bucketpipe clean`), the benchmarks and
the tests take the clean run's steps from here and pass them down explicitly.
"""

from __future__ import annotations

from bucketpipe.clean.derived import derive
from bucketpipe.clean.job import DatasetHook
from bucketpipe.clean.overview import update_overview

# After the catalog and generic datasets of a clean run: daily bars and their indicators,
# then the market overview, which reads the quotes, the profiles and the bars just written.
AFTER_CLEAN: tuple[DatasetHook, ...] = (derive, update_overview)

__all__ = ["AFTER_CLEAN"]
