"""`python -m benchmarks`: run the benchmark from a source checkout (see docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from benchmarks.cli import DESCRIPTION, add_arguments, handle
from bucketpipe.jobs.common import guarded, load_settings, setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    settings = load_settings()
    setup_logging(settings)
    return guarded(handle, args, settings)


if __name__ == "__main__":
    sys.exit(main())
