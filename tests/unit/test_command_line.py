"""The command line imports the job it runs, not every job: an ingest pod starts without
clean's code, pandas or the dashboard's queries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bucketpipe.jobs.cli import SUBCOMMANDS, build_parser


def _imported_after(argv: list[str]) -> set[str]:
    """The modules a fresh interpreter holds once the parser for `argv` is built and used."""
    code = (
        "import sys\n"
        "from bucketpipe.jobs.cli import build_parser\n"
        f"args = build_parser(argv={argv!r}).parse_args({argv!r})\n"
        "assert callable(args.handler)\n"
        "print('\\n'.join(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(done.stdout.split())


def test_an_ingest_imports_neither_clean_nor_pandas() -> None:
    modules = _imported_after(["ingest", "bucket"])
    assert "bucketpipe.jobs.ingest_bucket" in modules
    assert not {"bucketpipe.jobs.clean", "bucketpipe.clean.job", "pandas"} & modules
    assert not any(m.startswith("bucketpipe.serve") for m in modules)


def test_a_clean_imports_its_job_alone() -> None:
    modules = _imported_after(["clean", "--rebuild", "quotes"])
    assert "bucketpipe.clean.job" in modules
    assert (
        not {"bucketpipe.jobs.ingest", "bucketpipe.jobs.sql", "bucketpipe.jobs.metrics"} & modules
    )


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_parses_alone_and_among_all(name: str) -> None:
    alone = build_parser(argv=[name, "--help"])
    assert set(_choices(alone)) == {name}
    assert set(_choices(build_parser())) == set(SUBCOMMANDS)


def test_an_unknown_command_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser(argv=["clen"]).parse_args(["clen"])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'clen'" in error
    assert all(repr(name) in error for name in SUBCOMMANDS)


def _choices(parser: object) -> list[str]:
    actions = getattr(parser, "_subparsers")._group_actions  # noqa: B009
    return list(actions[0].choices)
