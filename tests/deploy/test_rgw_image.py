"""local/rgw/Containerfile, checked statically (no container engine needed): what it installs,
that it carries every file rgw.sh runs, and that it starts the cluster the way compose does."""

from __future__ import annotations

import ast
import json
import subprocess

from tests.deploy.deploy_helpers import ROOT, dockerfile_instructions

RGW = ROOT / "local" / "rgw"
INSTRUCTIONS = dockerfile_instructions((RGW / "Containerfile").read_text())
# What the compose file runs (and what the image runs by default).
COMMAND = [
    "local/rgw/rgw.sh", "start", "--foreground", "--address", "0.0.0.0", "--port", "7480",
    "--dir", "/var/lib/rgw",
]  # fmt: skip


def argument(keyword: str) -> str:
    found = [rest for kw, rest in INSTRUCTIONS if kw == keyword]
    assert len(found) == 1, (keyword, found)
    return found[0]


def test_debian_trixie_slim_with_the_ceph_packages() -> None:
    assert argument("FROM") == "docker.io/library/debian:trixie-slim"
    install = next(rest for kw, rest in INSTRUCTIONS if kw == "RUN" and "apt-get" in rest)
    for package in ("ceph-mon", "ceph-osd", "radosgw", "ceph-common", "python3", "openssl"):
        assert f" {package} " in f" {install} ", package
    assert "--no-install-recommends" in install and "rm -rf /var/lib/apt/lists/*" in install


def test_it_copies_the_script_and_every_module_it_imports() -> None:
    sources = argument("COPY").split()
    destination = sources.pop()
    assert destination == "local/rgw/" and argument("WORKDIR").startswith("/")
    local = {p.stem for p in RGW.glob("*.py")}
    imported = set()
    for path in RGW.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in local:
                imported.add(node.module)
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names if a.name in local}
    assert {"rgw.sh", "rgw.py", *(f"{m}.py" for m in imported)} == set(sources)


def test_it_starts_the_cluster_as_compose_does_and_checks_it() -> None:
    assert json.loads(argument("CMD")) == COMMAND
    assert argument("EXPOSE") == "7480" and argument("STOPSIGNAL") == "SIGTERM"
    health = argument("HEALTHCHECK")
    assert '"local/rgw/rgw.sh", "status", "--dir", "/var/lib/rgw"' in health


def test_the_command_parses_with_the_script() -> None:
    """rgw.py's own parser accepts the image's command (`--help` after it stops short of
    starting anything)."""
    script = [str(RGW / "rgw.py"), *COMMAND[1:], "--help"]
    done = subprocess.run(
        ["python3", *script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "--foreground" in done.stdout
