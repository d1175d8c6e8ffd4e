"""A throwaway single-node Ceph RGW (the S3 server under CSC Allas) for tests and local runs.

Run it through rgw.sh, which installs the Ceph packages first. One monitor, one OSD keeping its
objects in memory (memstore) and radosgw with the beast frontend, all on loopback unless
--address says otherwise; `stop` stops exactly the processes `start` recorded in the directory.

  start  [--dir D] [--address A] [--port P] [--https] [--san NAME]... [--foreground]
  stop   [--dir D]
  env    [--dir D] [--json]        the endpoint and keys as shell exports (or JSON)
  status [--dir D]                 exit 0 when every daemon runs and the endpoint answers, else 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cluster import Cluster, StartError, daemon_alive, stop_daemons

MARKER = ".bucketpipe-rgw"


def default_dir() -> Path:
    """RGW_DIR, else one directory per user under the temp dir, so start/stop/env agree."""
    configured = os.environ.get("RGW_DIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"bucketpipe-rgw-{os.getuid()}"


def say(message: str) -> None:
    sys.stderr.write(f"rgw: {message}\n")


def fail(message: str, code: int = 1) -> int:
    say(message)
    return code


def prepare_dir(path: Path) -> None:
    """An empty directory for a new cluster; a stopped cluster of ours is wiped (throwaway)."""
    if path.exists() and any(path.iterdir()):
        if not (path / MARKER).exists():
            raise StartError(f"{path} is not empty and holds no cluster of this script")
        if running_daemons(path):
            raise StartError(f"a cluster is already running in {path}: run `stop --dir {path}`")
        # Its contents, not the folder: in a container the folder is often a volume's mount point.
        for entry in path.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)  # state.json holds the users' secret keys
    (path / MARKER).write_text("a throwaway Ceph RGW cluster made by local/rgw/rgw.sh\n")


def running_daemons(path: Path) -> dict[str, int]:
    pids = read_json(path / "pids.json") or {}
    return {name: pid for name, pid in pids.items() if daemon_alive(pid, path)}


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        value: dict[str, Any] = json.loads(path.read_text())
        return value
    except FileNotFoundError:
        return None


def interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM during start: stop what was started, like Ctrl-C


def cmd_start(args: argparse.Namespace) -> int:
    path = Path(args.dir).resolve()
    began = time.monotonic()
    signal.signal(signal.SIGTERM, interrupt)
    try:
        prepare_dir(path)
        cluster = Cluster(
            path,
            address=args.address,
            port=args.port,
            https=args.https,
            extra_names=args.san,
        )
        try:
            state = cluster.start()
        except BaseException:
            stop_daemons(path)
            raise
    except StartError as exc:
        return fail(f"start failed: {exc}")
    except KeyboardInterrupt:
        return fail("start interrupted; stopped what it had started", 130)
    say(
        f"RGW ready at {state['endpoint']} in {time.monotonic() - began:.1f} s "
        f"({path}); `rgw.sh env --dir {path}` prints the keys"
    )
    if not args.foreground:
        return 0
    return run_foreground(path, cluster)


def run_foreground(path: Path, cluster: Cluster) -> int:
    """Stay up until SIGTERM/SIGINT (a container's stop) or until a daemon dies, then stop."""
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    dead = None
    while not stopping.wait(1.0):
        dead = cluster.first_dead()
        if dead:
            say(f"{dead} exited; stopping the rest (logs in {path / 'log'})")
            break
    stop_daemons(path)
    say("stopped")
    return 1 if dead else 0


def cmd_stop(args: argparse.Namespace) -> int:
    path = Path(args.dir).resolve()
    if not (path / MARKER).exists():
        return fail(f"no cluster of this script in {path}")
    stopped = stop_daemons(path)
    say(f"stopped {', '.join(stopped) if stopped else 'nothing (not running)'}")
    return 0


def exports(state: dict[str, Any]) -> dict[str, str]:
    """The settings a Bucketpipe process reads, by their environment names."""
    users = state["users"]
    values = {
        "AWS_ENDPOINT_URL": state["endpoint"],
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": users["writer"]["access_key"],
        "AWS_SECRET_ACCESS_KEY": users["writer"]["secret_key"],
        "BUCKETPIPE_LAKE": f"s3://{state['lake_bucket']}/lake",
        "BUCKETPIPE_READER_ACCESS_KEY_ID": users["reader"]["access_key"],
        "BUCKETPIPE_READER_SECRET_ACCESS_KEY": users["reader"]["secret_key"],
        "BUCKETPIPE_SOURCE": f"s3://{state['source_bucket']}",
        "BUCKETPIPE_SOURCE_ACCESS_KEY_ID": users["source"]["access_key"],
        "BUCKETPIPE_SOURCE_SECRET_ACCESS_KEY": users["source"]["secret_key"],
        # The other project that owns the source bucket: drop files in with these.
        "RGW_OWNER_ACCESS_KEY_ID": users["owner"]["access_key"],
        "RGW_OWNER_SECRET_ACCESS_KEY": users["owner"]["secret_key"],
    }
    if state["ca_bundle"]:
        values["AWS_CA_BUNDLE"] = state["ca_bundle"]
    return values


def cmd_env(args: argparse.Namespace) -> int:
    path = Path(args.dir).resolve()
    state = read_json(path / "state.json")
    if state is None:
        return fail(f"no started cluster in {path}: run `rgw.sh start --dir {path}` first")
    if args.json:
        sys.stdout.write(json.dumps({**state, "env": exports(state)}, indent=2) + "\n")
    else:
        for name, value in exports(state).items():
            sys.stdout.write(f"export {name}={value}\n")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    path = Path(args.dir).resolve()
    pids = read_json(path / "pids.json") or {}
    state = read_json(path / "state.json") or {}
    alive = running_daemons(path)
    for name in ("mon", "osd", "rgw"):
        pid = pids.get(name)
        line = f"running (pid {pid})" if name in alive else "stopped"
        sys.stdout.write(f"{name}: {line}\n")
    endpoint = state.get("endpoint")
    answers = bool(endpoint) and Cluster.answers(endpoint, state.get("ca_bundle"))
    sys.stdout.write(f"endpoint: {endpoint or '-'} {'answers' if answers else 'does not answer'}\n")
    return 0 if answers and len(alive) == 3 else 3


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rgw.sh", description=__doc__.split("\n", 1)[0])
    sub = top.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a new cluster (wipes a stopped one in --dir)")
    start.add_argument("--address", default="127.0.0.1", help="where radosgw listens")
    start.add_argument("--port", type=int, default=0, help="default: 7480 when free, else any")
    start.add_argument("--https", action="store_true", help="TLS with a generated private CA")
    start.add_argument("--san", action="append", default=[], help="extra certificate name")
    start.add_argument("--foreground", action="store_true", help="run until SIGTERM")
    env = sub.add_parser("env", help="print the endpoint and keys as shell exports")
    env.add_argument("--json", action="store_true")
    sub.add_parser("stop", help="stop the daemons start recorded, radosgw first")
    sub.add_parser("status", help="say what runs")
    for command in sub.choices.values():
        command.add_argument("--dir", default=str(default_dir()), help="the cluster's directory")
    return top


def main() -> int:
    args = parser().parse_args()
    handlers = {"start": cmd_start, "stop": cmd_stop, "env": cmd_env, "status": cmd_status}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
