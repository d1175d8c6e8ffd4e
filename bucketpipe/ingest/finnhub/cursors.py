"""How state advances after a committed run (pure): what counts as fetched, where the news
cursors move, which 403s are recorded or lifted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bucketpipe.ingest.finnhub.plan import Call
from bucketpipe.ingest.finnhub.state import Denial, FinnhubState


@dataclass(frozen=True)
class Result:
    """How one planned call ended, as far as state is concerned."""

    call: Call
    ok: bool
    body: Any = None


def _max_news_id(body: Any) -> int | None:
    if not isinstance(body, list):
        return None
    ids = [item["id"] for item in body if isinstance(item, dict) and type(item.get("id")) is int]
    return max(ids, default=None)


def advance(
    state: FinnhubState,
    results: Iterable[Result],
    now: datetime,
    *,
    denied: Mapping[str, Denial] | None = None,
) -> FinnhubState:
    """The state after a committed run: units whose calls all succeeded count as fetched at
    `now`, news cursors move through what arrived, new 403s are recorded and datasets that
    answered again are cleared of their old ones."""
    new = state.model_copy(deep=True)
    units: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for result in results:
        units[(result.call.dataset, result.call.unit)].append(result)
    answered = set()
    for (dataset, unit), group in units.items():
        if any(r.ok for r in group):
            answered.add(dataset)
        complete = all(r.ok for r in group)
        if group[0].call.endpoint.scope == "market":
            _advance_market(new, dataset, unit, group, complete, now)
            continue
        doc = new.symbols.setdefault(unit, new.symbol(unit))
        if dataset == "company_news":
            for result in sorted(group, key=lambda r: r.call.window or (now.date(), now.date())):
                if not result.ok or result.call.window is None:
                    break
                doc.news_through = result.call.window[1]
        if complete:
            doc.fetched[dataset] = now
    for dataset in answered:
        new.denials.pop(dataset, None)
    new.denials.update(denied or {})
    return new


def _advance_market(
    state: FinnhubState, dataset: str, unit: str, group: list[Result], ok: bool, now: datetime
) -> None:
    if not ok:
        return
    state.market.fetched[unit] = now
    if dataset == "market_news":
        category = unit.partition(":")[2]
        newest = [i for i in (_max_news_id(r.body) for r in group) if i is not None]
        if newest:
            old = state.market.news_min_id.get(category, 0)
            state.market.news_min_id[category] = max(old, *newest)
