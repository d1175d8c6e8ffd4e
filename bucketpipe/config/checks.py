"""One check of a deployment (`bucketpipe doctor`): its outcome and what to do about it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Check", "Status", "exit_code", "render"]

Status = Literal["pass", "warn", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    """`pass`, `warn` (works, but worth changing), `fail` (must be fixed) or `skip` (does not
    apply to this configuration). `fix` says what to do when it is not a pass."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def exit_code(checks: Iterable[Check]) -> int:
    """0 when nothing failed (warnings allowed), else 1."""
    return 1 if any(c.status == "fail" for c in checks) else 0


def render(check: Check, width: int = 17) -> str:
    """One line: status, name, what was found and, unless it passed, what to do."""
    line = f"{check.status:<4}  {check.name:<{width}} {check.detail}"
    if check.fix and check.status in ("warn", "fail"):
        line = f"{line}: {check.fix}"
    return line
