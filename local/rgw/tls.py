"""A private CA and a server certificate signed by it, made with the openssl command."""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = "30"  # a throwaway cluster's certificate never needs to live long
CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Certificates:
    ca: Path  # what AWS_CA_BUNDLE points at
    cert: Path
    key: Path


def _alt_names(names: list[str]) -> str:
    entries = []
    for name in names:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            entries.append(f"DNS:{name}")
        else:
            entries.append(f"IP:{name}")
    return ",".join(entries)


def _openssl(*argv: str) -> None:
    try:
        done = subprocess.run(["openssl", *argv], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RuntimeError("openssl is not installed (apt-get install openssl)") from None
    if done.returncode != 0:
        raise RuntimeError(f"openssl {argv[0]} failed: {done.stderr.strip()[-300:]}")


def make_certificates(folder: Path, names: list[str]) -> Certificates:
    """A CA (strict X.509 extensions, so strict verifiers accept it) and a server certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr = folder / "server.pem", folder / "server.key", folder / "server.csr"
    _openssl("req", "-x509", *CURVE, "-keyout", str(ca_key), "-out", str(ca), "-days", DAYS,
             "-subj", "/CN=Bucketpipe throwaway RGW CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash")  # fmt: skip
    _openssl("req", "-new", *CURVE, "-keyout", str(key), "-out", str(csr),
             "-subj", f"/CN={names[0]}")  # fmt: skip
    extensions = folder / "server.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
        f"subjectAltName={_alt_names(names)}\n"
    )
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(cert), "-days", DAYS,
             "-extfile", str(extensions))  # fmt: skip
    for private in (ca_key, key):
        private.chmod(0o600)
    csr.unlink()
    return Certificates(ca=ca, cert=cert, key=key)
