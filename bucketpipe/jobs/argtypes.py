"""Argument types of the command line: a value out of range is a usage error (exit 2, one
line), never a traceback or a silently odd run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.values import check_symbols


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text: str) -> int:
    """A count: 1 or more."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def positive_float(text: str) -> float:
    """A duration or age: more than 0."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0")
    return value


def non_negative_float(text: str) -> float:
    """Seconds to wait: 0 or more."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more")
    return value


def port(text: str) -> int:
    """A TCP port to listen on: 1 to 65535."""
    value = _int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range (1-65535)")
    return value


def check_symbol_option(symbols: Sequence[str] | None) -> None:
    """`--symbols` checked as `BUCKETPIPE_SYMBOLS` is (ConfigError: exit 2, one line)."""
    try:
        check_symbols(list(symbols or ()))
    except ValueError as exc:
        raise ConfigError(f"--symbols: {exc}") from None
