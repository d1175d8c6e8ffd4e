"""Checks on successful bodies that ingest reports on; cleaning does the real parsing."""

from __future__ import annotations

from typing import Any

from bucketpipe.ingest.finnhub.endpoints import Endpoint

_QUOTE_PRICES = ("c", "h", "l", "o", "pc")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    return "null" if value is None else type(value).__name__


def shape_error(ep: Endpoint, body: Any) -> str | None:
    """Why a 200 body cannot be this endpoint's answer, or None when its shape fits."""
    if _kind(body) != ep.body:
        return f"unexpected body: expected a JSON {ep.body}, got {_kind(body)}"
    if isinstance(body, dict) and set(body) == {"error"}:
        return f"error in a 200 answer: {str(body['error'])[:200]}"
    return None


def unknown_symbol_reason(ep: Endpoint, body: Any) -> str | None:
    """Why a body says its symbol is unknown to Finnhub (an all-zero quote, an empty profile)."""
    quote = ep.name == "quote" and isinstance(body, dict)
    if quote and all(not body.get(field) for field in _QUOTE_PRICES):
        return "quote of all zeros"
    if ep.name == "profile" and body == {}:
        return "empty profile"
    return None
