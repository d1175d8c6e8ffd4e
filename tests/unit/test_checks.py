"""Doctor's check records and lines, and the bucket-policy principal of an RGW identity."""

import re
from pathlib import Path

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
        ("proj2$reader", "arn:aws:iam::proj2:user/reader"),  # user reader of tenant proj2
    ],
)
def test_the_principal_that_names_an_rgw_identity(owner_id: str, grant: str) -> None:
    assert principal(owner_id) == grant


def principals_in(cell: str) -> set[str]:
    """The principals a cell of docs/allas.md's table names, as templates (`{tenant}`, `{uid}`)."""
    named = re.findall(r"`([^`]+)`", cell)
    return {p.replace("uid", "{uid}").replace("::t:", "::{tenant}:") for p in named}


def test_the_docs_state_the_principals_the_rgw_tests_prove() -> None:
    """docs/allas.md's table and the deploy guide say what tests/integration/test_s3_access.py
    proves on Ceph RGW: which principals grant a user of the empty tenant or of a tenant."""
    from tests.integration.test_s3_access import PRINCIPALS, TENANT_PRINCIPALS

    root = Path(__file__).resolve().parents[2]
    table = (root / "docs" / "allas.md").read_text().splitlines()
    empty, tenant = [line for line in table if line.startswith("| user `uid` in")]
    everyone = {"arn:aws:iam:::root"}  # proven to grant, and named only to be avoided
    for row, proven in ((empty, PRINCIPALS), (tenant, TENANT_PRINCIPALS)):
        _, _who, grants, denies, _ = row.split("|")
        assert principals_in(grants) == {p for p, ok in proven if ok} - everyone
        assert principals_in(denies) == {p for p, ok in proven if not ok}
    guide = " ".join((root / "docs" / "deploy-rahti.md").read_text().split())
    assert "a user of the empty tenant as `arn:aws:iam:::user/<uid>`" in guide
    assert "for an ID `t$uid` the principal is `arn:aws:iam::t:user/uid`" in guide
    assert principal("t$uid") == "arn:aws:iam::t:user/uid"
    assert principal("uid") == "arn:aws:iam:::user/uid"
