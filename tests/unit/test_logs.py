"""Logging: JSON lines off a terminal, readable lines on one, secrets masked everywhere."""

import io
import json
import logging

from bucketpipe.config.logs import configure_logging, mask, register_secrets


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "auto", stream)
    logging.getLogger("bucketpipe.test").info("committed", extra={"run_id": "r1", "rows": 3})
    entry = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert entry["message"] == "committed"
    assert entry["run_id"] == "r1"
    assert entry["rows"] == 3
    assert entry["level"] == "info"


def test_text_on_a_terminal() -> None:
    stream = _Tty()
    configure_logging("INFO", "auto", stream)
    logging.getLogger("bucketpipe.test").warning("careful", extra={"dataset": "quotes"})
    line = stream.getvalue().strip().splitlines()[-1]
    assert "WARNING" in line and "careful" in line and "dataset=quotes" in line
    assert not line.startswith("{")


def test_registered_secrets_never_reach_the_output() -> None:
    register_secrets(["s3cr3t-value-xyz", None, "ab"])
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    logging.getLogger("bucketpipe.test").error(
        "failed with key s3cr3t-value-xyz", extra={"url": "http://x/?token=s3cr3t-value-xyz"}
    )
    assert "s3cr3t-value-xyz" not in stream.getvalue()
    assert "***" in stream.getvalue()
    # Values too short to be secrets are not masked (they would mangle ordinary text).
    assert mask("ab cd") == "ab cd"


HOSTILE = "evts/a\n00:00:00 ERROR   forged\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07\x1b[2J\u202etxt.csv"


def test_a_strangers_text_stays_on_its_line_and_sends_no_escape_to_the_terminal() -> None:
    """An object key or a value comes from whoever may write to the source bucket: in the
    terminal's log format a newline forged a line, and an escape sequence reached the terminal
    (OSC 52 writes the clipboard; `ESC [2J` clears the screen)."""
    stream = _Tty()
    configure_logging("INFO", "auto", stream)
    logging.getLogger("bucketpipe.test").warning(f"not landed: {HOSTILE}", extra={"key": HOSTILE})
    (line,) = stream.getvalue().splitlines()
    assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line
    assert line.count("forged") == 2 and "\\n00:00:00 ERROR" in line and "\\x1b]52;c;" in line


def test_printable_escapes_only_control_characters() -> None:
    from bucketpipe.config.logs import printable

    assert printable("Määrä € 株 tab\there") == "Määrä € 株 tab\\there"
    assert printable("\x00\x7f\x9b\u2066") == "\\x00\\x7f\\x9b\\u2066"
