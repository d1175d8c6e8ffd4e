"""Just enough S3 for setting the cluster up: SigV4-signed requests with the standard library.

The container image has no boto3, and radosgw-admin cannot create buckets or set bucket
policies, so the few calls `start` needs are signed here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ssl
import urllib.error
import urllib.request
from urllib.parse import quote, urlsplit

REGION = "us-east-1"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    method: str, url: str, body: bytes, access_key: str, secret_key: str, now: dt.datetime
) -> dict[str, str]:
    """The headers of an AWS Signature Version 4 request (service s3, region us-east-1)."""
    parts = urlsplit(url)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": parts.netloc, "x-amz-content-sha256": payload, "x-amz-date": stamp}
    query = "&".join(
        sorted(f"{quote(k, safe='')}={quote(v, safe='')}" for k, _, v in _pairs(parts.query))
    )
    names = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method,
            quote(parts.path or "/", safe="/-_.~"),
            query,
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            names,
            payload,
        ]
    )
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (day, REGION, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    return headers


def _pairs(query: str) -> list[tuple[str, str, str]]:
    return [part.partition("=") for part in query.split("&") if part]


def call(
    method: str,
    url: str,
    access_key: str,
    secret_key: str,
    body: bytes = b"",
    ca_file: str | None = None,
) -> tuple[int, bytes]:
    """Send one signed request; (HTTP status, body) whatever the status."""
    headers = sign(method, url, body, access_key, secret_key, dt.datetime.now(dt.UTC))
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an S3 endpoint URL: {url}")
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers)  # noqa: S310
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:  # noqa: S310
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
