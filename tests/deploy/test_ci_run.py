""".ci/run on a machine without Ceph: as root it installs the packages with apt, then runs
`make test` and `make test-rgw`, and CI fails with either's exit code, pytest's 5 (no tests
selected) included. The commands it calls are stand-ins on PATH that record their arguments."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.deploy_helpers import ROOT

CI_RUN = ROOT / ".ci" / "run"
CEPH = ("ceph-mon", "ceph-osd", "radosgw", "monmaptool")

STAND_IN = """#!/bin/sh
echo "$(basename "$0") $*" >> "$CALLS"
case "$(basename "$0") $*" in
  "id -u") echo "$AS_UID" ;;
  "make test-rgw") exit "$TEST_RGW_EXIT" ;;
  "apt-get install"*)  # what installing the packages puts on PATH
    for binary in ceph-mon ceph-osd radosgw monmaptool; do
      cp "$0" "$(dirname "$0")/$binary"
    done ;;
esac
exit 0
"""


def machine(tmp_path: Path, present: tuple[str, ...]) -> Path:
    """A PATH with the shell's tools and stand-ins for `present`, make, apt-get and id."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "basename", "cp"):
        real = shutil.which(tool)
        assert real is not None, tool
        (bin_dir / tool).symlink_to(real)
    for name in ("make", "apt-get", "id", "redis-server", "chromium", "openssl", *present):
        stand_in = bin_dir / name
        stand_in.write_text(STAND_IN)
        stand_in.chmod(0o755)
    return bin_dir


def run_ci(
    tmp_path: Path, *, present: tuple[str, ...], uid: int, test_rgw_exit: int = 0
) -> tuple[int, list[str], str]:
    calls = tmp_path / "calls"
    env = {
        "PATH": str(machine(tmp_path, present)),
        "CALLS": str(calls),
        "AS_UID": str(uid),
        "TEST_RGW_EXIT": str(test_rgw_exit),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [str(CI_RUN)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return done.returncode, recorded, done.stderr


def test_as_root_it_installs_ceph_then_runs_both_test_targets(tmp_path: Path) -> None:
    code, calls, _ = run_ci(tmp_path, present=("ceph-mon",), uid=0)
    assert code == 0
    install = next(call for call in calls if call.startswith("apt-get install"))
    assert all(package in install.split() for package in (*CEPH[:3], "ceph-common"))
    makes = [call for call in calls if call.startswith("make")]
    assert makes == ["make test", "make test-rgw"]
    assert calls.index(install) < calls.index("make test")


def test_with_ceph_installed_nothing_is_installed(tmp_path: Path) -> None:
    code, calls, _ = run_ci(tmp_path, present=CEPH, uid=1000)
    assert code == 0
    assert not any(call.startswith("apt-get") for call in calls)
    assert "radosgw --version" in calls


def test_not_root_and_missing_ceph_says_what_to_install(tmp_path: Path) -> None:
    code, calls, stderr = run_ci(tmp_path, present=(), uid=1000)
    assert code == 1
    assert "radosgw" in stderr and "apt-get install" in stderr
    assert not any(call.startswith(("apt-get", "make")) for call in calls)


@pytest.mark.parametrize("exit_code", [1, 5])
def test_a_failing_or_empty_rgw_run_fails_ci(tmp_path: Path, exit_code: int) -> None:
    """Exit code 5 is pytest's "no tests collected": CI must not pass on it."""
    code, _, _ = run_ci(tmp_path, present=CEPH, uid=0, test_rgw_exit=exit_code)
    assert code == exit_code


def test_make_test_rgw_runs_the_s3_tests_over_http_and_https() -> None:
    """Both runs select the S3 tests; nothing after them could turn a failure into a pass."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest-rgw:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    assert [line.split()[0] for line in recipe] == [
        "BUCKETPIPE_TEST_S3=rgw",
        "BUCKETPIPE_TEST_S3=rgw-https",
    ]
    for line in recipe:
        assert line.startswith("\t") and "-m s3" in line
        # make's `-` prefix, `|| true` or `; ...` would hide pytest's exit code
        assert not line[1:].startswith("-") and "||" not in line and ";" not in line
    assert os.access(CI_RUN, os.X_OK)
