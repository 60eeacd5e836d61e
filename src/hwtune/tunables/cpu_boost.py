"""cpu.boost: CPU boost (turbo) on or off, through whichever switch the cpufreq driver has."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwtune.host import Host
from hwtune.probe.cpufreq import BOOST_SWITCHES, boost_switch, boost_word
from hwtune.tunables.base import PlanContext, Target, Tunable, Verify, skip, write


def plan_boost(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list[Target]:
    if tune.get("cpu.boost") is None:
        return []
    on, mode = bool(tune["cpu.boost"]), ctx.mode
    switch = boost_switch(host)
    if switch is None:
        return [skip("cpu.boost", "cpufreq/boost", boost_word(on, False), mode=mode,
                     reason="no boost control on this host (neither cpufreq/boost nor intel_pstate/no_turbo)")]
    path, label, inverted = switch
    return [write("cpu.boost", label, path, boost_word(on, inverted), mode=mode)]


TUNABLES = (
    Tunable("cpu.boost", bool, order=20, plan=plan_boost, example=True,
            verifies=(Verify("cpu.boost", "expected", bool),),
            writes=tuple(path for path, _label, _inverted in BOOST_SWITCHES),
            writable=lambda v: v in ("0", "1"), facts=("cpufreq.boost",)),
)
