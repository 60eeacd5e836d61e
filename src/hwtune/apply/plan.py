"""Profile + host -> Plan: every tunable read, its target resolved, nothing written."""

from __future__ import annotations

from hwtune.apply import hardening
from hwtune.apply.cpu import plan_cpu
from hwtune.apply.kernel import plan_sysctl, plan_thp
from hwtune.apply.model import Plan
from hwtune.apply.nvidia import plan_persistenced
from hwtune.apply.pending import plan_pending
from hwtune.apply.persist import plan_persist
from hwtune.host import Host
from hwtune.profile import Profile


def plan_apply(host: Host, profile: Profile, *, profile_ref: str, persist: bool = False,
               boot: bool = False, nvml=None, allow_lower_hardening: bool = False) -> Plan:
    """The plan, in the order it is written: kernel values first, hwtune's own boot files last."""
    tune = profile.tune
    mode = "persistent" if persist or boot else "runtime"
    items = plan_cpu(host, tune, mode)
    items += plan_thp(host, tune, mode)
    sysctl_items = hardening.mark(plan_sysctl(host, tune.get("sysctl", {}), mode))
    items += sysctl_items
    items += plan_persistenced(host, bool(tune.get("nvidia.persistenced")), nvml)
    items += plan_pending(host, tune)
    if persist and not boot:
        items += plan_persist(host, profile.name, profile_ref, sysctl_items, allow_lower_hardening)
    return Plan(profile.name, str(host.root), host.live, tuple(items))
