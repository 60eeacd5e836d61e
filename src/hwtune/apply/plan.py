"""Profile + host -> Plan: every tunable read, its target resolved, nothing written.

The tunable declarations (hwtune/tunables/) return plain targets; here each
becomes a plan item, with its step where there is something to write (the
step kind's own plan: apply/kinds/).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwtune.apply import hardening, irreversible
from hwtune.apply.kinds import kind
from hwtune.apply.model import PENDING, Item, Plan
from hwtune.apply.persist import plan_persist
from hwtune.host import Host
from hwtune.profile import Profile
from hwtune.tunables import registry
from hwtune.tunables.base import WRITE, Nvml, PlanContext, Target


def item_for(host: Host, target: Target) -> Item:
    """The plan row of a target: a write planned by its step kind, or the target's own status."""
    if target.status != WRITE:
        return Item(target.key, target.where, target.current, target.target, target.status, target.reason,
                    target.mode, reboot=target.status == PENDING, command=target.command)
    found = kind(target.kind)
    if found is None:
        raise ValueError(f"{target.key}: {target.kind!r} is not a step kind")
    return found.plan(host, target)


def plan_tune(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list[Item]:
    """The items of a profile's [tune], in each declaration's order; sysctl changes that lower
    hardening or cannot be undone are marked (and refused later without the options that allow them)."""
    items = []
    for tunable in registry().values():
        if tunable.plan is not None:
            items += [item_for(host, t) for t in tunable.plan(host, tune, ctx)]
    return irreversible.mark(host, tune.get("sysctl", {}), hardening.mark(items))


def plan_apply(host: Host, profile: Profile, *, profile_ref: str, persist: bool = False,
               boot: bool = False, nvml: Nvml | None = None, allow_lower_hardening: bool = False,
               allow_irreversible: bool = False) -> Plan:
    """The plan, in the order it is written: kernel values first (each tunable's declared order),
    hwtune's own boot files last."""
    items = plan_tune(host, profile.tune, PlanContext("persistent" if persist or boot else "runtime", nvml))
    if persist and not boot:
        sysctl_items = [i for i in items if i.key.startswith("sysctl.")]
        items += plan_persist(host, profile, profile_ref, sysctl_items, allow_lower_hardening, allow_irreversible)
    return Plan(profile.name, str(host.root), host.live, tuple(items))
