"""What guard's rules look at, taken from Facts: kernel-log events and current readings.

The kernel log's events are the health checks' own (health/events.py: the
patterns of kernel_log.toml over what the kernel wrote); the readings are the
GPU records' health fields, the nvidia-smi table's errors, EDAC and AER
counters. Every target is named as `lspci -D` prints it ("0000:3b:00.0"), or
"node".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hwtune import pciaddr
from hwtune.facts import Facts
from hwtune.guard.store import Event
from hwtune.health.events import evidence, log_events
from hwtune.health.xid import classify

NODE = "node"
RETIRED_PAGES_LIMIT = 60  # as gpu.retired_pages: DCGM's DCGM_LIMIT_MAX_RETIRED_PAGES
LOST_WORDS = ("gpu is lost", "unknown error", "device handle", "gpu requires reset")
# The kernel-log kinds guard judges, once or following, and the only ones a rule may name: the
# hardware's own messages (an OOM kill or a CPU throttle line is the workload's or the cooling's).
LOG_KINDS = ("xid", "gpu_off_bus", "mce_logged", "mce_uncorrected", "mce_corrected", "memory_failure", "edac",
             "ghes", "aer", "pcie_bus_error")


def bus_id(text: str) -> str:
    """"00000000:19:00.0", "0000:A1:00.0", "0000:19:00", "PCI:0000:19:00" -> "0000:19:00.0"."""
    address = pciaddr.parse(text)
    return str(address) if address is not None else text.strip().lower()


@dataclass(frozen=True)
class Reading:
    kind: str  # guard/rules.py READING_KINDS
    target: str
    evidence: str


@dataclass(frozen=True)
class Signals:
    events: tuple[Event, ...]
    readings: tuple[Reading, ...]
    samples: tuple[tuple[str, str, float | None], ...]  # (target, counter, value)
    gpus: tuple[str, ...]  # every GPU seen, by bus id
    log_readable: bool
    gpus_readable: bool
    reasons: tuple[str, ...]  # why a source could not be read


def log_event(boot: str, key: str, t: float, order: int, raw: dict[str, Any]) -> Event:
    """One matched kernel-log event as the store keeps it."""
    kind = str(raw.get("kind"))
    code = int(raw["code"]) if kind == "xid" and str(raw.get("code", "")).isdigit() else None
    if kind in ("xid", "gpu_off_bus") and raw.get("bus"):
        target = bus_id(str(raw["bus"]))
    elif kind in ("aer", "pcie_bus_error") and raw.get("port"):
        target = NODE  # a port's error quarantines the node; the port is in the evidence
    else:
        target = NODE
    fields = {k: str(v)[:256] for k, v in raw.items() if k in ("detail", "type", "severity", "port")}
    return Event(boot, key, t, order, kind, target, code, json.dumps(fields, sort_keys=True),
                 evidence(raw)[:512])


def fields_of(event: Event) -> dict[str, str]:
    """The event's fields (detail, type, severity, port); {} where the stored text is not ours."""
    try:
        data = json.loads(event.detail)
    except ValueError:
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def _digest_keys(raws: Iterable[dict[str, Any]]) -> list[str]:
    """A key for each event of a source with no sequence numbers: its time, text and how many of the
    same came before it, so that the same log read again gives the same keys."""
    seen: dict[str, int] = {}
    keys = []
    for raw in raws:
        base = f"{raw.get('time', '')}\x00{raw.get('message', '')}"
        n = seen.get(base, 0)
        seen[base] = n + 1
        keys.append("h" + hashlib.sha256(f"{base}\x00{n}".encode()).hexdigest()[:24])
    return keys


def collect(facts: Facts, boot: str, now: float) -> Signals:
    reasons: list[str] = []
    raws, why = log_events(facts, *LOG_KINDS, whole_log=False)
    events: list[Event] = []
    if raws is None:
        reasons.append(f"kernel log: {why}")
    else:
        keys = [f"s{r['seq']}" if isinstance(r.get("seq"), int) else None for r in raws]
        digests = _digest_keys(raws)
        events = [log_event(boot, k or d, now, i, r)
                  for i, (r, k, d) in enumerate(zip(raws, keys, digests, strict=True))]
    readings, samples, gpus = _gpu_readings(facts)
    readings += _host_readings(facts)
    samples += _host_samples(facts)
    gpus_readable = bool(facts.gpus) or bool(facts.get("gpu.table_errors"))
    if not gpus_readable and facts.get("gpu.count") != 0:
        reasons.append(f"GPU readings: {facts.reason('gpu.count') or 'none recorded'}")
    gpus |= {e.target for e in events if e.kind in ("xid", "gpu_off_bus")}
    return Signals(tuple(events), tuple(readings), tuple(samples), tuple(sorted(gpus)), raws is not None,
                   gpus_readable, tuple(reasons))


def _gpu_readings(facts: Facts) -> tuple[list[Reading], list[tuple[str, str, float | None]], set[str]]:
    readings: list[Reading] = []
    samples: list[tuple[str, str, float | None]] = []
    gpus: set[str] = set()
    for g in facts.gpus:
        if not g.bus_id:
            continue
        bus = bus_id(g.bus_id)
        gpus.add(bus)
        if g.error:
            kind = "gpu_lost" if any(w in g.error.lower() for w in LOST_WORDS) else "field_unreadable"
            readings.append(Reading(kind, bus, f"GPU {bus}: {g.error}"))
        h = g.health
        if h is None:
            continue
        for name in ("ecc_volatile_uncorrected", "ecc_aggregate_uncorrected", "ecc_volatile_corrected",
                     "remapped_rows_uncorrectable", "remapped_rows_correctable", "retired_pages_sbe",
                     "retired_pages_dbe", "pcie_replays"):
            samples.append((bus, name, getattr(h, name)))
        reasons = set(h.throttle_reasons or ())
        if h.throttle_reasons is not None:  # each reason a 0/1 sample: when it was on, over time
            samples += [(bus, f"throttle_{r}", 1.0 if r in reasons else 0.0) for r in THROTTLE_SAMPLED]
        pages = (h.retired_pages_sbe or 0) + (h.retired_pages_dbe or 0)
        for kind, holds, shown in (
            ("reset_required", h.reset_required, "Reset Required: Yes"),
            ("ecc_uncorrected_volatile", (h.ecc_volatile_uncorrected or 0) > 0,
             f"{h.ecc_volatile_uncorrected} uncorrectable ECC errors since the driver loaded"),
            ("row_remap_pending", h.remapped_rows_pending, "a remapped row waits for a GPU reset"),
            ("row_remap_failure", h.remapped_rows_failure, "row remapping failed"),
            ("retired_pages_pending", h.retired_pages_pending, "a page retirement is pending"),
            ("retired_pages_limit", pages >= RETIRED_PAGES_LIMIT, f"{pages} pages retired"),
            ("hw_power_brake", "hw_power_brake_slowdown" in reasons, "HW power brake slowdown active"),
            ("hw_thermal_slowdown", "hw_thermal_slowdown" in reasons, "HW thermal slowdown active"),
            ("pcie_replays", (h.pcie_replays or 0) > 0, f"{h.pcie_replays} PCIe replays since reset"),
            ("field_unreadable", bool(h.unreadable), f"unreadable {', '.join(h.unreadable)}"),
        ):
            if holds:
                readings.append(Reading(kind, bus, f"GPU {bus}: {shown}"))
    for row in facts.get("gpu.table_errors") or ():
        bus = bus_id(str(row.get("bus_id") or f"GPU{row.get('index')}"))
        gpus.add(bus)
        lost = any(w in str(row.get("message", "")).lower() for w in LOST_WORDS)
        readings.append(Reading("gpu_lost" if lost else "field_unreadable", bus,
                                f"GPU {bus}: {', '.join(row.get('fields', []))}: {row.get('message', '')}"[:512]))
    return readings, samples, gpus


THROTTLE_SAMPLED = ("hw_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "sw_thermal_slowdown",
                    "sw_power_cap")


def _host_samples(facts: Facts) -> list[tuple[str, str, float | None]]:
    """EDAC and AER counters, by controller and PCIe address."""
    out: list[tuple[str, str, float | None]] = []
    for mc in facts.get("memory.edac") or ():
        for key in ("ce", "ue"):
            if isinstance(mc.get(key), int):
                out.append((NODE, f"edac_{mc.get('mc')}_{key}", float(mc[key])))
    for entry in facts.get("pci.aer") or ():
        for key in ("correctable", "nonfatal", "fatal"):
            if isinstance(entry.get(key), int):
                out.append((str(entry.get("address", "?"))[:32], f"aer_{key}", float(entry[key])))
    return out


def _host_readings(facts: Facts) -> list[Reading]:
    out = []
    for mc in facts.get("memory.edac") or ():
        if mc.get("ue"):
            out.append(Reading("edac_ue", NODE, f"EDAC {mc.get('mc')}: ue_count {mc['ue']}"))
    for entry in facts.get("pci.aer") or ():
        if entry.get("fatal"):
            out.append(Reading("aer_fatal", NODE, f"{entry.get('address')}: AER fatal {entry['fatal']}"))
    return out


def xid_class(event: Event) -> tuple[str, str]:
    """(the catalogue's severity, NVIDIA's resolution bucket) of an Xid event; a GPU off the bus is Xid 79's."""
    if event.kind == "gpu_off_bus":
        entry = classify(79)
    elif event.code is None:
        return "", ""
    else:
        entry = classify(event.code, fields_of(event).get("detail", ""))
    return entry.severity, entry.nvidia_action
