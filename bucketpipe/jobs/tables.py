"""`bucketpipe tables`: every dataset as a Delta Lake table, and how to read it elsewhere."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.jobs.common import EXIT_FAILED, EXIT_OK
from bucketpipe.lake import delta
from bucketpipe.serve.queries.session import reader_settings
from bucketpipe.serve.tables import TableInfo, describe_all, snippets, to_json

log = logging.getLogger("bucketpipe.tables")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "tables",
        help="list the Delta Lake tables (one per dataset) and how to read them",
        description="Every committed dataset is also a Delta Lake table in its folder "
        "(clean/<dataset>/), readable by Polars, pandas, DuckDB, Spark and Trino "
        "(docs/open-lake.md). Lists them with ready-to-paste read snippets.",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (with read snippets) or json: one object per dataset",
    )
    parser.add_argument(
        "--sync",
        action="store_true",
        help="first bring every table level with its snapshot (creating missing ones); "
        "needs the lake's write credentials",
    )
    parser.add_argument(
        "--dataset", help="the dataset the snippets read (default: quotes, else the first)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    failed = []
    if args.sync:
        # Asked for explicitly: done even when BUCKETPIPE_DELTA_MIRROR is off.
        policy = delta.Policy.from_settings(settings.model_copy(update={"delta_mirror": True}))
        synced = delta.sync_lake(lake_store(settings), policy)
        failed = [s.dataset for s in synced.values() if s.action == "failed"]
    store = lake_store(reader_settings(settings))
    infos = describe_all(store)
    if args.dataset and all(i.dataset != args.dataset for i in infos):
        known = ", ".join(i.dataset for i in infos) or "none yet"
        raise ConfigError(f"--dataset: unknown dataset {args.dataset!r}; committed: {known}")
    if args.format == "json":
        sys.stdout.write(to_json(infos))
    else:
        sys.stdout.write(render(infos, store.url))
        if infos:
            wanted = args.dataset or "quotes"
            found = next((i for i in infos if i.dataset == wanted), None)
            chosen = found or infos[0]
            for engine, code in snippets(store, chosen.delta_uri).items():
                sys.stdout.write(f"\n# {engine}: {chosen.dataset}\n{code}\n")
    if failed:
        log.error(f"not synced: {', '.join(failed)} (see the warnings above)")
        return EXIT_FAILED
    return EXIT_OK


def render(infos: list[TableInfo], lake: str) -> str:
    """The table list: versions, files, rows, size and URI of each dataset."""
    if not infos:
        return f"No datasets are committed in {lake} yet.\n"
    head = ("dataset", "delta", "snapshot", "files", "rows", "size", "uri")
    rows = [
        (
            info.dataset,
            "-" if info.version is None else str(info.version),
            f"{info.snapshot_version}{'' if info.level else ' *'}",
            f"{info.files:,}",
            f"{info.rows:,}",
            human_bytes(info.bytes),
            info.delta_uri,
        )
        for info in infos
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r[:-1], widths, strict=True))
        )
        + f"  {r[-1]}"
        for r in [head, *rows]
    ]
    out = f"Delta Lake tables of {lake} (docs/open-lake.md)\n\n" + "\n".join(lines) + "\n"
    if any(not info.level for info in infos):
        out += "\n* the table is not level with its snapshot yet: `bucketpipe tables --sync`\n"
    return out


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
