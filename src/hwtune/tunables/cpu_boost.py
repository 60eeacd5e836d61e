"""cpu.boost: CPU boost (turbo) on or off, through whichever switch the cpufreq driver has."""

from __future__ import annotations

from typing import Any, Mapping

from hwtune.apply.tunables import PlanContext, Tunable
from hwtune.host import Host
from hwtune.probe.cpufreq import BOOST_SWITCHES, boost_switch, boost_word


def plan_boost(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list:
    from hwtune.apply.model import SKIP, Item
    from hwtune.apply.values import value_item

    if tune.get("cpu.boost") is None:
        return []
    on, mode = bool(tune["cpu.boost"]), ctx.mode
    switch = boost_switch(host)
    if switch is None:
        return [Item("cpu.boost", "cpufreq/boost", None, boost_word(on, False), SKIP, mode=mode,
                     reason="no boost control on this host (neither cpufreq/boost nor intel_pstate/no_turbo)")]
    path, label, inverted = switch
    return [value_item(host, "cpu.boost", label, path, boost_word(on, inverted), mode=mode)]


TUNABLES = (
    Tunable("cpu.boost", bool, order=20, plan=plan_boost,
            verifies=lambda value: {"cpu.boost": {"expected": bool(value)}},
            writes=tuple(path for path, _label, _inverted in BOOST_SWITCHES),
            writable=lambda v: v in ("0", "1")),
)
