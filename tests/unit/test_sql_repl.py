"""The `bucketpipe sql` REPL's reading of lines into statements (no terminal, no engine)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bucketpipe.jobs import sql_repl


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # the history file goes there


def typed(*lines: str | type[BaseException]) -> Callable[[str], str]:
    """A `read_line` that returns each line in turn, raises the exceptions given, then EOF."""
    pending: Iterator[str | type[BaseException]] = iter(lines)

    def read_line(prompt: str) -> str:
        prompts.append(prompt)
        item = next(pending, EOFError)
        if isinstance(item, str):
            return item
        raise item

    prompts: list[str] = []
    read_line.prompts = prompts  # type: ignore[attr-defined]
    return read_line


def session(*lines: str | type[BaseException]) -> tuple[list[str], str, list[str]]:
    ran: list[str] = []
    out = io.StringIO()
    read_line = typed(*lines)
    code = sql_repl.repl(lambda sql, label: ran.append(sql) or True, read_line, out=out)
    assert code == 0
    return ran, out.getvalue(), read_line.prompts  # type: ignore[attr-defined]


def test_a_statement_runs_when_its_semicolon_is_typed() -> None:
    ran, out, prompts = session("SELECT 40 +", "2 AS answer;", "SELECT 'a;b'; SELECT 2;")
    assert ran == ["SELECT 40 +\n2 AS answer", "SELECT 'a;b'", "SELECT 2"]
    assert prompts == ["sql> ", "...> ", "sql> ", "sql> "]
    assert out.startswith(sql_repl.BANNER) and out.endswith("\n")


def test_a_semicolon_in_a_comment_or_string_does_not_end_the_statement() -> None:
    ran, _, prompts = session("SELECT '; /* x' AS a -- ;", ", 1 AS b;")
    assert ran == ["SELECT '; /* x' AS a -- ;\n, 1 AS b"]
    assert prompts[1] == "...> "


def test_ctrl_c_drops_the_statement_being_typed() -> None:
    ran, _, prompts = session("SELECT 1", KeyboardInterrupt, "SELECT 2;")
    assert ran == ["SELECT 2"]
    assert prompts == ["sql> ", "...> ", "sql> ", "sql> "]


@pytest.mark.parametrize("word", ["\\q", "quit", "EXIT", ".quit"])
def test_quit_words_end_the_session(word: str) -> None:
    ran, _, _ = session("SELECT 1;", word, "SELECT 2;")
    assert ran == ["SELECT 1"]


def test_text_that_cannot_be_split_is_handed_over_whole() -> None:
    # A NUL is refused by the splitter; the run reports it as the query's one-line error.
    ran, _, _ = session("SELECT 1\x00;")
    assert ran == ["SELECT 1\x00;"]


def test_a_table_on_the_terminal_shows_a_strangers_value_as_text() -> None:
    """`bucketpipe sql` prints values from files anyone may drop in the source bucket: Rich
    read `[link=...]` in a cell as markup (a hyperlink) and passed escape sequences through."""
    import io

    import pandas as pd

    from bucketpipe.jobs.sql import write

    frame = pd.DataFrame(
        {"b\x1b[31m": ["x\x1b]0;PWNED\x07y", "[link=https://evil.example]click[/link]", "[b]x"]}
    )
    out = io.StringIO()
    write(frame, "table", out)
    shown = out.getvalue()
    assert "\x1b" not in shown and "\x07" not in shown
    assert "x\\x1b]0;PWNED\\x07y" in shown and "b\\x1b[31m" in shown
    assert "[link=https://evil.example]click[/link]" in shown and "[b]x" in shown
