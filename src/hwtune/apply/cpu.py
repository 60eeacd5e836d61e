"""CPU tunables: governor and EPP per cpufreq policy, and boost.

Writes go to `cpufreq/policyN/` directly: `cpuN/cpufreq` is a symlink to it
on some kernels and a plain folder on others.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Mapping

from hwtune.apply import sysfs
from hwtune.apply.model import CHANGE, INVALID, OK, SKIP, VALUE, Item, Step
from hwtune.apply.readers import parse_word
from hwtune.apply.trust import restorable
from hwtune.host import Host

CPU = "/sys/devices/system/cpu"
CPUFREQ = f"{CPU}/cpufreq"
POLICY = re.compile(r"policy(\d+)")
# Drivers that, in active mode, refuse an EPP other than "performance" while
# the governor is performance (intel_pstate since Linux 5.9 and amd-pstate-epp
# answer EBUSY): under performance the EPP is pinned to 0.
EPP_PINNED_DRIVERS = ("intel_pstate", "amd-pstate-epp")


def value_item(host: Host, key: str, where: str, path: str, target: str, reader: str = "word",
               current: str | None = None, mode: str = "runtime") -> Item:
    """An OK or CHANGE item for one kernel value file; its step also says how to verify it."""
    if current is None:
        text = host.read(path)
        current = None if text is None else parse_word(text)
    if current is None:
        return Item(key, where, None, target, SKIP, mode=mode, reason=f"{path} cannot be read")
    if current != target and not restorable(path, current):
        # rollback accepts only values apply could write; one it could not restore is left alone
        return Item(key, where, current, target, INVALID, mode=mode,
                    reason=f"the current value {current[:60]!r} is not one hwtune could restore on rollback; "
                           "change it by hand if you must")
    raw = sysfs.read_raw(host, path)
    step = Step(key, where, VALUE, path, current, target, reader,
                old_raw_b64=None if raw is None else base64.b64encode(raw).decode())
    return Item(key, where, current, target, OK if current == target else CHANGE, mode=mode, step=step)


def policies(host: Host) -> list[str]:
    names = host.listdir(CPUFREQ) or []
    found = [n for n in names if POLICY.fullmatch(n) and host.is_dir(f"{CPUFREQ}/{n}")]
    return sorted(found, key=lambda n: int(n[6:]))


def plan_cpu(host: Host, tune: Mapping[str, Any], mode: str) -> list[Item]:
    """Governor and EPP per policy, in the order the kernel accepts them, then boost."""
    items: list[Item] = []
    governor, epp = tune.get("cpu.governor"), tune.get("cpu.epp")
    if governor is not None or epp is not None:
        names = policies(host)
        if not names:
            for key in ("cpu.governor", "cpu.epp"):
                if tune.get(key) is not None:
                    items.append(Item(key, CPUFREQ, None, tune[key], SKIP, mode=mode,
                                      reason="no cpufreq policy on this host (a VM, or cpufreq is disabled)"))
        for name in names:
            items += plan_policy(host, name, governor, epp, mode)
    if tune.get("cpu.boost") is not None:
        items.append(plan_boost(host, bool(tune["cpu.boost"]), mode))
    return items


def plan_policy(host: Host, name: str, governor: str | None, epp: str | None, mode: str) -> list[Item]:
    base = f"{CPUFREQ}/{name}"
    gov_item = plan_governor(host, name, governor, mode) if governor is not None else None
    current_gov = host.read_line(f"{base}/scaling_governor")
    final_gov = gov_item.target if gov_item is not None and gov_item.status in (CHANGE, OK) else current_gov
    epp_item = plan_epp(host, name, epp, final_gov, mode) if epp is not None else None
    ordered = [gov_item, epp_item]
    # Leaving performance: change the governor first, or the EPP write is refused;
    # going to performance: set the EPP first. Undo runs in reverse, so it works too.
    if current_gov != "performance":
        ordered.reverse()
    return [i for i in ordered if i is not None]


def plan_governor(host: Host, name: str, target: str, mode: str) -> Item:
    base = f"{CPUFREQ}/{name}"
    current = host.read_line(f"{base}/scaling_governor")
    available_text = host.read_line(f"{base}/scaling_available_governors")
    if current is None or available_text is None:
        return Item("cpu.governor", name, current, target, SKIP, mode=mode,
                    reason="scaling_governor or scaling_available_governors is missing")
    available = available_text.split()
    wanted = [g for g in target.split("|") if g]
    chosen = next((g for g in wanted if g in available), None)
    if chosen is None:
        return Item("cpu.governor", name, current, target, INVALID, mode=mode,
                    reason=f"value not available: {' or '.join(wanted)} is not among this policy's governors "
                           f"({', '.join(available)})")
    return value_item(host, "cpu.governor", name, f"{base}/scaling_governor", chosen, mode=mode)


def plan_epp(host: Host, name: str, target: str, final_governor: str | None, mode: str) -> Item:
    base = f"{CPUFREQ}/{name}"
    path = f"{base}/energy_performance_preference"
    current = host.read_line(path)
    driver = host.read_line(f"{base}/scaling_driver") or "unknown"
    if current is None:
        return Item("cpu.epp", name, None, target, SKIP, mode=mode,
                    reason=f"the {driver} driver does not expose an energy performance preference")
    available = (host.read_line(f"{base}/energy_performance_available_preferences") or "").split()
    if target not in available:
        return Item("cpu.epp", name, current, target, INVALID, mode=mode,
                    reason=f"value not available: {target} is not among this policy's preferences "
                           f"({', '.join(available) or 'none listed'})")
    if driver in EPP_PINNED_DRIVERS and final_governor == "performance" and target != "performance" \
            and _active_mode(host, driver):
        return Item("cpu.epp", name, current, target, SKIP, mode=mode,
                    reason=f"{driver} in active mode rejects EPP writes under the performance governor "
                           "(the EPP is pinned to performance)")
    return value_item(host, "cpu.epp", name, path, target, mode=mode)


def _active_mode(host: Host, driver: str) -> bool:
    status_file = f"{CPU}/intel_pstate/status" if driver == "intel_pstate" else f"{CPU}/amd_pstate/status"
    status = host.read_line(status_file)
    return status is None or status == "active"


def plan_boost(host: Host, on: bool, mode: str) -> Item:
    if host.exists(f"{CPUFREQ}/boost"):
        return value_item(host, "cpu.boost", "cpufreq/boost", f"{CPUFREQ}/boost", "1" if on else "0", mode=mode)
    if host.exists(f"{CPU}/intel_pstate/no_turbo"):
        # intel_pstate says it the other way round
        return value_item(host, "cpu.boost", "intel_pstate/no_turbo", f"{CPU}/intel_pstate/no_turbo",
                          "0" if on else "1", mode=mode)
    return Item("cpu.boost", "cpufreq/boost", None, "1" if on else "0", SKIP, mode=mode,
                reason="no boost control on this host (neither cpufreq/boost nor intel_pstate/no_turbo)")
