"""The README's configuration table, generated from the settings (a test keeps them in step).

`python -m bucketpipe.settings_doc README.md` rewrites the table between its markers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bucketpipe.settings import Settings, env_name

START = "<!-- settings:start -->"
END = "<!-- settings:end -->"


def _default(field: str) -> str:
    info = Settings.model_fields[field]
    if info.default_factory is not None:
        if field == "temp_dir":
            return "system temp dir + `/bucketpipe`"
        value: Any = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    if value is None or value == "" or value == []:
        return "unset"
    if isinstance(value, SecretStr):
        return "unset"
    if isinstance(value, list):
        return "`" + ",".join(str(v) for v in value) + "`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def settings_table() -> str:
    """A Markdown table: variable, default, meaning."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for field, info in Settings.model_fields.items():
        description = (info.description or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{env_name(field)}` | {_default(field)} | {description} |")
    return "\n".join(lines)


def replace_table(text: str) -> str:
    """`text` with the block between the markers replaced by the current table."""
    head, sep, rest = text.partition(START)
    if not sep or END not in rest:
        raise ValueError(f"markers {START} / {END} not found")
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{settings_table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "README.md")
    path.write_text(replace_table(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
