"""The check registry: stable dotted ids -> pure functions of (Facts, params).

Checks do no I/O. Their text (title, rationale with its source, remediation)
is data in the top-level `checks/` folder, under the same id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

from hwtune.errors import ConfigError
from hwtune.facts import Facts


class Status(str, Enum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"
    ERROR = "ERROR"


# A check returns PROBLEM for "the host violates this check"; the profile's
# `severity` for the check (default from its text file) turns it into FAIL or WARN.
PROBLEM = "PROBLEM"


@dataclass(frozen=True)
class Finding:
    """What one check function concludes; the verdict adds the texts and the fix."""

    status: Status | str
    observed: Any = None
    expected: Any = None
    message: str = ""
    fix_args: Mapping[str, Any] | None = None  # fills the remediation text; None: no fix needed


def passed(observed: Any, expected: Any, message: str = "") -> Finding:
    return Finding(Status.PASS, observed, expected, message)


def problem(observed: Any, expected: Any, message: str, **fix_args: Any) -> Finding:
    return Finding(PROBLEM, observed, expected, message, fix_args)


def warn(observed: Any, expected: Any, message: str, **fix_args: Any) -> Finding:
    return Finding(Status.WARN, observed, expected, message, fix_args)


def skip(reason: str, expected: Any = None) -> Finding:
    return Finding(Status.SKIP, None, expected, reason)


CheckFn = Callable[[Facts, Mapping[str, Any]], Finding]


class CheckSpec(NamedTuple):
    id: str
    area: str
    fn: CheckFn
    defaults: Mapping[str, Any]

    def validate_param(self, path: Path, key: str, value: Any) -> None:
        allowed = {"enabled": True, "severity": "fail", **self.defaults}
        if key not in allowed:
            raise ConfigError(
                f"{path}: unknown key 'checks.{self.id}.{key}' (allowed: {', '.join(sorted(allowed))})")
        want = allowed[key]
        if key == "severity" and value not in ("fail", "warn"):
            raise ConfigError(f"{path}: 'checks.{self.id}.severity' must be \"fail\" or \"warn\", not {value!r}")
        if want is not None and type(value) is not type(want) and not (
            isinstance(want, float) and isinstance(value, int) and not isinstance(value, bool)
        ):
            raise ConfigError(
                f"{path}: 'checks.{self.id}.{key}' must be a {type(want).__name__}, not {value!r}")


REGISTRY: dict[str, CheckSpec] = {}


def check(check_id: str, **defaults: Any) -> Callable[[CheckFn], CheckFn]:
    """Register a check under a stable id; keyword arguments are its parameters and defaults."""

    def register(fn: CheckFn) -> CheckFn:
        if check_id in REGISTRY:
            raise RuntimeError(f"check id {check_id} registered twice")
        # the area is the module the check lives in (versions, cpu, memory, gpu):
        # the groups of the report table, whatever the id's prefix
        REGISTRY[check_id] = CheckSpec(check_id, fn.__module__.rsplit(".", 1)[-1], fn, defaults)
        return fn

    return register
