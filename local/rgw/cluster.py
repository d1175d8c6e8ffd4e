"""The daemons of the throwaway cluster: configuration, start order, users and buckets, stop."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import IO, Any

import s3call
from tls import make_certificates

# Created before radosgw starts: radosgw would create them one by one, each waiting on the mon.
POOLS = (
    ".rgw.root",
    "default.rgw.control",
    "default.rgw.meta",
    "default.rgw.log",
    "default.rgw.buckets.index",
    "default.rgw.buckets.data",
    "default.rgw.buckets.non-ec",
)
LAKE_BUCKET = "bucketpipe"
SOURCE_BUCKET = "bucketpipe-source"
STOP_ORDER = ("rgw", "osd", "mon")

CONF = """\
[global]
fsid = {fsid}
mon host = v1:127.0.0.1:{mon_port}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
# A throwaway cluster on loopback: no cephx between its own daemons (S3 keys still apply).
auth cluster required = none
auth service required = none
auth client required = none
run dir = {dir}/run
admin socket = {dir}/run/$name.asok
pid file = {dir}/run/$name.pid
log file = {dir}/log/$name.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
# One monitor proposes at once instead of batching for a second: pools appear in milliseconds.
paxos propose interval = 0.01
paxos min wait = 0.001
debug ms = 0

[mon]
mon data = {dir}/mon/$name

[osd]
osd data = {dir}/osd/$name
osd objectstore = memstore
memstore device bytes = {memstore_bytes}
osd max object name len = 460
osd max object namespace len = 64
osd crush update on start = false
osd class update on start = false

[client.rgw]
rgw frontends = {frontend}
rgw enable apis = s3, admin
rgw thread pool size = 64
rgw enable usage log = false
# Bucketpipe sets no lifecycle rules; the idle lifecycle worker would hold up stop by 5 s.
rgw enable lc threads = false
# Deleted objects' tails give their memory back within minutes, not hours.
rgw gc obj min wait = 60
rgw gc processor period = 60
rgw data = {dir}/rgw
"""


class StartError(Exception):
    """Start cannot go on; the message says why (and where the logs are)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(address: str, port: int) -> bool:
    with socket.socket() as sock:
        # As radosgw binds: a port in TIME_WAIT after a stop counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def daemon_alive(pid: int, path: Path) -> bool:
    """True if `pid` is a live daemon of the cluster in `path` (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and str(path / "ceph.conf").encode() in cmdline


def stop_daemons(path: Path, grace: float = 10.0) -> list[str]:
    """SIGTERM radosgw, then the OSD, then the mon, each waited for (SIGKILL after `grace`)."""
    pids_file = path / "pids.json"
    try:
        pids: dict[str, int] = json.loads(pids_file.read_text())
    except FileNotFoundError:
        return []
    stopped = []
    for name in STOP_ORDER:
        pid = pids.get(name)
        if pid is None or not daemon_alive(pid, path):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while daemon_alive(pid, path) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if daemon_alive(pid, path):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
        stopped.append(name)
    pids_file.unlink(missing_ok=True)
    return stopped


def _reap(pid: int) -> None:
    """Collect the exit status of our own child (foreground mode); others are init's."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


class Cluster:
    """One mon, one memstore OSD and radosgw in `path`, started in that order."""

    def __init__(
        self,
        path: Path,
        *,
        address: str,
        port: int,
        https: bool,
        extra_names: list[str],
        memstore_bytes: int = 8 * 1024**3,
    ) -> None:
        self.path = path
        self.address = address
        self.port = port or (7480 if port_free(address, 7480) else free_port())
        if not port_free(address, self.port):
            raise StartError(f"port {self.port} on {address} is taken: choose another --port")
        self.https = https
        self.extra_names = extra_names
        self.memstore_bytes = memstore_bytes
        self.conf = path / "ceph.conf"
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.ca_bundle: str | None = None
        self.timings: dict[str, float] = {}
        self._began = time.monotonic()

    def _mark(self, step: str) -> None:
        """How long start took up to the end of each step (recorded in state.json)."""
        self.timings[step] = round(time.monotonic() - self._began, 3)

    @property
    def endpoint(self) -> str:
        host = "127.0.0.1" if self.address in ("0.0.0.0", "::") else self.address  # noqa: S104
        return f"{'https' if self.https else 'http'}://{host}:{self.port}"

    def start(self) -> dict[str, Any]:
        for sub in ("run", "log", "mon/mon.a", "osd/osd.0", "rgw"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        frontend = self._frontend()
        fsid = str(uuid.uuid4())
        mon_port = free_port()
        self.conf.write_text(
            CONF.format(
                fsid=fsid,
                mon_port=mon_port,
                dir=self.path,
                frontend=frontend,
                memstore_bytes=self.memstore_bytes,
            )
        )
        monmap = self.path / "monmap"
        self._run("monmaptool", "--create", "--fsid", fsid, "--addv", "a",
                  f"[v1:127.0.0.1:{mon_port}]", str(monmap))  # fmt: skip
        self._run("ceph-mon", "--mkfs", "-i", "a", "--monmap", str(monmap))
        self._spawn("mon", "ceph-mon", "-i", "a")
        self._mark("mon")
        osd_uuid = str(uuid.uuid4())
        mkfs = self._popen("ceph-osd", "--mkfs", "-i", "0", "--osd-uuid", osd_uuid)
        client = self._mon_setup(osd_uuid)
        self._mark("pools")
        try:
            if mkfs.wait(timeout=60) != 0:
                raise StartError(f"ceph-osd --mkfs failed: see {self.path / 'log' / 'osd.0.log'}")
            self._spawn("osd", "ceph-osd", "-i", "0")
            # radosgw started before the OSD is up in the map waits for its next map poll.
            self._wait_for_osd(client)
            self._mark("osd")
        finally:
            client.shutdown()
        self._spawn("rgw", "radosgw", "-n", "client.rgw")
        self._wait_for_rgw()
        self._mark("radosgw")
        users = self._create_users()
        self._mark("users")
        self._create_buckets(users)
        self._mark("buckets")
        state = {
            "endpoint": self.endpoint,
            "https": self.https,
            "ca_bundle": self.ca_bundle,
            "address": self.address,
            "port": self.port,
            "lake_bucket": LAKE_BUCKET,
            "source_bucket": SOURCE_BUCKET,
            "users": users,
            "start_seconds": self.timings,
        }
        written = self.path / "state.json"
        written.touch(mode=0o600)  # the users' secret keys
        written.write_text(json.dumps(state, indent=2))
        return state

    def _frontend(self) -> str:
        if not self.https:
            return f"beast endpoint={self.address}:{self.port} tcp_nodelay=1"
        try:
            tls = make_certificates(self.path / "tls", self._cert_names())
        except RuntimeError as exc:
            raise StartError(str(exc)) from None
        self.ca_bundle = str(tls.ca)
        return (
            f"beast ssl_endpoint={self.address}:{self.port} ssl_certificate={tls.cert} "
            f"ssl_private_key={tls.key} tcp_nodelay=1"
        )

    def _cert_names(self) -> list[str]:
        names = ["localhost", "127.0.0.1", socket.gethostname(), *self.extra_names]
        if self.address not in ("0.0.0.0", "::", "127.0.0.1"):  # noqa: S104
            names.append(self.address)
        return list(dict.fromkeys(names))

    # --- processes ------------------------------------------------------------------------
    def _popen(self, *argv: str, log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                [argv[0], "-c", str(self.conf), *argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=log or subprocess.DEVNULL,
                stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
                start_new_session=True,  # outlives this script: `stop` ends it
            )
        except FileNotFoundError:
            raise StartError(f"{argv[0]} is not installed (run through rgw.sh)") from None

    def _run(self, *argv: str) -> str:
        command = [argv[0], *(["-c", str(self.conf)] if argv[0] != "monmaptool" else []), *argv[1:]]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise StartError(f"{argv[0]} {argv[1]} failed: {tail[0]}")
        return done.stdout

    def _spawn(self, name: str, *argv: str) -> None:
        with (self.path / "log" / f"{name}.out").open("ab") as log:
            child = self._popen(*argv, "-f", log=log)
        self.children[name] = child
        pids_file = self.path / "pids.json"
        pids = json.loads(pids_file.read_text()) if pids_file.exists() else {}
        pids[name] = child.pid
        pids_file.write_text(json.dumps(pids))

    def first_dead(self) -> str | None:
        """The first daemon that has exited (foreground mode watches its children)."""
        return next((n for n, c in self.children.items() if c.poll() is not None), None)

    def _mon_setup(self, osd_uuid: str) -> Any:
        """Register the OSD and create the pools; the mon client stays open for later."""
        try:
            import rados  # python3-rados, part of ceph-common
        except ImportError:
            raise StartError("python3-rados is missing: run through rgw.sh") from None
        client = self._mon_client(rados)
        try:
            self._mon(client, prefix="osd new", uuid=osd_uuid, id=0)
            # Placed here, not by the OSD at boot: an OSD that sends mon commands while its
            # monmap is not yet complete gets "wrong fsid" and exits.
            self._mon(client, prefix="osd crush add", id=0, weight=1.0,
                      args=["root=default", "host=rgw"])  # fmt: skip
            for pool in POOLS:
                pgs = 8 if "buckets" in pool else 4
                self._mon(client, prefix="osd pool create", pool=pool, pg_num=pgs, pgp_num=pgs)
                self._mon(client, prefix="osd pool application enable", pool=pool, app="rgw")
        except BaseException:
            client.shutdown()
            raise
        return client

    def _wait_for_osd(self, client: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = self.first_dead()
            if dead:
                raise StartError(f"{dead} exited during start: see {self.path / 'log'}")
            code, out, _message = client.mon_command(
                json.dumps({"prefix": "osd dump", "format": "json"}), b""
            )
            if code == 0 and any(osd.get("up") for osd in json.loads(out)["osds"]):
                return
            time.sleep(0.02)
        raise StartError(f"the OSD did not come up in {timeout:.0f} s: see {self.path / 'log'}")

    def _mon_client(self, rados: Any) -> Any:
        """A client of the new mon, once the mon has sent it the cluster's map."""
        deadline = time.monotonic() + 30
        while True:
            client = rados.Rados(conffile=str(self.conf), name="client.admin")
            client.connect(timeout=30)
            # A client that connects while the mon is still forming its first map holds an
            # empty fsid and every command it sends is refused: connect again.
            code, _out, message = client.mon_command(json.dumps({"prefix": "status"}), b"")
            if code == 0:
                return client
            client.shutdown()
            if time.monotonic() > deadline:
                raise StartError(f"the mon does not take commands: {message}")
            time.sleep(0.05)

    @staticmethod
    def _mon(client: Any, **command: Any) -> None:
        code, _out, message = client.mon_command(json.dumps(command), b"", timeout=30)
        if code != 0:
            raise StartError(f"mon command {command['prefix']!r} failed: {message}")

    def _wait_for_rgw(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = self.first_dead()
            if dead:
                raise StartError(f"{dead} exited during start: see {self.path / 'log'}")
            if self.answers(self.endpoint, self.ca_bundle):
                return
            time.sleep(0.05)
        raise StartError(f"radosgw did not answer in {timeout:.0f} s: see {self.path / 'log'}")

    @staticmethod
    def answers(endpoint: str, ca_bundle: str | None) -> bool:
        """True once the S3 endpoint answers HTTP (any status) with a verified certificate."""
        context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
        try:
            # S310: the endpoint is the http(s) URL this script made.
            with urllib.request.urlopen(endpoint + "/", timeout=2, context=context):  # noqa: S310
                return True
        except urllib.error.HTTPError:
            return True
        except (OSError, ssl.SSLError):
            return False

    # --- users and buckets ----------------------------------------------------------------
    def _create_users(self) -> dict[str, dict[str, str]]:
        users = {name: _keys(name) for name in ("writer", "reader", "source", "owner")}
        made = []
        for uid in ("writer", "source", "owner"):
            keys = users[uid]
            made.append(self._popen("radosgw-admin", "user", "create", "--uid", uid,
                                    "--display-name", uid, "--max-buckets", "0",
                                    "--access-key", keys["access_key"],
                                    "--secret-key", keys["secret_key"]))  # fmt: skip
        if any(p.wait(timeout=60) != 0 for p in made):
            raise StartError(f"radosgw-admin user create failed: see {self.path / 'log'}")
        # The reader is a read-only key of the writer's account, as a second key of an Allas
        # project would be if Allas had read-only keys: it reads every lake bucket, writes none.
        reader = users["reader"]
        self._run(
            "radosgw-admin", "subuser", "create", "--uid", "writer", "--subuser", "writer:reader",
            "--access", "read", "--key-type", "s3",
            "--access-key", reader["access_key"], "--secret-key", reader["secret_key"],
        )  # fmt: skip
        return users

    def _create_buckets(self, users: dict[str, dict[str, str]]) -> None:
        self._s3("PUT", LAKE_BUCKET, users["writer"])
        self._s3("PUT", SOURCE_BUCKET, users["owner"])
        policy = source_policy(SOURCE_BUCKET, users["source"]["uid"])
        self._s3("PUT", f"{SOURCE_BUCKET}?policy", users["owner"], json.dumps(policy).encode())

    def _s3(self, method: str, target: str, user: dict[str, str], body: bytes = b"") -> None:
        url = f"{self.endpoint}/{target}"
        status, answer = s3call.call(
            method, url, user["access_key"], user["secret_key"], body, self.ca_bundle
        )
        if status >= 300:
            raise StartError(f"{method} /{target} answered {status}: {answer[:200]!r}")


def _keys(uid: str) -> dict[str, str]:
    return {
        "uid": uid,
        "access_key": f"{uid.upper()}{secrets.token_hex(8).upper()}",
        "secret_key": secrets.token_urlsafe(30),
    }


def source_policy(bucket: str, uid: str) -> dict[str, Any]:
    """Read access for user `uid` of the empty tenant (as another Allas project grants it)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam:::user/{uid}"]},
                "Action": ["s3:ListBucket", "s3:GetObject", "s3:GetBucketLocation"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
