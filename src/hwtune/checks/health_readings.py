"""GPU health: readings the driver cannot give, and GPUs that wait for a reset or a reboot.

Sources: the GPU records (NVML, `nvidia-smi -q -x`, `-q` text, the default
table), the recorded table's ERR! cells and lost GPUs, and the driver's
reset-required lines in the kernel log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hwtune.checks.gpu import _label, no_gpu
from hwtune.checks.health_gpu import _bus, _gpu_id
from hwtune.checks.registry import Finding, check, passed, problem, skip
from hwtune.facts import Facts, Gpu
from hwtune.health.events import evidence, log_events

AREA = "gpu"


# -- unreadable readings ----------------------------------------------------------------------

LOST = ("gpu is lost", "unknown error", "device handle", "gpu requires reset")
SENSORS = ("fan", "temp", "power")  # fields of a sensor, a fan or the board's controller
# the slot's capability nvidia-smi asks the host for: a hypervisor hides it ("Host Max : Unknown Error")
HIDDEN_IN_VM = ("Host Max", "max_host_link_gen")  # -q text; -q -x


@check("gpu.readings", fix=("gpus", "action"), field_severity="warn")
def check_readings(facts: Facts, p: Mapping[str, Any]) -> Finding:
    expected = "every GPU answers every reading and none waits for a reset"
    table = facts.get("gpu.table_errors")  # set from recorded captures only
    log_resets, _ = log_events(facts, "gpu_reset_required", whole_log=False)
    if not facts.gpus and table is None and not log_resets:
        return skip(no_gpu(facts) if facts.get("gpu.count") == 0 else
                    f"no GPU readings: {facts.reason('gpu.count')}", expected)
    lost: list[str] = []
    reset: list[str] = []
    reboot: list[str] = []
    fields: dict[str, list[str]] = {}
    observed: list[str] = []
    for g in facts.gpus:
        if g.error:
            lost.append(_gpu_id(g))
            observed.append(f"{_label(g)}: {g.error}")
            continue
        h = g.health
        if h is not None and h.reset_required:
            action = h.recovery_action or ""
            (reboot if "reboot" in action.lower() else reset).append(_gpu_id(g))
            observed.append(f"{_label(g)}: " + (f"GPU Recovery Action: {action}" if action else
                                                 "reset required (GPU Reset Status: Reset Required: Yes)"))
        if h is not None and h.unreadable:
            faulty, hidden = _split_hidden(g, h.unreadable, facts)
            if faulty:
                fields[_gpu_id(g)] = faulty
                observed.append(f"{_label(g)}: unreadable {', '.join(faulty)}")
            if hidden:
                observed.append(f"{_label(g)}: {', '.join(hidden)} unknown (a virtual machine: the hypervisor "
                                "hides the slot's capability; not a fault)")
    for e in log_resets or ():
        where = _bus(e["bus"]) if e.get("bus") else f"GPU{e['gpu']} (the driver's numbering)" if e.get("gpu") \
            else "a GPU the line does not name"
        if where not in reset:
            reset.append(where)
        observed.append(f"{where}: the driver asks for a reset: {evidence(e)}")
    for row in table or ():
        where = row.get("bus_id") or f"GPU{row.get('index')}"
        observed.append(f"{where}: {', '.join(row['fields'])}: {row['message']}")
        if any(k in row["message"].lower() for k in LOST):
            lost.append(where)
        else:
            fields.setdefault(where, []).extend(row["fields"])
    if lost or reset or reboot:
        return _lost_or_reset(observed, expected, lost, reset, reboot)
    if fields:
        sensors = all(any(s in f.lower() for s in SENSORS) for names in fields.values() for f in names)
        what = ("some readings fail (ERR!): a sensor, fan or the board's management controller is faulty" if sensors
                else "some readings fail: " + "; ".join(f"{gpu}: {', '.join(names)}" for gpu, names in fields.items()))
        return problem(observed, expected, what, severity_key="field_severity", gpus=", ".join(fields),
                       action=FIELD_ACTION if sensors else READING_ACTION)
    count = len(facts.gpus) or len(table or [])
    return passed(observed or f"{count} GPU(s) answer every reading", expected,
                  "" if not observed else f"{count} GPU(s) answer every reading")


def _split_hidden(g: Gpu, unreadable: tuple[str, ...], facts: Facts) -> tuple[list[str], list[str]]:
    """The GPU's unreadable fields: (faults, fields a hypervisor hides from a VM)."""
    virtual = bool(facts.get("cpu.hypervisor")) or (g.virtualization_mode or "none").lower() not in ("none", "")
    hidden = [f for f in unreadable if virtual and f.rsplit("/", 1)[-1] in HIDDEN_IN_VM]
    return [f for f in unreadable if f not in hidden], hidden


def _lost_or_reset(observed: list[str], expected: str, lost: list[str], reset: list[str],
                   reboot: list[str]) -> Finding:
    what = ([f"the driver cannot read {', '.join(lost)} (lost, unknown error, no device handle)"] if lost
            else []) + ([f"reset required on {', '.join(reset)}: the driver asks for a GPU reset before the GPU "
                         "serves again"] if reset else []) + (
        [f"the driver asks for a node reboot for {', '.join(reboot)}"] if reboot else [])
    buses = [b for b in reset if re.fullmatch(r"[0-9a-fA-F:.]+", b)]
    action = "; ".join(([LOST_ACTION] if lost else []) + ([RESET_ACTION.format(
        commands="; ".join(f"nvidia-smi -r -i {bus}" for bus in buses) or "nvidia-smi -r -i <bus id>")]
        if reset else []) + ([REBOOT_ACTION] if reboot else []))
    return problem(observed, expected, "; ".join(what) + "; the other GPUs still report",
                   gpus=", ".join(lost + reset + reboot), action=action)


LOST_ACTION = "a lost GPU: drain the host, reboot, reseat the card and check its power"
# nvidia-smi -r resets one GPU; it refuses while processes use it, hence the drain first
RESET_ACTION = ("reset required: drain the GPU (stop the processes using it), then reset it as root: {commands} "
                "(or reboot the host); if the flag comes back, run the field diagnostic")
REBOOT_ACTION = "node reboot required: drain the host and reboot it (a GPU reset is not enough)"
FIELD_ACTION = "a failing sensor or fan: check the board and its cooling"
READING_ACTION = "readings the driver cannot answer: look at the driver's log for these GPUs (nvidia-bug-report.sh)"
