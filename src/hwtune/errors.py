"""The one domain exception and the documented exit codes.

The CLI turns a HwtuneError into its exit code at one place; the core never
exits or prints.
"""

from __future__ import annotations

# Exit codes (documented in README.md and in `hwtune --help`).
EXIT_OK = 0
EXIT_FINDINGS = 1  # a check FAILed or ERRORed (or WARNed with --fail-on warn)
EXIT_USAGE = 2  # bad usage, configuration or input file
EXIT_NEEDS_ROOT = 3  # the live system needs root for this
EXIT_APPLY_FAILED = 4  # a write failed; every change was undone
EXIT_UNDO_FAILED = 5  # a write failed and an undo failed too: the host is partly changed
EXIT_NOT_VALID = 6  # measured, but not valid (a LoadGen run INVALID, --tune found nothing within the SLO)
EXIT_INTERNAL = 70  # an error hwtune did not foresee: a bug (EX_SOFTWARE of sysexits.h)


class HwtuneError(Exception):
    """An error a user can act on: a one-line message and an exit code."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(HwtuneError):
    """A profile, check file, model or option is malformed or unknown (exit 2)."""

    exit_code = EXIT_USAGE


class ParseError(HwtuneError):
    """Text from the kernel, a tool or a file could not be parsed.

    Parsers raise only this; probes turn it into an unavailable fact with the
    message as the reason.
    """

    exit_code = EXIT_USAGE


class NeedsRoot(HwtuneError):
    exit_code = EXIT_NEEDS_ROOT


def read_toml(path) -> dict:
    """A TOML data file, or a ConfigError naming the file (profiles, check texts)."""
    import tomllib

    from hwtune.fsroot import read_path

    try:
        return tomllib.loads(read_path(path).decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def read_json_file(path):
    """A JSON input file, or a ConfigError naming the file (bench runs, journals, --from-bench)."""
    import json

    from hwtune.fsroot import read_path

    try:
        return json.loads(read_path(path).decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON: {exc.msg} at line {exc.lineno}") from None
