"""S3 answers mapped to Bucketpipe's errors by their error code and HTTP status, never by the
words of their message."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from bucketpipe.config.errors import (
    ObjectNotFound,
    PreconditionFailed,
    StorageError,
    StorageUnavailable,
)
from bucketpipe.lake.storage import _client_error


def answer(code: str, status: int, message: str = "") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutObject",
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("PreconditionFailed", 412),
        ("ConditionalRequestConflict", 409),
        ("", 412),  # an S3-compatible store that sends the status and no code
    ],
)
def test_a_taken_key_is_told_by_its_code_or_status(code: str, status: int) -> None:
    error = _client_error(answer(code, status), "PUT k", "s3://b/p")
    assert isinstance(error, PreconditionFailed)
    assert str(error) == "PUT k: the object already exists in s3://b/p"


def test_a_message_that_names_a_precondition_is_not_one() -> None:
    error = _client_error(answer("AccessDenied", 403, "PreconditionFailed"), "PUT k", "s3://b")
    assert type(error) is StorageError
    assert "AccessDenied" in str(error)


def test_missing_objects_and_server_errors_keep_their_own_types() -> None:
    assert isinstance(_client_error(answer("NoSuchKey", 404), "GET k", "s3://b"), ObjectNotFound)
    assert isinstance(_client_error(answer("SlowDown", 503), "GET k", "s3://b"), StorageUnavailable)
