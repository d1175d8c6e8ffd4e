"""The run's account of each endpoint (calls, successes, errors, skips) and of unknown symbols,
written into the run manifest's `endpoints` and `details`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bucketpipe.ingest.finnhub.bodies import shape_error, unknown_symbol_reason
from bucketpipe.ingest.finnhub.client import Reply, describe_failure
from bucketpipe.ingest.finnhub.cursors import Result
from bucketpipe.ingest.finnhub.endpoints import Endpoint
from bucketpipe.ingest.finnhub.plan import Call, DatasetPlan, PlanStatus
from bucketpipe.ingest.finnhub.state import Denial
from bucketpipe.lake.runs import RunStatus

EndpointStatus = Literal["ok", "not_entitled", "failed", "skipped", "not_due"]
MAX_ERRORS = 50


@dataclass
class EndpointTally:
    """One dataset's endpoint in one run."""

    endpoint: Endpoint
    plan_status: PlanStatus
    message: str | None = None
    planned: int = 0
    calls: int = 0
    ok: int = 0
    errors: int = 0
    skipped: int = 0
    retries: int = 0
    denied: bool = False
    http: Counter[int] = field(default_factory=Counter)  # the final status of each call
    responses: Counter[int] = field(default_factory=Counter)  # every attempt's status
    skip_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def status(self) -> EndpointStatus:
        if self.plan_status != "due":
            return self.plan_status
        if self.denied:
            return "not_entitled"
        if self.errors:
            return "failed"
        return "ok" if self.ok else "skipped"

    def to_manifest(self) -> dict[str, Any]:
        message = self.message
        if self.skip_reasons:
            skips = "; ".join(f"{n} skipped: {why}" for why, n in self.skip_reasons.items())
            message = f"{message}; {skips}" if message else skips
        return {
            "endpoint": self.endpoint.name,
            "path": self.endpoint.path,
            "status": self.status,
            "premium": self.endpoint.premium,
            "planned": self.planned,
            "calls": self.calls,
            "ok": self.ok,
            "errors": self.errors,
            "skipped": self.skipped,
            "retries": self.retries,
            "http": {str(code): n for code, n in sorted(self.http.items())},
            "responses": {str(code): n for code, n in sorted(self.responses.items())},
            "message": message,
        }


class Tally:
    """Counts every call of a run and keeps what state and the manifest need."""

    def __init__(self, plans: Iterable[DatasetPlan]) -> None:
        self.endpoints: dict[str, EndpointTally] = {}
        for plan in plans:
            tally = EndpointTally(plan.endpoint, plan.status, plan.message, len(plan.calls))
            self.endpoints[plan.dataset] = tally
        self.results: list[Result] = []
        self.denials: dict[str, Denial] = {}
        self.unknown: dict[str, list[str]] = {}
        self.errors: list[str] = []
        self.failed_calls = 0
        self.auth_failed = False

    def is_denied(self, dataset: str) -> bool:
        return self.endpoints[dataset].denied

    def record(self, call: Call, reply: Reply) -> str | None:
        """Count one finished call; what was wrong with it (None when it succeeded)."""
        tally = self.endpoints[call.dataset]
        tally.calls += 1
        tally.retries += reply.attempts - 1
        tally.http[reply.status] += 1
        tally.responses.update(reply.statuses or (reply.status,))
        problem = shape_error(call.endpoint, reply.body) if reply.ok else reply.error
        self.results.append(Result(call, problem is None, reply.body))
        if problem is None:
            tally.ok += 1
            reason = unknown_symbol_reason(call.endpoint, reply.body)
            if reason is not None:
                self.unknown.setdefault(call.unit, []).append(reason)
            return None
        if reply.outcome == "not_entitled":
            tally.denied = True
            tally.message = f"not in the API plan: {reply.error}"
            self.denials[call.dataset] = Denial(
                dataset=call.dataset,
                path=call.endpoint.path,
                denied_at=reply.requested_at,
                message=problem,
            )
            return problem
        tally.errors += 1
        self.failed_calls += 1
        self.auth_failed = self.auth_failed or reply.outcome == "unauthorized"
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(describe_failure(replace(reply, error=problem)))
        return problem

    def skip(self, call: Call, reason: str) -> None:
        tally = self.endpoints[call.dataset]
        tally.skipped += 1
        tally.skip_reasons[reason] += 1

    @property
    def ok_calls(self) -> int:
        return sum(t.ok for t in self.endpoints.values())

    def run_status(self) -> RunStatus:
        if not self.failed_calls:
            return "succeeded"
        return "partial" if self.ok_calls else "failed"

    def manifest_endpoints(self) -> dict[str, dict[str, Any]]:
        return {name: tally.to_manifest() for name, tally in self.endpoints.items()}

    def all_errors(self) -> list[str]:
        hidden = self.failed_calls - len(self.errors)
        return self.errors + ([f"... and {hidden} more failed calls"] if hidden > 0 else [])

    def summary(self) -> dict[str, str]:
        return {name: tally.status for name, tally in self.endpoints.items()}
