"""Host health: machine checks and memory errors, OOM kills (the memory area of the report)."""

from __future__ import annotations

from typing import Any, Mapping

from hwtune.health.events import evidence, log_events
from hwtune.checks.registry import Finding, check, passed, problem, skip
from hwtune.facts import Facts

AREA = "memory"


# ghes "event severity": corrected is recovered; recoverable, fatal and the rest are not
@check("host.machine_check", fix=("where",), corrected_severity="warn")
def check_machine_check(facts: Facts, p: Mapping[str, Any]) -> Finding:
    expected = "no machine-check or memory error"
    events, why = log_events(facts, "mce_logged", "mce_corrected", "mce_uncorrected", "memory_failure", "edac",
                              "ghes")
    edac = facts.get("memory.edac")
    if events is None and edac is None:
        return skip(f"no kernel log ({why}) and no EDAC counters ({facts.reason('memory.edac')})", expected)
    uncorrected: list[str] = []
    corrected: list[str] = []
    observed: list[str] = []
    for e in events or ():
        kind = e["kind"]
        bad = (kind in ("mce_uncorrected", "memory_failure") or (kind == "edac" and e.get("type") == "UE")
               or (kind == "ghes" and e.get("severity", "").lower() != "corrected"))
        (uncorrected if bad else corrected).append(evidence(e))
    for mc in edac or ():
        if mc.get("ue"):
            uncorrected.append(f"EDAC {mc['mc']}: ue_count {mc['ue']}")
        if mc.get("ce"):
            corrected.append(f"EDAC {mc['mc']}: ce_count {mc['ce']}")
    observed = uncorrected + corrected
    if uncorrected:
        return problem(observed, expected, f"{len(uncorrected)} uncorrected machine-check / memory error record(s)",
                       where=uncorrected[0])
    if corrected:
        return problem(observed, expected, f"{len(corrected)} corrected machine-check / memory error record(s): "
                       "a DIMM or CPU that starts to fail", severity_key="corrected_severity", where=corrected[0])
    return passed(f"none in {facts.get('kernel.log_source') or 'the EDAC counters'}", expected)


@check("host.oom", fix=("processes",))
def check_oom(facts: Facts, p: Mapping[str, Any]) -> Finding:
    expected = "no process killed for lack of memory"
    events, why = log_events(facts, "oom_kill")
    if events is None:
        return skip(f"kernel log not available: {why}", expected)
    if not events:
        return passed(f"no OOM kill in the kernel log ({facts.get('kernel.log_source')})", expected)
    killed = [f"{e['pid']} ({e['comm']}) at {e['time']}" + (" in a memory cgroup" if e.get("scope", "").startswith(
        "Memory cgroup") else "") for e in events]
    names = sorted({e["comm"] for e in events})
    return problem(killed, expected, f"the kernel killed {len(events)} process(es) for lack of memory: "
                   + ", ".join(names), processes=", ".join(names))
