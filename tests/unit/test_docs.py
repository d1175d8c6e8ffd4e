"""The README and the guides: every relative link resolves, every command they show exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bucketpipe.jobs.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{doc.name} links to missing files: {broken}"


def readme_commands() -> list[list[str]]:
    """Every `bucketpipe ...` line in the README's shell blocks, without the comment."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            for part in line.split("#", 1)[0].split("&&"):
                words = shlex.split(part)
                if words[:1] == ["bucketpipe"]:
                    commands.append(words[1:])
    return commands


def test_readme_commands_parse_with_the_real_parser() -> None:
    commands = readme_commands()
    assert len(commands) >= 7
    parser = build_parser()
    for words in commands:
        args = parser.parse_args(words)
        assert getattr(args, "handler", None) is not None, words


def test_readme_has_exactly_the_two_set_up_commands_first() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
