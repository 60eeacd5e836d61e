"""Kernel values that rollback cannot undo, or that can stop the host: applied only when asked for.

Each entry is data: the sysctl, the values it covers, the risk and the reason
with its source (the kernel's Documentation/admin-guide/sysctl/kernel.rst and
vm.rst, and Documentation/mm/overcommit-accounting.rst). A plan item that
changes a sysctl to such a value carries the risks; `apply` refuses it unless
`--allow-irreversible` is given (separate from `--allow-lower-hardening`:
these values raise hardening, or are not hardening at all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from hwtune.apply.model import CHANGE, Item
from hwtune.errors import ParseError
from hwtune.host import Host
from hwtune.probe.memory import parse_meminfo

ALLOW_OPTION = "--allow-irreversible"
NO_ROLLBACK = "CANNOT BE ROLLED BACK BEFORE A REBOOT"
MAY_PANIC = "MAY PANIC THE HOST"
MEMINFO = "/proc/meminfo"


@dataclass(frozen=True)
class Risk:
    sysctl: str
    at_least: int  # the risk holds for a target value at or above this one
    only: int | None  # ... or for exactly this value (None: any value from at_least up)
    kind: str  # NO_ROLLBACK or MAY_PANIC
    reason: str


RISKS = (
    Risk("kernel.modules_disabled", 1, 1, NO_ROLLBACK,
         "once set, no module can be loaded or removed, and the kernel refuses 0 until a reboot"),
    Risk("kernel.kexec_load_disabled", 1, 1, NO_ROLLBACK,
         "once set, kexec_load stays off (kdump cannot be loaded) and the kernel refuses 0 until a reboot"),
    Risk("kernel.yama.ptrace_scope", 3, 3, NO_ROLLBACK,
         "3 (no ptrace at all) cannot be lowered again until a reboot"),
    Risk("kernel.panic_on_oops", 1, None, MAY_PANIC, "any kernel oops then panics (stops) the host"),
    Risk("kernel.panic_on_warn", 1, None, MAY_PANIC, "any kernel WARN then panics (stops) the host"),
    Risk("kernel.hung_task_panic", 1, None, MAY_PANIC,
         "a task blocked longer than hung_task_timeout_secs then panics the host"),
    Risk("vm.panic_on_oom", 1, None, MAY_PANIC, "running out of memory then panics the host instead of "
         "killing a process"),
)


# Strict overcommit (mode 2) limits what may be committed; these set the limit.
COMMIT_LIMIT_SYSCTLS = ("vm.overcommit_ratio", "vm.overcommit_kbytes")


def risks_of(name: str, target: str, commit_check: Callable[[], str | None]) -> list[str]:
    """The risks of setting sysctl `name` to `target`, each as "KIND: reason". `commit_check`: why
    the commit limit after the plan would be below what is committed now, when the plan leaves the
    host in strict overcommit (None when it does not, or the limit is high enough)."""
    try:
        value = int(target)
    except ValueError:
        return []
    out = [f"{r.kind}: {name}={value}: {r.reason}" for r in RISKS
           if r.sysctl == name and value >= r.at_least and (r.only is None or value == r.only)]
    if (name == "vm.overcommit_memory" and value == 2) or name in COMMIT_LIMIT_SYSCTLS:
        why = commit_check()
        if why:
            out.append(f"{MAY_PANIC}: {name}={value}: {why}")
    return out


def _int_sysctl(host: Host, values: Mapping[str, Any], name: str) -> int | None:
    """The value the host will have after the plan: the profile's, else the current one."""
    if name in values:
        raw: Any = values[name]
    else:
        raw = host.read("/proc/sys/" + name.replace(".", "/"), record=False)
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


def commit_limit_kib(meminfo: Mapping[str, int], ratio: int, kbytes: int) -> int:
    """The CommitLimit the kernel computes in strict mode (mm/util.c vm_commit_limit)."""
    if kbytes:
        allowed = kbytes
    else:
        hugetlb = meminfo.get("Hugetlb", meminfo.get("HugePages_Total", 0) * meminfo.get("Hugepagesize", 0))
        allowed = (meminfo["MemTotal"] - hugetlb) * ratio // 100
    return allowed + meminfo.get("SwapTotal", 0)


def strict_commit_risk(host: Host, values: Mapping[str, Any]) -> str | None:
    """Why strict overcommit, as the plan leaves it, would fail allocations the host already holds;
    None when it would not (or the host is not left in strict overcommit)."""

    if _int_sysctl(host, values, "vm.overcommit_memory") != 2:
        return None

    text = host.read(MEMINFO, record=False)
    try:
        meminfo = parse_meminfo(text) if text is not None else None
    except ParseError:
        meminfo = None
    ratio = _int_sysctl(host, values, "vm.overcommit_ratio")
    kbytes = _int_sysctl(host, values, "vm.overcommit_kbytes") or 0
    if meminfo is None or "Committed_AS" not in meminfo or ratio is None:
        return ("hwtune cannot tell whether the new CommitLimit stays above what is committed now "
                f"({MEMINFO} or vm.overcommit_ratio unreadable): allocations may fail and the OOM killer run")
    limit = commit_limit_kib(meminfo, ratio, kbytes)
    committed = meminfo["Committed_AS"]
    if limit < committed:
        return (f"CommitLimit would be {limit} kB, below the {committed} kB committed now: "
                "allocations fail at once (services die, logins may not start)")
    return None


def mark(host: Host, values: Mapping[str, Any], items: list[Item]) -> list[Item]:
    """The plan's sysctl changes to such values carry their risks, and the reason says so."""
    out = []
    for item in items:
        name = item.key.removeprefix("sysctl.")
        risks = risks_of(name, item.target, lambda: strict_commit_risk(host, values)) \
            if item.key.startswith("sysctl.") and item.status == CHANGE and item.target is not None else []
        if risks:
            text = "; ".join(risks) + f" (refused without {ALLOW_OPTION})"
            item = replace(item, risks=tuple(risks), reason=f"{item.reason}; {text}" if item.reason else text)
        out.append(item)
    return out
