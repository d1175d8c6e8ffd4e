"""What a TLS failure means for the user: Python's ssl (boto3, requests) and curl (DuckDB's
httpfs) word the same few problems differently; each maps to one line saying what to do."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from bucketpipe.config.errors import ConfigError

__all__ = [
    "CA_HINT",
    "EndpointTlsError",
    "fail_fast_on_tls",
    "tls_problem",
    "trust_ca_in_native_clients",
]

CA_HINT = "set AWS_CA_BUNDLE to the PEM file of the CA that signed it"

# What TLS failures say (Python's ssl module, and curl inside DuckDB's httpfs) -> what they mean.
_TLS_PROBLEMS = (
    (  # before "certificate verify failed", which Python's message for this also holds
        ("hostname mismatch", "doesn't match", "not valid for"),
        "the S3 endpoint's TLS certificate does not name the host in AWS_ENDPOINT_URL: use a "
        "host name the certificate lists",
    ),
    (
        ("certificate verify failed", "ssl peer certificate", "self-signed", "self signed",
         "unable to get local issuer", "unable to verify the first certificate"),
        f"the S3 endpoint's TLS certificate is not trusted: {CA_HINT}",
    ),
    (
        ("problem with the ssl ca cert", "error setting certificate",
         "no certificate or crl found", "pem lib"),
        "the CA file in AWS_CA_BUNDLE cannot be used: it must be a readable PEM file",
    ),
    (
        ("wrong version number", "ssl connect error", "packet length too long"),
        "the S3 endpoint does not speak TLS there: check http:// or https:// and the port in "
        "AWS_ENDPOINT_URL",
    ),
)  # fmt: skip


def tls_problem(message: str) -> str | None:
    """What a TLS failure means for the user, in one line, or None if it is no TLS failure."""
    lowered = message.lower()
    for needles, meaning in _TLS_PROBLEMS:
        if any(needle in lowered for needle in needles):
            return meaning
    return None


class EndpointTlsError(ConfigError):
    """TLS with an S3 endpoint failed for a reason only the settings can fix (exit code 2).
    `endpoint` is the URL the client was talking to, None when DuckDB's httpfs (which reads
    only the lake) reported it."""

    def __init__(self, message: str, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint


def fail_fast_on_tls(caught_exception: BaseException | None = None, **_: Any) -> None:
    """botocore's `needs-retry` hook: a certificate that did not verify will not verify on the
    next attempt either, so end the retries at once (8 attempts would take 7 s) by raising it."""
    from botocore.exceptions import SSLError

    if isinstance(caught_exception, SSLError) and tls_problem(str(caught_exception)):
        raise caught_exception


_TRUSTED: dict[str, str] = {}  # private CA file -> the bundle made for it in this process
_ROOTS: dict[str, str | None] = {}  # a bundle made here -> the SSL_CERT_FILE it extended


def trust_ca_in_native_clients(ca_bundle: str) -> None:
    """Make clients that read the trust store from the environment trust `ca_bundle` too.

    delta-rs (the Delta mirror, through Rust's object_store) takes no CA option: it loads the
    roots in SSL_CERT_FILE, else the system's. This points SSL_CERT_FILE at a bundle of those
    roots (the operator's SSL_CERT_FILE if set, else certifi's public roots) plus the private
    CA, so every endpoint trusted before stays trusted; a second private CA extends the
    operator's roots, not the first CA's bundle. A process started with a bundle that already
    holds the CA (a job's child) keeps it.

    The bundle is named by its content, in a folder only this user can read or write, so every
    process of a pod shares one file and a killed process leaves nothing behind (a file per
    process, removed at exit, piled up from every run ended by a signal).
    """
    written = _TRUSTED.get(ca_bundle)
    if written is not None and written == os.environ.get("SSL_CERT_FILE"):
        return
    private = Path(ca_bundle).read_bytes()
    current = os.environ.get("SSL_CERT_FILE")
    if current and current not in _ROOTS and _holds(current, private):
        _TRUSTED[ca_bundle] = current
        return
    current = _ROOTS.get(current, current) if current else None
    if current and Path(current).is_file():
        roots = Path(current).read_bytes()
    else:
        import certifi

        roots = Path(certifi.where()).read_bytes()
    path = _bundle_file(roots.rstrip(b"\n") + b"\n" + private)
    _ROOTS[path] = current
    os.environ["SSL_CERT_FILE"] = _TRUSTED[ca_bundle] = path


def _holds(bundle: str, private: bytes) -> bool:
    try:
        return private.strip() in Path(bundle).read_bytes()
    except OSError:
        return False


def _bundle_file(content: bytes) -> str:
    """The path of a file holding `content`: `<tmp>/bucketpipe-ca-<uid>/<sha256>.pem`, written
    once (atomically) and reused; a private file removed at exit if that folder is not this
    user's alone."""
    folder = Path(tempfile.gettempdir()) / f"bucketpipe-ca-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        path = _private_file(content, prefix="bucketpipe-ca-", suffix=".pem")
        atexit.register(_remove, path)
        return path
    target = folder / f"{hashlib.sha256(content).hexdigest()}.pem"
    with contextlib.suppress(OSError):
        if target.read_bytes() == content:
            return str(target)
    os.replace(_private_file(content, dir=folder, suffix=".partial"), target)
    return str(target)


def _private_file(
    content: bytes, *, suffix: str, prefix: str | None = None, dir: Path | None = None
) -> str:
    """A new file holding `content` that only this user can read or replace (`mkstemp`)."""
    fd, path = tempfile.mkstemp(suffix=suffix, prefix=prefix, dir=dir)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    return path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
