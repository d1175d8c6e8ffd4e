"""Trusting a private CA (AWS_CA_BUNDLE) in clients that take no CA option."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bucketpipe.lake.tls import trust_ca_in_native_clients


def _private_ca(folder: Path) -> Path:
    private = folder / "ca.pem"
    private.write_text("-----BEGIN CERTIFICATE-----\nPRIVATE\n-----END CERTIFICATE-----\n")
    return private


def test_native_clients_trust_the_private_ca_beside_the_roots_they_had(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # delta-rs reads its roots from SSL_CERT_FILE: the private CA is added to what was trusted
    # before, never put in its place, and only once per process.
    roots = tmp_path / "roots.pem"
    roots.write_text("-----BEGIN CERTIFICATE-----\nROOTS\n-----END CERTIFICATE-----\n")
    private = _private_ca(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(roots))
    trust_ca_in_native_clients(str(private))
    bundle = Path(os.environ["SSL_CERT_FILE"])
    assert bundle != roots and bundle.read_text() == roots.read_text() + private.read_text()
    assert bundle.stat().st_mode & 0o077 == 0  # nobody else can read or replace it
    trust_ca_in_native_clients(str(private))
    assert Path(os.environ["SSL_CERT_FILE"]) == bundle
    bundle.unlink()


def test_without_ssl_cert_file_the_public_roots_come_from_certifi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import certifi

    private = _private_ca(tmp_path)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    trust_ca_in_native_clients(str(private))
    bundle = Path(os.environ["SSL_CERT_FILE"])
    text = bundle.read_text()
    assert text.startswith(Path(certifi.where()).read_text().rstrip("\n"))
    assert text.endswith(private.read_text())
    bundle.unlink()


def test_a_second_private_ca_extends_the_roots_not_the_first_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roots = tmp_path / "roots.pem"
    roots.write_text("-----BEGIN CERTIFICATE-----\nROOTS\n-----END CERTIFICATE-----\n")
    first, second = tmp_path / "one.pem", tmp_path / "two.pem"
    first.write_text("-----BEGIN CERTIFICATE-----\nONE\n-----END CERTIFICATE-----\n")
    second.write_text("-----BEGIN CERTIFICATE-----\nTWO\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(roots))
    trust_ca_in_native_clients(str(first))
    trust_ca_in_native_clients(str(second))
    bundle = Path(os.environ["SSL_CERT_FILE"])
    assert bundle.read_text() == roots.read_text() + second.read_text()
    bundle.unlink()


def _bundle_in_a_new_process(private: Path, env: dict[str, str]) -> Path:
    script = (
        "import os; from bucketpipe.lake.tls import trust_ca_in_native_clients; "
        f"trust_ca_in_native_clients({str(private)!r}); print(os.environ['SSL_CERT_FILE'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return Path(done.stdout.strip())


def test_processes_share_one_bundle_and_leave_no_file_per_run(tmp_path: Path) -> None:
    # A file per process, removed at exit, was left behind by every process a signal ended.
    private = _private_ca(tmp_path)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"} | {"TMPDIR": str(temp)}
    first = _bundle_in_a_new_process(private, env)
    assert first.parent == temp / f"bucketpipe-ca-{os.getuid()}" and first.is_file()
    assert first.parent.stat().st_mode & 0o077 == 0 and first.stat().st_mode & 0o077 == 0
    assert first.read_bytes().endswith(private.read_bytes())
    assert _bundle_in_a_new_process(private, env) == first
    # A child started with the bundle keeps it rather than extending it again.
    assert _bundle_in_a_new_process(private, env | {"SSL_CERT_FILE": str(first)}) == first
    assert {p.name for p in temp.rglob("*")} == {first.parent.name, first.name}


def test_a_bundle_folder_others_can_write_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another user who made the folder first (or opened it to all) could swap the bundle.
    private = _private_ca(tmp_path)
    temp = tmp_path / "tmp"
    shared = temp / f"bucketpipe-ca-{os.getuid()}"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    trust_ca_in_native_clients(str(private))
    bundle = Path(os.environ["SSL_CERT_FILE"])
    assert bundle.parent == temp and bundle.name.startswith("bucketpipe-ca-")
    assert bundle.stat().st_mode & 0o077 == 0 and list(shared.iterdir()) == []
    bundle.unlink()
