"""What a TLS failure means for the user: Python's ssl (boto3, requests) and curl (DuckDB's
httpfs) word the same few problems differently; each maps to one line saying what to do."""

from __future__ import annotations

__all__ = ["CA_HINT", "tls_problem"]

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
        ("problem with the ssl ca cert", "error setting certificate"),
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
