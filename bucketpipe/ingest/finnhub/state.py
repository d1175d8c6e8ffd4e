"""What earlier runs fetched and what the API plan refused, kept in the bucket under
`_state/finnhub/`: one document per symbol (owned by one shard at a time), one for the
market-wide endpoints (shard 0), and one per refused dataset and API key.

State is written only after a run's commit, so a run that fails fetches the same things again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime
from urllib.parse import quote

from pydantic import BaseModel, Field, ValidationError

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake.layout import state_key
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)

ROOT = "finnhub"


class SymbolState(BaseModel):
    """One symbol: when each dataset was last fetched, and how far company news reaches."""

    symbol: str
    fetched: dict[str, datetime] = Field(default_factory=dict)
    news_through: date | None = None


class MarketState(BaseModel):
    """The market-wide endpoints: last fetch per unit and the newest news id per category."""

    fetched: dict[str, datetime] = Field(default_factory=dict)
    news_min_id: dict[str, int] = Field(default_factory=dict)


class Denial(BaseModel):
    """A dataset the API plan refused (HTTP 403), and when."""

    dataset: str
    path: str
    denied_at: datetime
    message: str


class FinnhubState(BaseModel):
    """Everything one run needs to know about earlier runs."""

    symbols: dict[str, SymbolState] = Field(default_factory=dict)
    market: MarketState = Field(default_factory=MarketState)
    denials: dict[str, Denial] = Field(default_factory=dict)

    def symbol(self, symbol: str) -> SymbolState:
        return self.symbols.get(symbol) or SymbolState(symbol=symbol)


def symbol_key(symbol: str) -> str:
    return state_key(ROOT, "symbols", f"{quote(symbol, safe='')}.json")


def market_key() -> str:
    return state_key(ROOT, "market.json")


def denials_prefix(key_id: str) -> str:
    """Denials are per API key: a new (paid) key is not held back by an old key's refusals."""
    return state_key(ROOT, "entitlements", key_id) + "/"


def denial_key(key_id: str, dataset: str) -> str:
    return f"{denials_prefix(key_id)}{dataset}.json"


class StateStore:
    """Loads and saves Finnhub state documents; unreadable documents count as absent."""

    def __init__(self, store: ObjectStore, key_id: str) -> None:
        self.store = store
        self.key_id = key_id

    def _read(self, key: str, model: type[BaseModel]) -> BaseModel | None:
        try:
            data = self.store.get(key)
        except ObjectNotFound:
            return None
        try:
            return model.model_validate_json(data)
        except ValidationError as exc:
            log.warning(
                "unreadable Finnhub state ignored; its data is fetched again",
                extra={"key": key, "error": str(exc).splitlines()[0]},
            )
            return None

    def load(self, symbols: Iterable[str]) -> FinnhubState:
        state = FinnhubState()
        for symbol in symbols:
            doc = self._read(symbol_key(symbol), SymbolState)
            if isinstance(doc, SymbolState):
                state.symbols[symbol] = doc
        market = self._read(market_key(), MarketState)
        if isinstance(market, MarketState):
            state.market = market
        for info in self.store.list_objects(denials_prefix(self.key_id)):
            denial = self._read(info.key, Denial)
            if isinstance(denial, Denial):
                state.denials[denial.dataset] = denial
        return state

    def save(self, before: FinnhubState, after: FinnhubState) -> int:
        """Write the documents that changed; the number written (or deleted)."""
        writes = 0
        for symbol, doc in after.symbols.items():
            if before.symbols.get(symbol) != doc:
                self._put(symbol_key(symbol), doc)
                writes += 1
        if after.market != before.market:
            self._put(market_key(), after.market)
            writes += 1
        for dataset, denial in after.denials.items():
            if before.denials.get(dataset) != denial:
                self._put(denial_key(self.key_id, dataset), denial)
                writes += 1
        lifted = [denial_key(self.key_id, d) for d in before.denials if d not in after.denials]
        if lifted:
            self.store.delete(lifted)
            writes += len(lifted)
        return writes

    def _put(self, key: str, doc: BaseModel) -> None:
        self.store.put(key, doc.model_dump_json(indent=1).encode(), "application/json")
