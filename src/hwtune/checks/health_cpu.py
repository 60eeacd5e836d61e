"""CPU health: thermal throttling (the cpu area of the report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwtune.checks.registry import Finding, check, passed, problem, skip
from hwtune.facts import Facts
from hwtune.health.events import evidence, log_events, log_read

AREA = "cpu"


@check("cpu.thermal_throttle", fix=("where",))
def check_thermal_throttle(facts: Facts, p: Mapping[str, Any]) -> Finding:
    expected = "no thermal throttling"
    counters = facts.get("cpu.thermal_throttle")
    events, why = log_events(facts, "cpu_throttle")
    if counters is None and events is None:
        return skip(f"no thermal_throttle counters ({facts.reason('cpu.thermal_throttle')}) and no kernel log "
                    f"({why})", expected)
    observed = []
    if counters is not None:
        packages = ", ".join(f"package {k}: {v}" for k, v in sorted(counters["package_events"].items()))
        observed.append(f"core throttle events {counters['core_events']} (per physical core)"
                        + (f"; {packages}" if packages else ""))
    observed += [evidence(e) for e in (events or [])[:5]]
    hot = bool(counters and (counters["core_events"] or any(counters["package_events"].values()))) or bool(events)
    if hot:
        where = "; ".join(observed[:2])
        return problem(observed, expected, "the CPUs lowered their clocks to stay under their temperature limit",
                       where=where)
    if events is not None:
        observed.append(f"no throttling message in {log_read(facts)}")
    return passed("; ".join(observed), expected)
