"""The check registry: stable dotted ids -> pure functions of (Facts, params).

Checks do no I/O. Their text (title, default severity, rationale with its
source, remediation) is data in the top-level `checks/` folder, under the same
id. A check says whether the host has a problem; it never picks FAIL or WARN:
the profile does (`severity`, or a narrower `<case>_severity` parameter the
check names for one kind of problem), in `verdict.evaluate`.
"""

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from hwtune.errors import ConfigError
from hwtune.facts import Facts


class Status(str, Enum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"
    ERROR = "ERROR"


# A check returns PROBLEM for "the host violates this check"; the profile's
# severity for the check (default from its text file) turns it into FAIL or WARN.
PROBLEM = "PROBLEM"
SEVERITIES = ("fail", "warn")
# The report's areas, in the order it lists them. A check module names its
# area with a module-level AREA (default: the module's name).
AREAS = ("versions", "cpu", "memory", "gpu")


@dataclass(frozen=True)
class Finding:
    """What one check function concludes; the verdict adds the texts, the severity and the fix."""

    status: Status | str
    observed: Any = None
    expected: Any = None
    message: str = ""
    fix_args: Mapping[str, Any] | None = None  # fills the remediation text; None: no fix needed
    severity_key: str = "severity"  # the profile parameter that makes a PROBLEM a FAIL or a WARN


def passed(observed: Any, expected: Any, message: str = "") -> Finding:
    return Finding(Status.PASS, observed, expected, message)


def problem(observed: Any, expected: Any, message: str, *, severity_key: str = "severity",
            **fix_args: Any) -> Finding:
    """The host violates the check. `fix_args` fill the remediation's {placeholders} (exactly those
    the check declared with `fix=`); `severity_key` names a narrower `<case>_severity` parameter
    of the check when this kind of problem has its own default severity."""
    return Finding(PROBLEM, observed, expected, message, fix_args, severity_key)


def skip(reason: str, expected: Any = None, observed: Any = None) -> Finding:
    return Finding(Status.SKIP, observed, expected, reason)


def error(observed: Any, expected: Any, message: str) -> Finding:
    """The check could not judge (a device that does not answer): an ERROR row, whatever the profile."""
    return Finding(Status.ERROR, observed, expected, message)


CheckFn = Callable[[Facts, Mapping[str, Any]], Finding]


def is_severity_key(key: str) -> bool:
    return key == "severity" or key.endswith("_severity")


class CheckSpec(NamedTuple):
    id: str
    area: str
    fn: CheckFn
    defaults: Mapping[str, Any]
    fix: frozenset[str] = frozenset()  # the remediation placeholders the check fills ({profile} aside)

    def validate_param(self, path: Path, key: str, value: Any) -> None:
        allowed = {"enabled": True, "severity": "fail", **self.defaults}
        if key not in allowed:
            raise ConfigError(
                f"{path}: unknown key 'checks.{self.id}.{key}' (allowed: {', '.join(sorted(allowed))})")
        want = allowed[key]
        if is_severity_key(key) and value not in SEVERITIES:
            raise ConfigError(f"{path}: 'checks.{self.id}.{key}' must be \"fail\" or \"warn\", not {value!r}")
        if want is not None and type(value) is not type(want) and not (
            isinstance(want, float) and isinstance(value, int) and not isinstance(value, bool)
        ):
            raise ConfigError(
                f"{path}: 'checks.{self.id}.{key}' must be a {type(want).__name__}, not {value!r}")


REGISTRY: dict[str, CheckSpec] = {}


def check(check_id: str, *, fix: tuple[str, ...] = (), **defaults: Any) -> Callable[[CheckFn], CheckFn]:
    """Register a check under a stable id.

    `fix`: the remediation placeholders the check fills through `problem(**fix_args)`
    ({profile} is always filled); other keyword arguments are the check's parameters and
    their defaults (`<case>_severity` ones are severities).
    """

    def register(fn: CheckFn) -> CheckFn:
        if check_id in REGISTRY:
            raise RuntimeError(f"check id {check_id} registered twice")
        module = sys.modules.get(fn.__module__)
        area = getattr(module, "AREA", fn.__module__.rsplit(".", 1)[-1])
        if area not in AREAS:
            raise RuntimeError(f"check {check_id}: area {area!r} is not a report area ({', '.join(AREAS)}); "
                               "set AREA in its module")
        for key, value in defaults.items():
            if is_severity_key(key) and value not in SEVERITIES:
                raise RuntimeError(f"check {check_id}: default {key}={value!r} is not fail or warn")
        REGISTRY[check_id] = CheckSpec(check_id, area, fn, defaults, frozenset(fix))
        return fn

    return register
