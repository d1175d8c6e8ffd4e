"""`bucketpipe bench`: the benchmark harness, when run from a source checkout.

The harness lives in the repository's `benchmarks/` (it needs the dev extra and the fake
servers in `tests/support/`) and is not part of the installed package; this alias finds it
beside this file's checkout.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings

CHECKOUT = Path(__file__).resolve().parents[1]
MISSING = (
    "the benchmark harness is not installed with the package: run it from a source "
    "checkout (python -m benchmarks, or bucketpipe bench in a checkout's .venv)"
)


def register(sub: Any) -> None:
    harness = _harness()
    if harness is not None:
        harness.register(sub)
        return
    parser = sub.add_parser("bench", help="the benchmark (from a source checkout only)")
    parser.set_defaults(handler=_missing)


def _harness() -> Any:
    if not (CHECKOUT / "benchmarks" / "__init__.py").is_file():
        return None
    if str(CHECKOUT) not in sys.path:
        sys.path.append(str(CHECKOUT))
    return importlib.import_module("benchmarks.cli")


def _missing(args: argparse.Namespace, settings: Settings) -> int:
    raise ConfigError(MISSING)
