"""[tune.sysctl]: kernel values under /proc/sys, by their sysctl name."""

from __future__ import annotations

import re
from typing import Any, Mapping

from hwtune.apply.readers import READERS
from hwtune.apply.tunables import PlanContext, Tunable
from hwtune.factids import FactId
from hwtune.host import Host
from hwtune.probe.memory import parse_sysctl, sysctl_path

PREFIXES = ("vm.", "kernel.", "net.core.")
# A sysctl value is numbers or one plain word: no path, no pipe, so no
# profile can point kernel.core_pattern or kernel.modprobe at a program.
VALUE = re.compile(r"-?\d+([ \t]+-?\d+)*|[A-Za-z0-9_.:,+-]+")
# sysctl -> (the check that judges it, the check parameter its value sets)
CHECKED = {"vm.swappiness": ("vm.swappiness", "max"),
           "kernel.numa_balancing": ("kernel.numa_balancing", "expected")}
# the sysctls observed as facts (of the same name), read as apply reads them
FACTS = (FactId("vm.swappiness", "int", "", "sysctl vm.swappiness (0-200)"),
         FactId("kernel.numa_balancing", "int", "", "sysctl kernel.numa_balancing (0 off, 1 on, 2 memory tiering)"))


def observe(host: Host) -> dict[str, tuple[int | None, str]]:
    out = {}
    for fact in FACTS:
        path = sysctl_path(fact.id)
        value = READERS["sysctl"](host, path)
        if value is None:
            out[fact.id] = (None, host.absent(path))
        elif value.lstrip("-").isdecimal():
            out[fact.id] = (int(value), "")
        else:
            out[fact.id] = (None, f"{path}: not an integer: {value[:20]!r}")
    return out


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
    from hwtune.errors import ConfigError

    why = refuse_value(name, value)
    if why:
        raise ConfigError(why)
    return " ".join(str(value).split())


def verifies(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, value in values.items():
        if name in CHECKED and str(value).strip().lstrip("-").isdecimal():
            check_id, param = CHECKED[name]
            out[check_id] = {param: int(value)}
    return out


def plan_sysctl(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list:
    from hwtune.apply import hardening, irreversible
    from hwtune.apply.model import SKIP, Item
    from hwtune.apply.values import value_item

    values, mode = tune.get("sysctl", {}), ctx.mode
    items = []
    for name in sorted(values):
        target = sysctl_value(name, values[name])
        path = sysctl_path(name)
        raw = host.read(path, record=False)
        if raw is None:
            items.append(Item(f"sysctl.{name}", "", None, target, SKIP, mode=mode,
                              reason=f"{path} does not exist on this host"))
            continue
        items.append(value_item(host, f"sysctl.{name}", "", path, target, current=parse_sysctl(raw),
                                mode=mode))
    return irreversible.mark(host, values, hardening.mark(items))


TUNABLES = (
    Tunable("sysctl", dict, order=40, plan=plan_sysctl, verifies=verifies, refuse=refuse,
            # vm.swappiness is checked as a ceiling: a [checks] max at or above the value agrees
            agrees=lambda param, stated, derived: derived <= stated if param == "max" else stated == derived,
            writes=(r"/proc/sys/(vm|kernel|net/core)(/[a-z0-9_]+)+",), reader="sysctl",
            writable=lambda v: bool(VALUE.fullmatch(v)) and v == " ".join(v.split()),
            facts=FACTS, observe=observe),
)
