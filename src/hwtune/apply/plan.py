"""Profile + host -> Plan: every tunable read, its target resolved, nothing written."""

from __future__ import annotations

from hwtune.apply.model import Plan
from hwtune.apply.persist import plan_persist
from hwtune.apply.tunables import PlanContext, registry
from hwtune.host import Host
from hwtune.profile import Profile


def plan_apply(host: Host, profile: Profile, *, profile_ref: str, persist: bool = False,
               boot: bool = False, nvml=None, allow_lower_hardening: bool = False,
               allow_irreversible: bool = False) -> Plan:
    """The plan, in the order it is written: kernel values first (each tunable's declared order),
    hwtune's own boot files last."""
    ctx = PlanContext("persistent" if persist or boot else "runtime", nvml)
    items = []
    for tunable in registry().values():
        if tunable.plan is not None:
            items += tunable.plan(host, profile.tune, ctx)
    if persist and not boot:
        sysctl_items = [i for i in items if i.key.startswith("sysctl.")]
        items += plan_persist(host, profile, profile_ref, sysctl_items, allow_lower_hardening, allow_irreversible)
    return Plan(profile.name, str(host.root), host.live, tuple(items))
