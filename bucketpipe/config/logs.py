"""Logging set-up: JSON lines for machines, readable lines for people, secrets masked."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

_STD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}

_secrets: set[str] = set()


def register_secrets(values: Iterable[str | None]) -> None:
    """Values that must never appear in a log line; they are replaced by `***`."""
    for value in values:
        if value and len(value) >= 4:
            _secrets.add(value)


def registered_secrets() -> frozenset[str]:
    """Every value registered with `register_secrets` (to search outputs for them)."""
    return frozenset(_secrets)


def mask(text: str) -> str:
    """Replace every registered secret in `text` with `***`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STD_ATTRS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask(json.dumps(entry, default=str))


# Control characters (C0, DEL, C1) and the bidirectional overrides that reorder what a line
# shows: an escape sequence in a stranger's text can retitle the terminal, write its clipboard
# (OSC 52) or make a hyperlink, a newline forge a log line.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` as a terminal should show it: every control character written as its escape
    (`\\n`, `\\x1b`, `\\u202e`), the rest unchanged."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


class TextFormatter(logging.Formatter):
    """`HH:MM:SS level message key=value ...` for a terminal; one line for each record (a
    traceback aside), whatever the text in it."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = " ".join(f"{k}={printable(str(v))}" for k, v in _extras(record).items())
        line = f"{stamp} {record.levelname:<7} {printable(record.getMessage())}"
        if fields:
            line = f"{line}  [{fields}]"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return mask(line)


def configure_logging(
    level: str = "INFO", fmt: str = "auto", stream: TextIO | None = None
) -> logging.Handler:
    """Configure the root logger once: JSON when `stream` is not a terminal, unless told."""
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_bucketpipe", False):
            root.removeHandler(old)
    handler._bucketpipe = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A certificate for another host is reported once, as the configuration error it is;
    # urllib3 would also warn with the whole peer certificate first.
    logging.getLogger("urllib3.connection").setLevel(logging.ERROR)
    return handler
