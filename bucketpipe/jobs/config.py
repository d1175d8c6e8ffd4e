"""`bucketpipe config`: the effective settings, secrets masked."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bucketpipe.config.settings import Settings, env_name
from bucketpipe.jobs.common import EXIT_OK


def register(sub: Any) -> None:
    parser = sub.add_parser("config", help="show the effective settings (secrets masked)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    values = settings.redacted()
    if args.json:
        sys.stdout.write(json.dumps(values, indent=2, default=str) + "\n")
        return EXIT_OK
    width = max(len(env_name(k)) for k in values)
    for field, value in values.items():
        shown = ",".join(map(str, value)) if isinstance(value, list) else value
        sys.stdout.write(f"{env_name(field):<{width}}  {'' if shown is None else shown}\n")
    return EXIT_OK
