"""The image's lock files (requirements/*.lock, written by `make lock`): every line pinned with
hashes, every runtime dependency present at the version pyproject.toml pins, nothing missing from
the dependency tree, and a build backend that can build the project."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.deploy_helpers import ROOT

RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
BUILD_LOCK = ROOT / "requirements" / "build.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The image: CPython 3.11 on x86-64 Linux (the lock is compiled for it, see the Makefile).
IMAGE_ENVIRONMENT = {
    **default_environment(),
    "python_version": "3.11",
    "python_full_version": "3.11.14",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def parse_lock(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """name -> (version, hashes); fails on anything but `name==version` with hashes."""
    entries: dict[str, tuple[Version, list[str]]] = {}
    logical = re.sub(r"\\\n", " ", path.read_text())
    for line in logical.splitlines():
        line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if not line:
            continue
        requirement, *options = line.split()
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", requirement)
        assert match, f"{path.name}: not pinned exactly: {line}"
        hashes = [o for o in options if HASH.fullmatch(o)]
        assert hashes and len(hashes) == len(options), f"{path.name}: {match[1]} without hashes"
        entries[canonicalize_name(match[1])] = (Version(match[2]), hashes)
    return entries


LOCKED = parse_lock(RUNTIME_LOCK)


def runtime_requirements() -> list[Requirement]:
    """What bucketpipe asks for at runtime: its dependencies plus the dashboard extra."""
    project = PYPROJECT["project"]
    return [Requirement(r) for r in project["dependencies"]] + [
        Requirement(r) for r in project["optional-dependencies"]["dashboard"]
    ]


def test_every_line_is_an_exact_pin_with_hashes() -> None:
    for path in (RUNTIME_LOCK, BUILD_LOCK):
        assert parse_lock(path), path.name
    text = RUNTIME_LOCK.read_text()
    assert not re.search(r"^\s*(-e|--index-url|--extra-index-url|--find-links)\b", text, re.M)
    assert "file://" not in text and "git+" not in text


def test_the_lock_pins_what_pyproject_pins() -> None:
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in LOCKED, f"{name} is a dependency but not in the lock: run `make lock`"
        version, _ = LOCKED[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}: pyproject.toml says {requirement.specifier}, the lock {version}: run "
            "`make lock`"
        )


def test_the_lock_holds_the_whole_dependency_tree() -> None:
    """Walk the requirements through the installed packages' metadata (the dev environment has
    the same direct pins): every package reached must be in the lock, so `pip install --no-deps
    --require-hashes` in the Dockerfile leaves nothing out (its `pip check` proves it again)."""
    seen: set[str] = set()
    pending = [(r, frozenset[str]()) for r in runtime_requirements()]
    while pending:
        requirement, extras = pending.pop()
        markers = requirement.marker
        if markers is not None and not any(
            markers.evaluate({**IMAGE_ENVIRONMENT, "extra": extra}) for extra in extras or {""}
        ):
            continue
        name = canonicalize_name(requirement.name)
        assert name in LOCKED, f"{name} is needed at runtime but missing from the lock"
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for child in metadata.requires(requirement.name) or []:
            pending.append((Requirement(child), frozenset(requirement.extras)))
    assert len(seen) >= 40


def test_the_build_lock_builds_the_project() -> None:
    build = parse_lock(BUILD_LOCK)
    for required in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(required)
        name = canonicalize_name(requirement.name)
        assert name in build, f"{name} builds the wheel but is not in requirements/build.lock"
        assert requirement.specifier.contains(build[name][0]), name
    # A license given as a plain string (PEP 639) needs setuptools 77 or later.
    if isinstance(PYPROJECT["project"].get("license"), str):
        assert build["setuptools"][0] >= Version("77")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("requests>=2.31\n", "not pinned exactly"),
        ("requests==2.34.2\n", "without hashes"),
        ("requests==2.34.2 \\\n    --hash=md5:abc\n", "without hashes"),
    ],
)
def test_the_lock_parser_rejects_loose_lines(tmp_path: Path, text: str, problem: str) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text(text)
    with pytest.raises(AssertionError, match=problem):
        parse_lock(lock)
