"""The parts of local/rgw/ that need no Ceph: its SigV4 signer and its private CA."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import socket
import ssl
import sys
import threading
from pathlib import Path
from types import ModuleType

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

RGW_DIR = Path(__file__).resolve().parents[2] / "local" / "rgw"


def load(name: str) -> ModuleType:
    """A module of local/rgw/ (a script folder, not a package), loaded by path."""
    spec = importlib.util.spec_from_file_location(f"rgw_{name}", RGW_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("PUT", "http://127.0.0.1:7480/bucketpipe", b""),
        ("PUT", "https://localhost:7480/bucketpipe-source?policy", b'{"Version": "2012-10-17"}'),
        ("GET", "http://127.0.0.1:7480/", b""),
    ],
)
def test_the_signature_is_the_one_botocore_computes(method: str, url: str, body: bytes) -> None:
    s3call = load("s3call")
    payload = hashlib.sha256(body).hexdigest()
    request = AWSRequest(method=method, url=url, data=body)
    request.headers["x-amz-content-sha256"] = payload
    credentials = Credentials("AKEXAMPLE", "secret/example+key")
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)  # signs at the current time
    when = dt.datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")

    ours = s3call.sign(method, url, body, "AKEXAMPLE", "secret/example+key", when)
    assert ours["x-amz-content-sha256"] == payload
    assert ours["authorization"] == request.headers["Authorization"]


def test_a_non_http_url_is_refused() -> None:
    with pytest.raises(ValueError, match="not an S3 endpoint"):
        load("s3call").call("GET", "file:///etc/passwd", "k", "s")


def test_the_private_ca_signs_a_certificate_strict_clients_accept(tmp_path: Path) -> None:
    """A real TLS handshake on loopback, verified against the CA with X.509 strict checks."""
    certs = load("tls").make_certificates(tmp_path / "tls", ["localhost", "127.0.0.1"])
    assert oct(certs.key.stat().st_mode & 0o777) == "0o600"

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certs.cert, certs.key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    names = ("127.0.0.1", "localhost")

    def serve() -> None:
        for _ in names:
            connection, _ = listener.accept()
            with server_context.wrap_socket(connection, server_side=True) as tls:
                tls.sendall(b"ok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_context = ssl.create_default_context(cafile=str(certs.ca))
    client_context.verify_flags |= ssl.VERIFY_X509_STRICT
    for name in names:
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            client_context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.recv(2) == b"ok"
    thread.join(timeout=5)
    listener.close()
