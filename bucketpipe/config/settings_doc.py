"""The README's configuration table and `.env.example`, generated from the settings.

`python -m bucketpipe.config.settings_doc README.md .env.example` rewrites the README's table
between its markers and the whole `.env.example`; tests keep both in step with the settings.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bucketpipe.config.settings import Settings, env_name

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


ENV_HEADER = """\
# Every Bucketpipe setting, with its default. Copy to .env, uncomment what you change, and load
# it into your shell with `set -a; . ./.env; set +a` (Bucketpipe itself reads only the
# environment). Git ignores .env. In Kubernetes the secrets come from Secrets and the rest from
# the ConfigMap (k8s/); local/.env.example configures the Docker compose stack.
# Generated from bucketpipe/config/settings.py:
#   python -m bucketpipe.config.settings_doc README.md .env.example
"""


def _is_secret(field: str) -> bool:
    return "SecretStr" in str(Settings.model_fields[field].annotation)


def _env_default(field: str) -> str:
    text = _default(field)
    return "" if text == "unset" or " " in text else text.strip("`")


def _env_entry(field: str) -> str:
    description = (Settings.model_fields[field].description or "").replace("`", "")
    lines = [f"# {line}" for line in textwrap.wrap(description, 97)]
    return "\n".join([*lines, f"# {env_name(field)}={_env_default(field)}"])


def env_example() -> str:
    """`.env.example`: secrets first (never with a value), then every other setting."""
    fields = list(Settings.model_fields)
    secrets = [f for f in fields if _is_secret(f)]
    rest = [f for f in fields if not _is_secret(f)]
    parts = [ENV_HEADER, "# --- Secrets: put real values only in .env, never in git ---\n"]
    parts += [_env_entry(f) + "\n" for f in secrets]
    parts.append("# --- Settings ---\n")
    parts += [_env_entry(f) + "\n" for f in rest]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "README.md")
    path.write_text(replace_table(path.read_text()))
    if len(argv) > 1:
        Path(argv[1]).write_text(env_example())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
