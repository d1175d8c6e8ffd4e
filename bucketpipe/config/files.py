"""Reading a file a setting names (the clean config, the source mapping): bounded, UTF-8, and
any failure one line that names the setting."""

from __future__ import annotations

from bucketpipe.config.errors import ConfigError

# A configuration file is a few KB; a setting pointing at `/dev/zero` or a data file must not
# hold the command reading until the kernel kills it.
MAX_CONFIG_BYTES = 1 << 20


def read_config_file(path: str, setting: str) -> str:
    """The text of the file `setting` names; ConfigError (exit 2) when it cannot be read,
    is larger than `MAX_CONFIG_BYTES` or is not UTF-8."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path} ({exc.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{setting}: {path} is larger than 1 MiB (a configuration file)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{setting}: {path} is not UTF-8 text") from None
