"""The Dockerfile and .dockerignore, checked statically (no Docker engine needed)."""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from bucketpipe.config.settings import all_env_names
from tests.deploy.deploy_helpers import (
    DOCKERFILE,
    ROOT,
    dockerfile_instructions,
    dockerfile_stages,
    final_stage_env,
    split_image,
)

TEXT = DOCKERFILE.read_text()
GLOBAL_ARGS, STAGES = dockerfile_stages(TEXT)
BUILDER, FINAL = STAGES[0], STAGES[-1]
COMPILERS = ("build-essential", "gcc", "g++", "clang", "make", "cmake", "rustc", "cargo")


def run_commands(stage_instructions: list[tuple[str, str]]) -> list[str]:
    return [rest for keyword, rest in stage_instructions if keyword == "RUN"]


def test_multi_stage_on_one_pinned_slim_python() -> None:
    assert len(STAGES) >= 2
    assert (BUILDER.name, FINAL.name) == ("builder", "runtime")
    for stage in STAGES:
        repository, tag, _ = split_image(stage.base)
        assert repository == "docker.io/library/python"
        assert tag is not None and re.fullmatch(r"3\.11\.\d+-slim-bookworm", tag), stage.base
    assert BUILDER.base == FINAL.base  # the venv is copied: the same Python in both


def test_the_base_image_digest_pin_is_documented() -> None:
    """The tag is pinned here; production pins the digest through the PYTHON_IMAGE build arg."""
    assert "PYTHON_IMAGE" in GLOBAL_ARGS
    assert f"--build-arg PYTHON_IMAGE={GLOBAL_ARGS['PYTHON_IMAGE']}@sha256:" in TEXT
    assert "docker buildx imagetools inspect" in TEXT


def test_the_final_stage_has_no_compilers_and_installs_nothing() -> None:
    for command in run_commands(FINAL.instructions):
        assert "apt-get install" not in command and "pip" not in command.split(), command
        for compiler in COMPILERS:
            assert not re.search(rf"(^|\s){re.escape(compiler)}(\s|$)", command), command
    copies = [rest for keyword, rest in FINAL.instructions if keyword == "COPY"]
    assert copies == ["--from=builder /opt/bucketpipe /opt/bucketpipe"]


def test_the_builder_builds_wheels_with_compilers_and_installs_non_editable() -> None:
    commands = " ".join(run_commands(BUILDER.instructions))
    assert "build-essential" in commands
    assert "pip wheel --wheel-dir /wheels" in commands
    assert "--no-index --find-links /wheels" in commands  # the venv install uses only the wheels
    assert " -e " not in commands and "--editable" not in commands
    # Only the project itself is installed: every version comes from pyproject.toml.
    steps = [step for command in run_commands(BUILDER.instructions) for step in command.split("&&")]
    for step in steps:
        for match in re.finditer(r"pip (?:--python \S+ )?(?:install|wheel)\s+(.*)", step):
            targets = [a for a in match[1].split() if not a.startswith("-") and a != "/wheels"]
            assert all(t.startswith(('"bucketpipe', '".')) for t in targets), targets


def test_httpfs_is_loaded_from_the_pinned_wheel_at_build_time() -> None:
    commands = " ".join(run_commands(BUILDER.instructions))
    assert "load_httpfs" in commands and "autoinstall_known_extensions': False" in commands
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(dep.split("==", 1) for dep in dependencies if "==" in dep)
    assert pins["duckdb"] == pins["duckdb-extension-httpfs"]


def test_runs_as_a_non_root_uid_in_group_zero_with_group_writable_paths() -> None:
    (user,) = [rest for keyword, rest in FINAL.instructions if keyword == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root UID lets runAsNonRoot verify it"
    assert gid == "0", "OpenShift's random UID is in group 0"
    setup = " ".join(run_commands(FINAL.instructions))
    assert f"--uid {uid} --gid 0" in setup
    env = final_stage_env()
    for path in (env["HOME"], env["BUCKETPIPE_TEMP_DIR"]):
        assert re.search(rf"chmod -R g=u [^&]*{re.escape(path)}", setup), path
        assert re.search(rf"chgrp -R 0 [^&]*{re.escape(path)}", setup), path


def test_home_caches_and_temp_are_writable_places() -> None:
    env = final_stage_env()
    home = env["HOME"]
    assert env["XDG_CACHE_HOME"].startswith(home + "/")
    assert env["XDG_CONFIG_HOME"].startswith(home + "/")  # Streamlit's ~/.streamlit is under HOME
    assert env["BUCKETPIPE_TEMP_DIR"].startswith("/tmp/")
    settings = set(all_env_names())
    assert {k for k in env if k.startswith("BUCKETPIPE_")} <= settings
    workdir = [rest for keyword, rest in FINAL.instructions if keyword == "WORKDIR"]
    assert workdir == [home]  # the embedded default lake (./lake) lands somewhere writable


def test_entrypoint_healthcheck_and_port() -> None:
    instructions = dict(FINAL.instructions)
    assert json.loads(instructions["ENTRYPOINT"]) == ["bucketpipe"]
    assert instructions["EXPOSE"] == "8501"
    healthcheck = instructions["HEALTHCHECK"]
    assert "http://127.0.0.1:8501/_stcore/health" in healthcheck
    assert "--start-period=" in healthcheck and "CMD [" in healthcheck


def test_copied_sources_exist_and_pass_the_dockerignore() -> None:
    ignore = DockerIgnore((ROOT / ".dockerignore").read_text())
    sources = []
    for keyword, rest in BUILDER.instructions:
        if keyword == "COPY" and not rest.startswith("--from"):
            sources += rest.split()[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignore.excluded(source), source
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["readme"]
    assert readme in sources  # the package build reads it


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("pyproject.toml", False),
        ("bucketpipe/config/settings.py", False),
        ("jobs/cli.py", False),
        ("app/__init__.py", False),
        (".venv/bin/python", True),
        (".env", True),
        ("local/.env", True),
        ("app/.streamlit/secrets.toml", True),
        ("bucketpipe/__pycache__/settings.cpython-311.pyc", True),
        ("lake/_snapshots/quotes/current.json", True),
        ("tests/conftest.py", True),
        ("k8s/kustomization.yaml", True),
        (".git/config", True),
    ],
)
def test_the_dockerignore_keeps_secrets_and_clutter_out(path: str, excluded: bool) -> None:
    ignore = DockerIgnore((ROOT / ".dockerignore").read_text())
    assert ignore.excluded(path) is excluded


class DockerIgnore:
    """.dockerignore semantics: patterns in order, the last match wins, `!` re-includes, a match
    on a parent directory applies to everything under it, `**` spans directories."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            pattern = line[1:] if negated else line
            self.rules.append((negated, re.compile(self._regex(pattern.strip("/")))))

    @staticmethod
    def _regex(pattern: str) -> str:
        out = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                out += ".*"
                i += 2
            elif pattern[i] == "*":
                out += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                out += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                out += pattern[i : end + 1]
                i = end + 1
            else:
                out += re.escape(pattern[i])
                i += 1
        return out + "$"

    def excluded(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for negated, regex in self.rules:
            if any(regex.match(candidate) for candidate in candidates):
                result = not negated
        return result


def test_the_dockerfile_parser_joins_continuations_and_drops_comments() -> None:
    parsed = dockerfile_instructions("# c\nFROM x AS y\nRUN a \\\n  # inner\n  && b\nUSER 1:0\n")
    assert parsed == [("FROM", "x AS y"), ("RUN", "a && b"), ("USER", "1:0")]
