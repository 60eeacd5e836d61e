"""[tune.sysctl]: kernel values under /proc/sys, by their sysctl name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hwtune.errors import ConfigError
from hwtune.host import Host
from hwtune.probe.memory import parse_sysctl, sysctl_path
from hwtune.tunables.base import PlanContext, Target, Tunable, Verify, skip, write

PREFIXES = ("vm.", "kernel.", "net.core.")
# A sysctl value is numbers or one plain word: no path, no pipe, so no
# profile can point kernel.core_pattern or kernel.modprobe at a program.
VALUE = re.compile(r"-?\d+([ \t]+-?\d+)*|[A-Za-z0-9_.:,+-]+")


def _int(value: Any) -> int | None:
    """A sysctl value as the checks compare it: an integer, or None (not verified) for a word."""
    return int(value) if str(value).strip().lstrip("-").isdecimal() else None


def _at_most(stated: Any, derived: Any) -> bool:
    return bool(derived <= stated)


# The sysctls a check judges, with the check parameter their value sets. vm.swappiness is checked
# as a ceiling: a [checks] max at or above the value agrees.
VERIFIES = (Verify("vm.swappiness", "max", _int, _at_most, entry="vm.swappiness"),
            Verify("kernel.numa_balancing", "expected", _int, entry="kernel.numa_balancing"))


def valid_sysctl_name(name: str) -> bool:
    """vm.swappiness, kernel.numa_balancing, net.core.somaxconn: ASCII words under an allowed prefix."""
    return name.startswith(PREFIXES) and all(
        p and p.isascii() and p.replace("_", "").isalnum() for p in name.split("."))


def refuse_name(name: str) -> str | None:
    if not valid_sysctl_name(name):
        return f"'tune.sysctl.{name}' is not an allowed sysctl (allowed prefixes: {', '.join(PREFIXES)})"
    return None


def refuse_value(name: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return f"'tune.sysctl.{name}' must be an integer or a string, not {value!r}"
    if not VALUE.fullmatch(str(value).strip()):
        return (f"'tune.sysctl.{name}' = {value!r} is not an allowed sysctl value "
                "(numbers, or one word without '/' or '|')")
    return None


def refuse(values: Mapping[str, Any]) -> str | None:
    for name, value in values.items():
        why = refuse_name(name) or refuse_value(name, value)
        if why:
            return why
    return None


def sysctl_value(name: str, value: Any) -> str:
    why = refuse_value(name, value)
    if why:
        raise ConfigError(why)
    return " ".join(str(value).split())


def plan_sysctl(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list[Target]:
    values, mode = tune.get("sysctl", {}), ctx.mode
    targets = []
    for name in sorted(values):
        target = sysctl_value(name, values[name])
        path = sysctl_path(name)
        raw = host.read(path, record=False)
        if raw is None:
            targets.append(skip(f"sysctl.{name}", "", target, mode=mode, reason=f"{path} does not exist on this host"))
            continue
        targets.append(write(f"sysctl.{name}", "", path, target, current=parse_sysctl(raw), mode=mode))
    return targets


TUNABLES = (
    Tunable("sysctl", dict, order=40, plan=plan_sysctl, example={"vm.swappiness": 10}, verifies=VERIFIES,
            refuse=refuse, writes=(r"/proc/sys/(vm|kernel|net/core)(/[a-z0-9_]+)+",), reader="sysctl",
            writable=lambda v: bool(VALUE.fullmatch(v)) and v == " ".join(v.split()),
            facts=("vm.swappiness", "kernel.numa_balancing")),
)
