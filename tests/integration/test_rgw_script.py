"""local/rgw/rgw.sh itself: it stops exactly what it started, refuses what is not its own, and
in the foreground (a container's entry point) stops everything on SIGTERM. Runs with the RGW
switch only (it needs Ceph), over the switch's protocol."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.s3_servers import RGW_SCRIPT, RgwCluster, S3Server, free_port

pytestmark = [pytest.mark.integration, pytest.mark.rgw, pytest.mark.own_rgw]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def listening_addresses(pid: int) -> set[str]:
    """The local addresses of the TCP sockets `pid` listens on (from /proc/net/tcp)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
            address = bytes.fromhex(fields[1].split(":")[0])[::-1]
            found.add(".".join(str(b) for b in address))
    return found


def test_start_status_stop_stops_exactly_what_it_started(
    s3_server: S3Server, tmp_path: Path
) -> None:
    cluster = RgwCluster(tmp_path / "second", https=s3_server.kind == "rgw-https")
    second = cluster.start()
    try:
        assert second.endpoint != s3_server.endpoint and second.kind == s3_server.kind
        pids = json.loads((cluster.directory / "pids.json").read_text())
        assert set(pids) == {"mon", "osd", "rgw"} and all(alive(p) for p in pids.values())
        assert cluster.run("status").returncode == 0
        # Loopback only: every daemon listens on 127.0.0.1 and nowhere else.
        for pid in pids.values():
            assert listening_addresses(pid) <= {"127.0.0.1"}, pid
        again = cluster.run("start", "--port", str(free_port()))
        assert again.returncode == 1 and "already running" in again.stderr
        state = cluster.state()
        assert state["env"]["AWS_ENDPOINT_URL"] == second.endpoint
        assert ("AWS_CA_BUNDLE" in state["env"]) == (second.ca_bundle is not None)
    finally:
        stopped = cluster.run("stop")
    assert stopped.returncode == 0 and "stopped rgw, osd, mon" in stopped.stderr
    assert not any(alive(p) for p in pids.values())
    assert cluster.run("status").returncode == 3
    # The session's own cluster is not the script's to stop: it still answers.
    assert s3_server.client().list_buckets()["Owner"]["ID"] == "writer"
    # A stopped cluster's folder starts a fresh one (emptied in place: in a container it is a
    # volume's mount point), with new keys.
    try:
        fresh = cluster.start()
        assert fresh.writer.secret_key != second.writer.secret_key
        assert fresh.client().list_buckets()["Owner"]["ID"] == "writer"
    finally:
        cluster.stop()


def test_start_refuses_a_folder_that_is_not_its_own(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    refused = RgwCluster(tmp_path, https=False).run("start")
    assert refused.returncode == 1
    assert "not empty and holds no cluster of this script" in refused.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_foreground_runs_until_sigterm_then_stops_everything(
    s3_server: S3Server, tmp_path: Path
) -> None:
    folder = tmp_path / "fg"
    https = ["--https"] if s3_server.kind == "rgw-https" else []
    args = ["start", "--foreground", "--port", str(free_port()), "--dir", str(folder), *https]
    process = subprocess.Popen(
        [str(RGW_SCRIPT), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    cluster = RgwCluster(folder, https=bool(https))
    try:
        deadline = time.monotonic() + 120
        while not (folder / "state.json").exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "no cluster after 120 s"
            time.sleep(0.1)
        pids = json.loads((folder / "pids.json").read_text())
        assert cluster.run("status").returncode == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            cluster.stop()
    assert not any(alive(p) for p in pids.values())
    assert not (folder / "pids.json").exists()
