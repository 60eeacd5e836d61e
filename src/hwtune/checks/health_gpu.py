"""GPU health: Xid events, ECC, row remapping, page retirement, throttling, PCIe errors, unreadable readings.

Each check judges what the sources observed (the GPU records' health
readings, the kernel log's events, the AER counters); it names the GPU by
its bus id and shows the evidence: the log line with its time, or the
counter. The kernel log's events carry the bus as the driver prints it
("0000:19:00"); `_bus` brings every form to that one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from hwtune import pciaddr
from hwtune.checks.gpu import _gpus, _label, no_gpu
from hwtune.checks.registry import Finding, check, passed, problem, skip
from hwtune.facts import Facts, Gpu, GpuHealth
from hwtune.health.events import evidence, log_events, log_read
from hwtune.health.xid import SEVERITIES, Xid, classify, fix_for
from hwtune.probe.lspci import BENIGN_MASKED

AREA = "gpu"


def _bus(bus_id: str) -> str:
    """"00000000:19:00.0", "0000:A1:00.0", "0000:19:00" -> "0000:19:00" (the kernel's Xid
    lines name the device, not the function)."""
    address = pciaddr.parse(bus_id)
    return address.slot if address is not None else bus_id.strip().lower()


def _with_health(facts: Facts, field: str) -> tuple[list[tuple[Gpu, GpuHealth]], str]:
    """The GPUs that report `field`, or why none does."""
    if not facts.gpus:
        return [], str(_gpus(facts))  # the reason there is none
    found = [(g, g.health) for g in facts.gpus if g.health is not None and getattr(g.health, field) is not None]
    if not found:
        return [], f"the driver ({facts.get('gpu.source') or 'no source'}) reports no {field.replace('_', ' ')}"
    return found, ""


# -- gpu.xid ----------------------------------------------------------------------------

@check("gpu.xid", fix=("gpus", "action"), application_severity="warn")
def check_xid(facts: Facts, p: Mapping[str, Any]) -> Finding:
    events, why = log_events(facts, "xid", "gpu_off_bus", "gpu_uuid", whole_log=False)
    expected = "no Xid event that needs a GPU reset or replacement"
    if events is None:
        return skip(f"kernel log not available: {why}", expected)
    uuids = {_bus(e["bus"]): e["uuid"] for e in events if e["kind"] == "gpu_uuid"}
    per_gpu: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    for e in events:
        if e["kind"] == "xid":
            per_gpu.setdefault(_bus(e["bus"]), []).append((e, classify(int(e["code"]), e.get("detail", ""))))
    for e in events:  # the driver's "fallen off the bus" line, with or without an Xid 79 before it
        if e["kind"] == "gpu_off_bus" and not any(x.code == 79 for _, x in per_gpu.get(_bus(e["bus"]), [])):
            per_gpu.setdefault(_bus(e["bus"]), []).append((e, classify(79)))
    if not per_gpu:
        if facts.get("gpu.count") == 0:
            return skip(no_gpu(facts), expected)
        return passed(f"no Xid event in {log_read(facts)}", expected)
    findings = []
    fixes: dict[str, str] = {}
    for bus, seen in sorted(per_gpu.items()):
        counts = Counter(x.code for _, x in seen)
        key_event, key_xid = max(seen, key=lambda s: _xid_rank(s[1]))  # the GPU's worst event
        rank = _xid_rank(key_xid)
        name = f"GPU {bus}" + (f" ({uuids[bus]})" if bus in uuids else "")
        codes = ", ".join(f"Xid {code} x{n} ({classify(code).description.split(' (')[0]})"
                          for code, n in sorted(counts.items()))
        times = sorted(e["time"] for e, _ in seen)
        fixes[bus] = fix_for(key_xid, key_event.get("detail", ""), bus)
        findings.append((rank, bus, f"{name}: {codes}, {times[0]} .. {times[-1]}; e.g. {evidence(key_event)}"
                         + (f"; NVIDIA's action: {key_xid.nvidia_action}" if key_xid.nvidia_action else "")))
    findings.sort(key=lambda f: (-f[0], f[1]))
    observed = [text for _, _, text in findings]
    worst = SEVERITIES[-1 - findings[0][0]]
    if worst == "info":
        return passed(observed, expected, "only informational Xid events")
    bad = [bus for rank, bus, _ in findings if rank == findings[0][0]]
    action = "; ".join(f"{bus}: {fixes[bus]}" for bus in bad) if len(bad) > 1 else fixes[bad[0]]
    if worst == "fail":
        return problem(observed, expected, f"{len(bad)} GPU(s) logged Xid events that need a GPU reset, a reboot "
                       "or service", gpus=", ".join(bad), action=action)
    return problem(observed, expected, "Xid events the application caused (or NVIDIA says to investigate); "
                   "the GPU itself keeps serving", severity_key="application_severity", gpus=", ".join(bad),
                   action=action)


def _xid_rank(xid: Xid) -> int:
    """0 for info, 1 for warn, 2 for fail (xid.csv's severities, worst first)."""
    return len(SEVERITIES) - 1 - SEVERITIES.index(xid.severity)


# -- ECC, row remapping, page retirement ---------------------------------------------------

@check("gpu.ecc_errors", fix=("gpus", "action"), aggregate_severity="warn")
def check_ecc_errors(facts: Facts, p: Mapping[str, Any]) -> Finding:
    expected = "no uncorrectable ECC error"
    found, why = _with_health(facts, "ecc_volatile_uncorrected")
    if not found:
        found, _ = _with_health(facts, "ecc_aggregate_uncorrected")
        if not found:
            return skip(f"ECC counters not reported: {why}", expected)
    volatile = [(g, h) for g, h in found if (h.ecc_volatile_uncorrected or 0) > 0]
    aggregate = [(g, h) for g, h in found if (h.ecc_aggregate_uncorrected or 0) > 0]
    observed = [f"{_label(g)}: uncorrectable {h.ecc_volatile_uncorrected} since the driver loaded, "
                f"{h.ecc_aggregate_uncorrected} over its life; correctable {h.ecc_volatile_corrected} / "
                f"{h.ecc_aggregate_corrected}" for g, h in found]
    if volatile:
        return problem(observed, expected, "uncorrectable (double-bit) ECC errors since the driver loaded: "
                       "data on these GPUs may be corrupt", gpus=", ".join(g.bus_id or _label(g) for g, _ in volatile),
                       action=ECC_ACTION)
    if aggregate:
        return problem(observed, expected, "uncorrectable ECC errors in the GPU's lifetime record (none since "
                       "the driver loaded)", severity_key="aggregate_severity",
                       gpus=", ".join(g.bus_id or _label(g) for g, _ in aggregate),
                       action="nothing to do now (none since the driver loaded): if the count grows, run the NVIDIA "
                       "field diagnostic")
    corrected = sum((h.ecc_aggregate_corrected or 0) for _, h in found)
    return passed(observed, expected,
                  f"correctable errors only ({corrected} over the GPUs' lives)" if corrected else "")


ECC_ACTION = ("drain it and reset it (sudo nvidia-smi -r -i <bus id>) so the row remap or page retirement "
              "takes effect; if errors return, run the NVIDIA field diagnostic for an RMA")


@check("gpu.row_remap", fix=("gpus",))
def check_row_remap(facts: Facts, p: Mapping[str, Any]) -> Finding:
    expected = "no row remap pending and no remapping failure"
    found, why = _with_health(facts, "remapped_rows_pending")
    if not found:
        return skip(f"remapped rows not reported (GPUs before Ampere retire pages instead): {why}", expected)
    observed = [f"{_label(g)}: {h.remapped_rows_uncorrectable} rows remapped for uncorrectable errors, "
                f"{h.remapped_rows_correctable} for correctable; pending {'yes' if h.remapped_rows_pending else 'no'}; "
                f"failure {'yes' if h.remapped_rows_failure else 'no'}" for g, h in found]
    failed = [g for g, h in found if h.remapped_rows_failure]
    pending = [g for g, h in found if h.remapped_rows_pending]
    if failed:
        return problem(observed, expected, "row remapping failed: the GPU has no spare row left for an "
                       "uncorrectable error (NVIDIA's RMA criterion)", gpus=", ".join(_gpu_id(g) for g in failed))
    if pending:
        return problem(observed, expected, "a remapped row waits for a GPU reset; until then the bad row "
                       "stays in use", gpus=", ".join(_gpu_id(g) for g in pending))
    return passed(observed, expected)


# DCGM's health watch fails a GPU at 60 retired pages (SBE + DBE);
# NVIDIA DCGM dcgm_gpu_hardware_limits.h, DCGM_LIMIT_MAX_RETIRED_PAGES (63 in
# newer releases, to match the field diagnostic).
@check("gpu.retired_pages", fix=("gpus", "action"), replace_at_pages=60, below_threshold_severity="warn")
def check_retired_pages(facts: Facts, p: Mapping[str, Any]) -> Finding:
    limit = int(p["replace_at_pages"])
    expected = f"no retirement pending and fewer than {limit} retired pages"
    found, why = _with_health(facts, "retired_pages_pending")
    if not found:
        found, _ = _with_health(facts, "retired_pages_dbe")
        if not found:
            return skip(f"retired pages not reported (Ampere and newer remap rows instead): {why}", expected)

    def pages(h: GpuHealth) -> int:
        return (h.retired_pages_sbe or 0) + (h.retired_pages_dbe or 0)

    observed = [f"{_label(g)}: {h.retired_pages_dbe} pages retired for double-bit errors, {h.retired_pages_sbe} "
                f"for single-bit; pending {'yes' if h.retired_pages_pending else 'no'}" for g, h in found]
    pending = [g for g, h in found if h.retired_pages_pending]
    worn = [g for g, h in found if pages(h) >= limit]
    some = [g for g, h in found if 0 < pages(h) < limit]
    if pending or worn:
        parts = ([f"a page retirement waits for a reboot or driver reload on {', '.join(_gpu_id(g) for g in pending)}"]
                 if pending else []) + ([f"{limit}+ pages retired on {', '.join(_gpu_id(g) for g in worn)}: "
                                         "replace the GPU"] if worn else [])
        action = "; ".join((["drain it and reboot (or reload the nvidia module) to apply the pending retirement"]
                            if pending else []) + ([f"at {limit}+ retired pages run the NVIDIA field diagnostic "
                                                    "and file an RMA"] if worn else []))
        return problem(observed, expected, "; ".join(parts), gpus=", ".join(_gpu_id(g) for g in pending + worn),
                       action=action)
    if some:
        return problem(observed, expected, f"pages retired, below the replacement threshold of {limit}",
                       severity_key="below_threshold_severity", gpus=", ".join(_gpu_id(g) for g in some),
                       action=f"nothing to do now (no retirement pending): watch the count and plan a replacement "
                       f"as it nears {limit}")
    return passed(observed, expected)


def _gpu_id(gpu: Gpu) -> str:
    return gpu.bus_id or f"GPU{gpu.index}"


# -- throttling -----------------------------------------------------------------------------

def _hw_throttled(h: GpuHealth) -> bool:
    """HW thermal or power-brake slowdown; or HW slowdown with the SM clock cut
    by half or more (NVML: HW slowdown "may be also reported during PState or
    clock change"), or with the clock unknown."""
    reasons = set(h.throttle_reasons or ())
    if reasons & {"hw_thermal_slowdown", "hw_power_brake_slowdown"}:
        return True
    if "hw_slowdown" not in reasons:
        return False
    return h.clocks_sm_mhz is None or not h.clocks_sm_max_mhz or h.clocks_sm_mhz * 2 <= h.clocks_sm_max_mhz


@check("gpu.throttle", fix=("gpus",), sw_thermal_severity="warn", transient_severity="warn")
def check_throttle(facts: Facts, p: Mapping[str, Any]) -> Finding:
    expected = "no hardware slowdown and no thermal slowdown"
    found, why = _with_health(facts, "throttle_reasons")
    if not found:
        return skip(f"clocks event reasons not reported: {why}", expected)

    def describe(g: Gpu, h: GpuHealth) -> str:
        reasons = ", ".join(h.throttle_reasons or ()) or "none"
        clocks = (f"; SM {h.clocks_sm_mhz} of {h.clocks_sm_max_mhz} MHz" if h.clocks_sm_mhz is not None
                  and h.clocks_sm_max_mhz else "")
        temp = f"; {h.temp_c} C" if h.temp_c is not None else ""
        return f"{_label(g)}: {reasons}{clocks}{temp}"

    observed = [describe(g, h) for g, h in found]
    hw = [g for g, h in found if _hw_throttled(h)]
    transient = [g for g, h in found if "hw_slowdown" in (h.throttle_reasons or ()) and not _hw_throttled(h)]
    sw_thermal = [g for g, h in found if "sw_thermal_slowdown" in (h.throttle_reasons or ())]
    if hw:
        return problem(observed, expected, "hardware slowdown asserted (power brake, thermal or an external "
                       "signal): clocks are cut whatever the load", gpus=", ".join(_gpu_id(g) for g in hw))
    if sw_thermal or transient:
        what = (["the driver lowers clocks to keep the GPU under its temperature target"] if sw_thermal else []) + (
            ["HW slowdown reported with the clocks above half their maximum (a clock change?): look again"]
            if transient else [])
        return problem(observed, expected, "; ".join(what),
                       severity_key="sw_thermal_severity" if sw_thermal else "transient_severity",
                       gpus=", ".join(_gpu_id(g) for g in sw_thermal + transient))
    capped = [g for g, h in found if "sw_power_cap" in (h.throttle_reasons or ())]
    return passed(observed, expected, f"power cap active on {len(capped)} GPU(s): normal under load" if capped else "")


# -- PCIe errors ----------------------------------------------------------------------------

@check("gpu.pcie_errors", fix=("links",), recoverable_severity="warn")
def check_pcie_errors(facts: Facts, p: Mapping[str, Any]) -> Finding:
    expected = "no PCIe replay and no AER error on GPU links"
    replays, _ = _with_health(facts, "pcie_replays")
    aer = facts.get("pci.aer")
    lspci = facts.get("pci.lspci_aer")  # read only where sysfs has no AER counters
    events, log_why = log_events(facts, "aer", "pcie_bus_error")
    if not replays and aer is None and lspci is None and events is None:
        return skip("no source: the GPUs report no replay counter, sysfs has no AER counters "
                    f"({facts.reason('pci.aer')}), no lspci -vvv AER status ({facts.reason('pci.lspci_aer')}), "
                    f"and the kernel log is not available ({log_why})", expected)
    if facts.get("gpu.count") == 0:  # AER errors of other devices are not this check's
        return skip(no_gpu(facts), expected)
    links = aer if aer is not None else lspci
    gpu_links = {entry["address"] for entry in links} if links else None
    fatal: list[str] = []
    recoverable: list[str] = []
    observed: list[str] = []
    for g, h in replays:
        if h.pcie_replays:
            recoverable.append(_gpu_id(g))
            observed.append(f"{_label(g)}: {h.pcie_replays} PCIe replays since reset")
    for entry in aer or ():
        if entry.get("fatal"):
            fatal.append(entry["address"])
        if entry.get("correctable") or entry.get("nonfatal"):
            recoverable.append(entry["address"])
        if any(entry.get(k) for k in ("correctable", "nonfatal", "fatal")):
            observed.append(f"{entry['address']} ({entry['role']} of {entry['gpu']}): AER correctable "
                            f"{entry.get('correctable', 0)}, non-fatal {entry.get('nonfatal', 0)}, "
                            f"fatal {entry.get('fatal', 0)}")
    for entry in lspci if aer is None and lspci else ():
        observed.extend(_lspci_observed(entry))
        if entry["fatal"]:
            fatal.append(entry["address"])
        if entry["correctable"] or entry["nonfatal"] or _masked_errors(entry):
            recoverable.append(entry["address"])
    for port, seen in _group(events or [], "port").items():
        if gpu_links is not None and port not in gpu_links:
            continue  # a link with no GPU on it
        severities = {e["severity"] for e in seen}
        where = port if gpu_links is not None else f"{port} (which devices sit behind it is not in the snapshot)"
        observed.append(f"{where}: {len(seen)} AER log lines ({', '.join(sorted(severities))}); "
                        f"e.g. {evidence(seen[0])}")
        (fatal if any("Fatal" in s and "Non-Fatal" not in s for s in severities) else recoverable).append(port)
    if fatal:
        return problem(observed, expected, "uncorrectable fatal PCIe errors on a GPU link",
                       links=", ".join(sorted(set(fatal))))
    if recoverable:
        return problem(observed, expected, "PCIe link errors the hardware recovered from (replays, correctable "
                       "AER) or non-fatal uncorrectable ones: a marginal link, riser or slot",
                       severity_key="recoverable_severity", links=", ".join(sorted(set(recoverable))))
    return passed(observed or "no replay, no AER error", expected)


def _lspci_observed(entry: Mapping[str, Any]) -> list[str]:
    """One line per lspci AER finding: the device, then the status line as lspci printed it."""
    where = (f"GPU {entry['address']}" if entry["role"] == "gpu"
             else f"{entry['address']} (upstream port of GPU {entry['gpu']})")
    if not entry["aer"]:
        denied = " (capabilities: <access denied>: lspci ran without root)" if entry["caps_denied"] else ""
        return [f"{where}: no AER capability in lspci -vvv{denied}"]
    parts = ([f"correctable {', '.join(entry['correctable'])}"] if entry["correctable"] else []) + (
        [f"uncorrectable fatal {', '.join(entry['fatal'])}"] if entry["fatal"] else []) + (
        [f"uncorrectable non-fatal {', '.join(entry['nonfatal'])}"] if entry["nonfatal"] else [])
    errors = _masked_errors(entry)
    benign = [b for b in entry["masked"] if b not in errors]
    masked = (f"; masked (recorded, not reported to the OS): {', '.join(errors)}" if errors else "") + (
        f" (masked {', '.join(benign)}: usual on a healthy link)" if benign else "")
    shown = entry["evidence"] + [line for line in entry.get("masked_evidence", ()) if line not in entry["evidence"]]
    if not parts and not errors:
        return [f"{where}: lspci AER status clear{masked}"]
    return [f"{where}: lspci AER {'; '.join(parts) or 'no unmasked error'}{masked}; {' | '.join(shown)}"]


def _masked_errors(entry: Mapping[str, Any]) -> list[str]:
    """Status bits set under their mask: errors that happened though the mask kept them from being
    reported; a masked AdvNonFatalErr is what healthy links show."""
    return [b for b in entry.get("masked", ()) if b != BENIGN_MASKED]


def _group(events: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        out.setdefault(e.get(key, "?"), []).append(e)
    return out
