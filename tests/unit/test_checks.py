"""Doctor's check records and lines, and the bucket-policy principal of an RGW identity."""

import pytest

from bucketpipe.config.checks import Check, Status, exit_code, render
from bucketpipe.lake.grants import principal


def test_a_line_says_what_to_do_unless_the_check_passed() -> None:
    assert render(Check("clock", "pass", "within 1 s", "ignored"), 8) == "pass  clock    within 1 s"
    line = render(Check("redis", "warn", "Redis does not answer", "check REDIS_URL"), 8)
    assert line == "warn  redis    Redis does not answer: check REDIS_URL"
    assert render(Check("source", "skip", "unset", "x"), 8).endswith("unset")


@pytest.mark.parametrize(
    ("statuses", "code"),
    [(["pass", "skip"], 0), (["pass", "warn"], 0), (["warn", "fail", "pass"], 1), ([], 0)],
)
def test_only_a_failure_fails(statuses: list[Status], code: int) -> None:
    checks = [Check(f"c{i}", s, "") for i, s in enumerate(statuses)]
    assert exit_code(checks) == code


@pytest.mark.parametrize(
    ("owner_id", "grant"),
    [
        ("source", "arn:aws:iam:::user/source"),  # a user of the empty tenant
        ("project_2001234", "arn:aws:iam:::user/project_2001234"),
        ("proj2$proj2", "arn:aws:iam::proj2:root"),  # a user of tenant proj2
    ],
)
def test_the_principal_that_names_an_rgw_identity(owner_id: str, grant: str) -> None:
    assert principal(owner_id) == grant
