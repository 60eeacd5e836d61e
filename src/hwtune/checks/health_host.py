"""Host health: machine checks and memory errors, OOM kills (the memory area of the report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwtune.checks.registry import Finding, check, passed, problem, skip
from hwtune.facts import Facts
from hwtune.health.events import evidence, log_events, log_read

AREA = "memory"


# ghes "event severity": corrected is recovered; recoverable, fatal and the rest are not
@check("host.machine_check", fix=("where",), corrected_severity="warn")
def check_machine_check(facts: Facts, p: Mapping[str, Any]) -> Finding:
    expected = "no machine-check or memory error"
    events, why = log_events(facts, "mce_logged", "mce_corrected", "mce_uncorrected", "memory_failure", "edac",
                              "ghes")
    edac = facts.get("memory.edac")
    uncorrected, corrected = _machine_check_records(events or [], edac or [])
    observed = uncorrected + corrected
    if uncorrected:
        return problem(observed, expected, f"{len(uncorrected)} uncorrected machine-check / memory error record(s)",
                       where=uncorrected[0])
    if corrected:
        return problem(observed, expected, f"{len(corrected)} corrected machine-check / memory error record(s): "
                       "a DIMM or CPU that starts to fail", severity_key="corrected_severity", where=corrected[0])
    if events is None:  # machine checks are only in the kernel log: clear EDAC counters do not pass
        counters = "EDAC counters clear" if edac is not None else f"no EDAC counters ({facts.reason('memory.edac')})"
        return skip(f"kernel log not read ({why}); {counters}", expected)
    return passed(f"none in {log_read(facts)}" + ("; EDAC counters clear" if edac else ""), expected)


def _machine_check_records(events: list[dict[str, Any]], edac: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(uncorrected, corrected) evidence. A fatal machine check's panic line is the same event as
    the MCE line before it: counted once."""
    uncorrected: list[str] = []
    corrected: list[str] = []
    for e in events:
        kind = e["kind"]
        if e.get("panic") and uncorrected:
            continue
        bad = (kind in ("mce_uncorrected", "memory_failure") or (kind == "edac" and e.get("type") == "UE")
               or (kind == "ghes" and e.get("severity", "").lower() != "corrected"))
        (uncorrected if bad else corrected).append(evidence(e))
    for mc in edac:
        if mc.get("ue"):
            uncorrected.append(f"EDAC {mc['mc']}: ue_count {mc['ue']}")
        if mc.get("ce"):
            corrected.append(f"EDAC {mc['mc']}: ce_count {mc['ce']}")
    return uncorrected, corrected


@check("host.oom", fix=("processes",))
def check_oom(facts: Facts, p: Mapping[str, Any]) -> Finding:
    expected = "no process killed for lack of memory"
    events, why = log_events(facts, "oom_kill", "oom_invoked")
    if events is None:
        return skip(f"kernel log not read: {why}", expected)
    killed = [e for e in events if e["kind"] == "oom_kill"]
    invoked = [e for e in events if e["kind"] == "oom_invoked"]
    if not killed and not invoked:
        return passed(f"no OOM kill in {log_read(facts)}", expected)
    observed = [f"{e['pid']} ({e['comm']}) at {e['time']}" + (" in a memory cgroup" if e.get("scope", "").startswith(
        "Memory cgroup") else "") for e in killed]
    if len(invoked) > len(killed):  # the OOM killer ran, and its "Killed process" line is not in the log
        observed += [f"OOM killer invoked by {e['comm']} at {e['time']}: {evidence(e)}" for e in invoked]
    names = sorted({e["comm"] for e in killed})
    if names:
        return problem(observed, expected, f"the kernel killed {len(killed)} process(es) for lack of memory: "
                       + ", ".join(names), processes=", ".join(names))
    callers = sorted({e["comm"] for e in invoked})
    return problem(observed, expected, f"the OOM killer ran {len(invoked)} time(s) (the process it killed is not "
                   "in the log)", processes="the host's services (the OOM killer was invoked by "
                   + ", ".join(callers) + ")")
