"""The Dockerfile and .dockerignore, checked statically (no Docker engine needed)."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

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


def pip_steps(stage: Any) -> list[str]:
    """Every `pip install` / `pip wheel` step of a stage, one string each."""
    steps = [step.strip() for c in run_commands(stage.instructions) for step in c.split("&&")]
    return [s for s in steps if re.search(r"\bpip (?:--python \S+ )?(?:install|wheel)\b", s)]


def test_multi_stage_on_one_slim_trixie_python_pinned_by_digest() -> None:
    assert len(STAGES) == 2
    assert (BUILDER.name, FINAL.name) == ("builder", "runtime")
    for stage in STAGES:
        repository, tag, digest = split_image(stage.base)
        assert repository == "docker.io/library/python"
        assert tag is not None and re.fullmatch(r"3\.11\.\d+-slim-trixie", tag), stage.base
        assert digest is not None and re.fullmatch(r"sha256:[0-9a-f]{64}", digest), stage.base
    assert BUILDER.base == FINAL.base  # the venv is copied: the same Python in both


def test_how_to_refresh_the_base_image_is_written_down() -> None:
    assert "PYTHON_IMAGE" in GLOBAL_ARGS
    assert "docker buildx imagetools inspect docker.io/library/python:3.11-slim-trixie" in TEXT


def test_no_stage_compiles_anything() -> None:
    """Every dependency is a published wheel: no compiler, no apt-get install, anywhere."""
    for stage in STAGES:
        for command in run_commands(stage.instructions):
            assert "apt-get install" not in command, command
            for compiler in COMPILERS:
                assert not re.search(rf"(^|\s){re.escape(compiler)}(\s|$)", command), command
        for step in pip_steps(stage):
            if " install " in f"{step} " and "--no-index" not in step:
                assert "--only-binary :all:" in step, step


def test_dependencies_come_only_from_the_hashed_lock_files() -> None:
    steps = pip_steps(BUILDER)
    locked = [s for s in steps if " -r " in s]
    assert {s.split(" -r ", 1)[1].split()[0] for s in locked} == {
        "requirements/build.lock",
        "requirements/runtime.lock",
    }
    for step in locked:
        assert "--require-hashes" in step and "--no-deps" in step, step
    for step in steps:
        if step in locked:
            continue
        # Else only bucketpipe's own wheel: built without fetching, installed without deps.
        assert "--no-deps" in step, step
        assert "--no-build-isolation" in step or "--no-index" in step, step
        assert " -e " not in step and "--editable" not in step, step
    commands = " ".join(run_commands(BUILDER.instructions))
    assert "pip --python /opt/bucketpipe/bin/python check" in commands
    assert "venv --without-pip /opt/bucketpipe" in commands


def test_the_final_stage_has_no_installer_and_copies_only_the_venv() -> None:
    commands = " ".join(run_commands(FINAL.instructions))
    assert not re.search(r"\bpip (install|wheel)\b", commands)
    for gone in (
        "/usr/local/lib/python3.11/site-packages/*",  # pip, setuptools, wheel
        "/usr/local/lib/python3.11/ensurepip",
        "/usr/local/bin/pip",
    ):
        assert gone in commands, gone
    assert "find_spec(m) for m in ('pip', 'setuptools', 'wheel', 'ensurepip')" in commands
    copies = [rest for keyword, rest in FINAL.instructions if keyword == "COPY"]
    assert copies == ["--from=builder /opt/bucketpipe /opt/bucketpipe"]


def test_the_venv_is_trimmed_of_tests_benchmarks_and_jupyter_assets() -> None:
    commands = " ".join(run_commands(BUILDER.instructions))
    for trimmed in (
        "share/jupyter",
        "etc/jupyter",
        "pydeck/nbextension/static",
        "plotly/package_data/plotly.min.js",
        "plotly/package_data/widgetbundle.js",
        "-name tests -o -name test",
    ):
        assert trimmed in commands, trimmed
    for module in ("tests", "benchmarks", "bucketpipe.bench", "pip", "setuptools"):
        assert f"'{module}'" in commands, f"the build does not check that {module} is absent"


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
        ("requirements/runtime.lock", False),
        ("requirements/build.in", True),
        ("local/rgw/rgw.sh", True),
        ("local/compose.yaml", True),
        ("local/.env", True),
        ("benchmarks/__main__.py", True),
        ("tests/support/fake_finnhub.py", True),
        ("bucketpipe/config/settings.py", False),
        ("jobs/cli.py", False),
        ("app/__init__.py", False),
        (".venv/bin/python", True),
        (".env", True),
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
