"""Trusting a private CA (AWS_CA_BUNDLE) in clients that take no CA option."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bucketpipe.lake.tls import trust_ca_in_native_clients


def test_native_clients_trust_the_private_ca_beside_the_roots_they_had(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # delta-rs reads its roots from SSL_CERT_FILE: the private CA is added to what was trusted
    # before, never put in its place, and only once per process.
    roots = tmp_path / "roots.pem"
    roots.write_text("-----BEGIN CERTIFICATE-----\nROOTS\n-----END CERTIFICATE-----\n")
    private = tmp_path / "ca.pem"
    private.write_text("-----BEGIN CERTIFICATE-----\nPRIVATE\n-----END CERTIFICATE-----\n")
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

    private = tmp_path / "ca.pem"
    private.write_text("-----BEGIN CERTIFICATE-----\nPRIVATE\n-----END CERTIFICATE-----\n")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    trust_ca_in_native_clients(str(private))
    bundle = Path(os.environ["SSL_CERT_FILE"])
    text = bundle.read_text()
    assert text.startswith(Path(certifi.where()).read_text().rstrip("\n"))
    assert text.endswith(private.read_text())
    bundle.unlink()
