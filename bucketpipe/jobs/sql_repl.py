"""The `bucketpipe sql` REPL: statements typed on a terminal, with readline history."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from bucketpipe.config.errors import QueryRefused
from bucketpipe.serve.sandbox.text import is_complete, split_statements

log = logging.getLogger("bucketpipe.sql")

PROMPT, MORE = "sql> ", "...> "
QUIT = frozenset({"\\q", "quit", "exit", ".quit", ".exit"})
HISTORY_LENGTH = 1000
BANNER = (
    "Read-only SQL over the committed datasets (SHOW TABLES lists them). End a statement "
    "with ';'. Ctrl-D or \\q quits."
)


def history_file() -> Path | None:
    try:
        return Path.home() / ".bucketpipe_sql_history"
    except RuntimeError:  # no home directory
        return None


@contextlib.contextmanager
def _history() -> Iterator[object]:
    """readline with the history kept between sessions (where readline exists)."""
    try:
        import readline
    except ImportError:  # pragma: no cover - every Linux Python has it
        yield None
        return
    path = history_file()
    if path is not None and path.is_file():
        with contextlib.suppress(OSError):
            readline.read_history_file(path)
    readline.set_history_length(HISTORY_LENGTH)
    try:
        yield readline
    finally:
        if path is not None:
            with contextlib.suppress(OSError):
                readline.write_history_file(path)


def repl(
    run: Callable[[str, str], bool],
    read_line: Callable[[str], str] = input,
    banner: bool = True,
    out: TextIO | None = None,
) -> int:
    """Read statements until end of input; each runs when its ';' is typed. Always exit 0.

    The banner and line breaks go to the terminal (`out`, default stdout); results are
    printed by `run`, errors are logged.
    """
    terminal = out or sys.stdout
    if banner:
        terminal.write(BANNER + "\n")
    with _history():
        buffer = ""
        while True:
            try:
                line = read_line(MORE if buffer else PROMPT)
            except EOFError:
                terminal.write("\n")  # end the prompt's line before the shell's
                break
            except KeyboardInterrupt:  # Ctrl-C drops the statement being typed
                terminal.write("\n")
                buffer = ""
                continue
            if not buffer and line.strip().lower() in QUIT:
                break
            buffer = f"{buffer}\n{line}" if buffer else line
            if not _ready(buffer):
                continue
            for statement in _statements(buffer):
                try:
                    run(statement, "")
                except KeyboardInterrupt:
                    log.error("stopped; the SQL engine was restarted")
            buffer = ""
    terminal.flush()
    return 0


def _ready(buffer: str) -> bool:
    try:
        return is_complete(buffer)
    except QueryRefused:
        return True  # let the run report what is wrong with it


def _statements(buffer: str) -> list[str]:
    try:
        return split_statements(buffer)
    except QueryRefused:
        return [buffer]
