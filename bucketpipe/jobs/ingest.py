"""`bucketpipe ingest <source>`: land raw data from a source and commit the run."""

from __future__ import annotations

import argparse
from typing import Any

from bucketpipe.jobs import ingest_bucket, ingest_demo, ingest_finnhub
from bucketpipe.jobs.common import Subcommand

# One module per source, each with `register(subparsers)`.
SOURCES: tuple[Subcommand, ...] = (ingest_demo, ingest_finnhub, ingest_bucket)


def register(sub: Any) -> None:
    parser = sub.add_parser("ingest", help="fetch data from a source and land it raw in the lake")
    sources = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    for source in SOURCES:
        source.register(sources)


def parser_defaults(parser: argparse.ArgumentParser, **values: Any) -> None:
    parser.set_defaults(**values)
