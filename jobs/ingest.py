"""`bucketpipe ingest <source>`: land raw data from a source and commit the run."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

# One module per source, each with `register(subparsers)`.
SOURCES = ("jobs.ingest_demo", "jobs.ingest_finnhub", "jobs.ingest_bucket")


def register(sub: Any) -> None:
    parser = sub.add_parser("ingest", help="fetch data from a source and land it raw in the lake")
    sources = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    for name in SOURCES:
        importlib.import_module(name).register(sources)


def parser_defaults(parser: argparse.ArgumentParser, **values: Any) -> None:
    parser.set_defaults(**values)
