"""Kernel tunables: sysctl values under /proc/sys and the transparent hugepage modes."""

from __future__ import annotations

import re
from typing import Any, Mapping

from hwtune.apply.cpu import value_item
from hwtune.apply.model import INVALID, SKIP, Item
from hwtune.apply.readers import parse_bracketed, parse_choices, parse_sysctl
from hwtune.errors import ConfigError
from hwtune.host import Host

THP = "/sys/kernel/mm/transparent_hugepage"
THP_KEYS = {"mm.thp_enabled": "enabled", "mm.thp_defrag": "defrag"}
# A sysctl value is numbers or one plain word: no path, no pipe, so no
# profile can point kernel.core_pattern or kernel.modprobe at a program.
SYSCTL_VALUE = re.compile(r"-?\d+([ \t]+-?\d+)*|[A-Za-z0-9_.:,+-]+")


def sysctl_path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


def sysctl_value(name: str, value: Any) -> str:
    text = str(value).strip()
    if not SYSCTL_VALUE.fullmatch(text):
        raise ConfigError(f"tune.sysctl.{name}: {value!r} is not an allowed sysctl value "
                          "(numbers, or one word without '/' or '|')")
    return " ".join(text.split())


def plan_sysctl(host: Host, values: Mapping[str, Any], mode: str) -> list[Item]:
    items = []
    for name in sorted(values):
        target = sysctl_value(name, values[name])
        path = sysctl_path(name)
        raw = host.read(path, record=False)
        if raw is None:
            items.append(Item(f"sysctl.{name}", "", None, target, SKIP, mode=mode,
                              reason=f"{path} does not exist on this host"))
            continue
        items.append(value_item(host, f"sysctl.{name}", "", path, target, reader="sysctl",
                                current=parse_sysctl(raw), mode=mode))
    return items


def plan_thp(host: Host, tune: Mapping[str, Any], mode: str) -> list[Item]:
    items = []
    for key, leaf in THP_KEYS.items():
        target = tune.get(key)
        if target is None:
            continue
        path = f"{THP}/{leaf}"
        raw = host.read(path, record=False)
        if raw is None:
            items.append(Item(key, "", None, target, SKIP, mode=mode,
                              reason="transparent hugepages are not available on this host "
                                     f"({path} does not exist)"))
            continue
        allowed = parse_choices(raw)
        current = parse_bracketed(raw)
        if target not in allowed:
            items.append(Item(key, "", current, target, INVALID, mode=mode,
                              reason=f"value not available: {target} is not one of {', '.join(allowed)}"))
            continue
        items.append(value_item(host, key, "", path, target, reader="bracket", current=current, mode=mode))
    return items
