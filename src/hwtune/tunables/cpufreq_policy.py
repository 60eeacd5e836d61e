"""cpu.governor and cpu.epp: the scaling governor and the energy-performance preference of each cpufreq policy.

One module for the two because the kernel couples them: intel_pstate (since
Linux 5.9) and amd-pstate-epp in active mode refuse an EPP other than
"performance" while the governor is performance (EBUSY), so each policy's
two writes are planned together, in the order the kernel accepts them.
Writes go to `cpufreq/policyN/` directly: `cpuN/cpufreq` is a symlink to it on
some kernels and a plain folder on others.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hwtune.host import Host
from hwtune.probe.cpufreq import (
    CPU_DIR,
    CPUFREQ_DIR,
    epp_pinned,
    governor_choices,
    list_policies,
    policy_dir,
    resolve_governor,
)
from hwtune.tunables.base import OK, WRITE, PlanContext, Target, Tunable, Verify, invalid, skip, write

WORD = re.compile(r"[a-z0-9_]+")
# what a governor or EPP file may hold (and rollback restore): one short word
FILE_WORD = re.compile(r"[A-Za-z0-9_-]{1,64}")


def refuse_governor(value: str) -> str | None:
    if not governor_choices(value) or not all(WORD.fullmatch(g) for g in governor_choices(value)):
        return (f"'tune.cpu.governor' = {value!r} is not a governor name or a '|'-separated list "
                "of them (\"performance|schedutil\")")
    return None


def refuse_epp(value: str) -> str | None:
    if not WORD.fullmatch(value):
        return (f"'tune.cpu.epp' = {value!r} is not an energy-performance preference name "
                "(performance, balance_performance, ...)")
    return None


def plan_policies(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list[Target]:
    """Governor and EPP per policy, in the order the kernel accepts them."""
    governor, epp, mode = tune.get("cpu.governor"), tune.get("cpu.epp"), ctx.mode
    if governor is None and epp is None:
        return []
    names = list_policies(host)
    if not names:
        return [skip(key, CPUFREQ_DIR, tune[key], mode=mode,
                     reason="no cpufreq policy on this host (a VM, or cpufreq is disabled)")
                for key in ("cpu.governor", "cpu.epp") if tune.get(key) is not None]
    targets = []
    for name in names:
        targets += plan_policy(host, name, governor, epp, mode)
    return targets


def plan_policy(host: Host, name: str, governor: str | None, epp: str | None, mode: str) -> list[Target]:
    base = policy_dir(name)
    gov_item = plan_governor(host, name, governor, mode) if governor is not None else None
    current_gov = host.read_line(f"{base}/scaling_governor")
    final_gov = gov_item.target if gov_item is not None and gov_item.status in (WRITE, OK) else current_gov
    epp_item = plan_epp(host, name, epp, final_gov, mode) if epp is not None else None
    ordered = [gov_item, epp_item]
    # Leaving performance: change the governor first, or the EPP write is refused;
    # going to performance: set the EPP first. Undo runs in reverse, so it works too.
    if current_gov != "performance":
        ordered.reverse()
    return [i for i in ordered if i is not None]


def plan_governor(host: Host, name: str, target: str, mode: str) -> Target:
    base = policy_dir(name)
    current = host.read_line(f"{base}/scaling_governor")
    available_text = host.read_line(f"{base}/scaling_available_governors")
    if current is None or available_text is None:
        return skip("cpu.governor", name, target, current=current, mode=mode,
                    reason="scaling_governor or scaling_available_governors is missing")
    available = available_text.split()
    chosen = resolve_governor(target, available)
    if chosen is None:
        return invalid("cpu.governor", name, target, current=current, mode=mode,
                       reason=f"value not available: {' or '.join(governor_choices(target))} is not among this "
                              f"policy's governors ({', '.join(available)})")
    return write("cpu.governor", name, f"{base}/scaling_governor", chosen, mode=mode)


def plan_epp(host: Host, name: str, target: str, final_governor: str | None, mode: str) -> Target:
    base = policy_dir(name)
    path = f"{base}/energy_performance_preference"
    current = host.read_line(path)
    driver = host.read_line(f"{base}/scaling_driver") or "unknown"
    if current is None:
        return skip("cpu.epp", name, target, mode=mode,
                    reason=f"the {driver} driver does not expose an energy performance preference")
    available = (host.read_line(f"{base}/energy_performance_available_preferences") or "").split()
    if target not in available:
        return invalid("cpu.epp", name, target, current=current, mode=mode,
                       reason=f"value not available: {target} is not among this policy's preferences "
                              f"({', '.join(available) or 'none listed'})")
    if epp_pinned(driver, final_governor, target) and _active_mode(host, driver):
        return skip("cpu.epp", name, target, current=current, mode=mode,
                    reason=f"{driver} in active mode rejects EPP writes under the performance governor "
                           "(the EPP is pinned to performance)")
    return write("cpu.epp", name, path, target, mode=mode)


def _active_mode(host: Host, driver: str) -> bool:
    status_file = f"{CPU_DIR}/intel_pstate/status" if driver == "intel_pstate" else f"{CPU_DIR}/amd_pstate/status"
    status = host.read_line(status_file)
    return status is None or status == "active"


POLICY_FILE = r"/sys/devices/system/cpu/cpufreq/policy\d+/"
TUNABLES = (
    Tunable("cpu.governor", str, order=10, plan=plan_policies, example="performance|schedutil",
            verifies=(Verify("cpu.governor", "expected"),),
            refuse=refuse_governor, writes=(POLICY_FILE + "scaling_governor",),
            writable=lambda v: bool(FILE_WORD.fullmatch(v)), facts=("cpufreq.governors",)),
    Tunable("cpu.epp", str, order=10, plan=None, planned_with="cpu.governor", example="performance",
            verifies=(Verify("cpu.epp", "expected"),),
            refuse=refuse_epp, writes=(POLICY_FILE + "energy_performance_preference",),
            writable=lambda v: bool(FILE_WORD.fullmatch(v)), facts=("cpufreq.epp",)),
)
