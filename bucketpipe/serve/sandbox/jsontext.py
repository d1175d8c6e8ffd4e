"""JSON decoding that no nesting depth can break (parse trees of long expressions are deep)."""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<punct>[\[\]{}:,])
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<word>true|false|null)
    )""",
    re.VERBOSE | re.DOTALL,
)
_WORDS = {"true": True, "false": False, "null": None}


def loads(text: str) -> Any:
    """`json.loads`, falling back to an iterative decoder when the nesting is too deep."""
    try:
        return json.loads(text)
    except RecursionError:
        return loads_iteratively(text)


def loads_iteratively(text: str) -> Any:
    """Decode JSON with an explicit stack: any depth, no recursion."""
    stack: list[Any] = []  # open containers; a dict is paired with its pending key
    keys: list[str | None] = []
    result: Any = None
    done = False
    position = 0
    end = len(text.rstrip())
    while position < end:
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"invalid JSON at offset {position}")
        position = match.end()
        kind = match.lastgroup
        lexeme = match.group(kind or "punct")
        if kind == "punct":
            if lexeme in "[{":
                stack.append([] if lexeme == "[" else {})
                keys.append(None)
                continue
            if lexeme in "]}":
                value = stack.pop()
                keys.pop()
            else:  # ':' and ',' carry no value
                continue
        elif kind == "string":
            value = json.loads(lexeme)
            if stack and isinstance(stack[-1], dict) and keys[-1] is None:
                keys[-1] = value
                continue
        elif kind == "number":
            value = float(lexeme) if any(c in lexeme for c in ".eE") else int(lexeme)
        else:
            value = _WORDS[lexeme]
        if not stack:
            result, done = value, True
            continue
        container = stack[-1]
        if isinstance(container, list):
            container.append(value)
        else:
            container[keys[-1]] = value
            keys[-1] = None
    if not done or stack:
        raise ValueError("truncated JSON")
    return result
