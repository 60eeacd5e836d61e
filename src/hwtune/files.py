"""Reading the TOML and JSON files a user or the package names, capped, with errors naming the file.

At the bottom layer beside `errors` and `fsroot`: profiles, check texts, health patterns, guard
rules, bench runs, journals' readers and `--from-bench` all read through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwtune.errors import ConfigError, parse_json, parse_toml
from hwtune.fsroot import read_path

# Caps for a TOML or JSON file a user names (docs/security.md, "Read caps"): each parses within
# 1 s of CPU on a 2-vCPU VM whatever it holds (benchmarks/hostile_inputs.py): tomllib is pure
# Python, ~0.6 s a MiB of arrays of inline tables; json's C parser ~0.2 s for 8 MiB of small
# objects, and as much again for the lone-surrogate test when the text has a surrogate escape.
MAX_TOML_BYTES = 256 * 1024
MAX_JSON_BYTES = 8 * 1024 * 1024


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML data file, or a ConfigError naming the file (profiles, check texts)."""
    try:
        return parse_toml(read_path(path, MAX_TOML_BYTES).decode("utf-8"), path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def read_json_file(path: str | Path) -> Any:
    """A JSON input file, or a ConfigError naming the file (bench runs, journals, --from-bench)."""
    try:
        return parse_json(read_path(path, MAX_JSON_BYTES).decode("utf-8"), path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
