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
# measured, but not valid (a LoadGen run INVALID, bench tune or serve --tune found nothing within the SLO)
EXIT_NOT_VALID = 6
EXIT_INTERNAL = 70  # an error hwtune did not foresee: a bug (EX_SOFTWARE of sysexits.h)

# The one table of what each code means: `hwtune --help` prints it, README.md shows it (a test
# compares them), and every command takes its codes from here.
EXIT_MEANINGS = {
    EXIT_OK: "success",
    EXIT_FINDINGS: "findings: a check FAILed or ERRORed, diff differs, a fleet host failed",
    EXIT_USAGE: "bad usage or input (one line names the option, file, key or value)",
    EXIT_NEEDS_ROOT: "needs root",
    EXIT_APPLY_FAILED: "apply failed and every change was undone",
    EXIT_UNDO_FAILED: "apply failed and an undo failed too",
    EXIT_NOT_VALID: "measured but not valid (LoadGen INVALID, a tune found nothing in the SLO)",
    EXIT_INTERNAL: "internal error: a bug (hwtune --debug COMMAND shows its traceback)",
}


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


def parse_toml(text: str, what: object) -> dict:
    """TOML text, or a ConfigError naming `what`: malformed, nested too deeply, an integer too long."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{what}: not valid TOML: nested too deeply") from None
    except ValueError as exc:  # int(): more than 4,300 digits (sys.get_int_max_str_digits)
        raise ConfigError(f"{what}: not valid TOML: {_digits(exc)}") from None


def parse_json(text: str, what: object):
    """JSON text, or a ConfigError naming `what`: malformed, nested too deeply, an integer too
    long, or a lone surrogate ("\\ud800", which no UTF-8 output can hold)."""
    import json

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what}: not JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise ConfigError(f"{what}: not JSON hwtune reads: nested too deeply") from None
    except ValueError as exc:
        raise ConfigError(f"{what}: not JSON hwtune reads: {_digits(exc)}") from None
    _text_only(text, doc, what)
    return doc


def _digits(exc: ValueError) -> str:
    return "an integer of more than 4,300 digits" if "digits" in str(exc) else str(exc)


def _text_only(text: str, doc, what: object) -> None:
    """ConfigError if a string or key of `doc` holds a lone surrogate. Only a "\\uD800"-"\\uDFFF" escape
    in the text can make one (the text itself was decoded as strict UTF-8); where there is one, the
    document is encoded again in C (a pair encodes, a lone half does not)."""
    import json
    import re

    if re.search(r"\\u[dD][89a-fA-F]", text) is None:
        return
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{what}: not JSON hwtune reads: a lone surrogate (\\ud800-\\udfff) in a string") from None
