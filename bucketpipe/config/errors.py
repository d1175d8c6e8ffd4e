"""Bucketpipe's exceptions.

BucketpipeError                 every error Bucketpipe raises on purpose
├── TransientError              worth retrying: 429, 5xx, timeouts, connection resets
│   ├── StorageUnavailable      the object store did not answer after retries
│   └── RateLimited             the API said 429 and retries ran out
└── TerminalError               retrying will not help; the message says what to do
    ├── ConfigError             a setting is missing or wrong (exit code 2)
    ├── StorageError            bucket missing, access denied, bad endpoint
    │   ├── ObjectNotFound      a key that should exist does not
    │   └── PreconditionFailed  a create-if-absent write found the key taken (HTTP 412)
    ├── CommitConflict          another writer committed the same snapshot version
    ├── LockBusy                another run holds the writer lock
    ├── NotEntitled             the API plan does not include an endpoint (403)
    ├── AuthenticationFailed    the API key was rejected (401)
    └── QueryRefused            user SQL that the sandbox does not allow
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "BucketpipeError",
    "CommitConflict",
    "ConfigError",
    "LockBusy",
    "NotEntitled",
    "ObjectNotFound",
    "PreconditionFailed",
    "QueryRefused",
    "RateLimited",
    "StorageError",
    "StorageUnavailable",
    "TerminalError",
    "TransientError",
]


class BucketpipeError(Exception):
    """Base of every error Bucketpipe raises on purpose."""


class TransientError(BucketpipeError):
    """A failure that may go away if the same call is tried again later."""


class TerminalError(BucketpipeError):
    """A failure that retrying will not fix; the message tells the user what to do."""


class ConfigError(TerminalError):
    """A setting is missing or invalid."""


class StorageError(TerminalError):
    """The object store refused a request (bad bucket, credentials, endpoint)."""


class StorageUnavailable(TransientError):
    """The object store did not answer, even after retries."""


class ObjectNotFound(StorageError):
    """A key that should exist does not."""


class PreconditionFailed(StorageError):
    """A conditional write (`If-None-Match: *`) found the key already taken (HTTP 412)."""


class CommitConflict(TerminalError):
    """Another writer committed the snapshot version this writer meant to commit."""


class LockBusy(TerminalError):
    """Another run holds the writer lock."""


class NotEntitled(TerminalError):
    """The API plan does not include this endpoint (HTTP 403)."""


class AuthenticationFailed(TerminalError):
    """The API key was rejected (HTTP 401)."""


class RateLimited(TransientError):
    """HTTP 429 persisted through every retry."""


class QueryRefused(TerminalError):
    """User SQL that the sandbox does not allow, or that failed; the message says why."""
