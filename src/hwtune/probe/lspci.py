"""Recorded `lspci -vvv`: each device's header, its bridge bus range and its
Advanced Error Reporting status, and the AER state of the NVIDIA GPUs' links.

Where sysfs has no `aer_dev_*` counters (kernels before 4.17, or a snapshot
without /sys), the AER capability's status registers as lspci decodes them
are the evidence left: a set bit is printed `Name+`, a clear one `Name-`
(pciutils `ls-ecaps.c`, `cap_aer`). lspci 3.10 and newer wrap the longer
uncorrectable lists onto indented continuation lines; both forms are read.

A status bit whose mask bit is set was not reported to the OS (PCIe Base
Spec, AER Correctable/Uncorrectable Error Mask registers). The mask stops
the report, not the recording: a masked bit that is set is an error that
happened (gpu.pcie_errors WARNs, saying "masked"), except a masked
`AdvNonFatalErr+`, which is what a healthy link shows after config-space
probing (its mask defaults to 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# 0002:21:00.0 VGA compatible controller: NVIDIA Corporation GA102 [...] (rev a1) (prog-if 00 [...])
# 01:00.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 PCIe 40GB] [10de:20f1] (rev a1)
# Every pattern here is anchored and has no two quantifiers that can take the same characters:
# a recorded file is anyone's, and a 5 KB header line took 149 s with one that had.
_ADDRESS = re.compile(r"(?:([0-9a-fA-F]{4,8}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])\s")
_CLASS_END = re.compile(r"[^:\[]*")  # the class name runs to the first ":" or "["
_CLASS_ID = re.compile(r"\[[0-9a-fA-F]{4}\]:")  # "[0302]:" after the class name (lspci -nn)
_NAME_SUFFIX = re.compile(r"\((?:rev [0-9a-fA-F]+|prog-if [^()]*\])\)")  # [^()]: a scan stops at the next one
_BUS = re.compile(r"Bus:\s*primary=([0-9a-fA-F]{2}),\s*secondary=([0-9a-fA-F]{2}),\s*subordinate=([0-9a-fA-F]{2})")
_AER_CAP = re.compile(r"Capabilities:\s*\[[0-9a-fA-F]+(?:\s+v\d+)?\]\s*Advanced Error Reporting")
_FIELD = re.compile(r"(UESta|UEMsk|UESvrt|CESta|CEMsk):\s*(.*)")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9 ]*:")  # "AERCap:", "HeaderLog:", "Kernel driver in use:"
_SET_BIT = re.compile(r"(?<!\S)([A-Za-z][A-Za-z0-9_]*)\+(?!\S)")  # a whole word "Name+"
GPU_CLASSES = ("VGA compatible controller", "3D controller", "Display controller")
# PCIe Base Spec, Uncorrectable Error Severity register defaults: used only
# when a capture shows no UESvrt line.
DEFAULT_FATAL = frozenset({"DLP", "SDES", "FCP", "RxOF", "MalfTLP", "UncorrIntErr"})
MAX_DEVICES = 4096  # a 256-bus domain holds at most 8192 functions; more than this is not an lspci listing


@dataclass
class LspciDevice:
    address: str  # "0000:01:00.0"
    pci_class: str  # "VGA compatible controller"
    name: str  # "NVIDIA Corporation TU116 [GeForce GTX 1650 SUPER]"
    secondary: int | None = None  # a bridge's bus range
    subordinate: int | None = None
    caps_denied: bool = False  # "Capabilities: <access denied>": lspci ran without root
    aer: dict[str, list[str]] = field(default_factory=dict)  # "CESta" -> the bits shown set; a key per line seen
    lines: dict[str, str] = field(default_factory=dict)  # "CESta" -> the line as printed (continuations joined)

    @property
    def domain(self) -> str:
        return self.address[:-8]

    @property
    def bus(self) -> int:
        return int(self.address[-7:-5], 16)

    @property
    def is_nvidia_gpu(self) -> bool:
        vendor = self.name.lower()
        return self.pci_class in GPU_CLASSES and (vendor.startswith("nvidia") or "[10de:" in vendor)


def parse_lspci(text: str) -> list[LspciDevice]:
    """`lspci -vvv` text -> its devices, in order; lines it does not know are skipped."""
    devices: list[LspciDevice] = []
    current: LspciDevice | None = None
    in_aer = False
    field_name: str | None = None
    field_indent = 0
    joined: list[str] = []  # the current AER field's line and its continuations
    for raw in text.splitlines():
        if not raw or raw.isspace():
            continue
        body = raw.strip()  # each line is copied once or twice, never per character
        lead = raw[:len(raw) - len(raw.lstrip())]
        indent = len(lead.expandtabs(8)) if lead else 0
        if indent == 0:
            _end_field(current, field_name, joined)
            current, in_aer, field_name = _header(body), False, None
            if current is not None:
                if len(devices) >= MAX_DEVICES:
                    break
                devices.append(current)
            continue
        if current is None:
            continue
        if field_name is not None and indent > field_indent and not _KEY.match(body):
            current.aer[field_name] += _bits(body)
            joined.append(" ".join(body.split()))  # joined once the field ends: no concatenation per line
            continue
        _end_field(current, field_name, joined)
        field_name = None
        if body.startswith("Capabilities:"):
            in_aer = bool(_AER_CAP.match(body))
            current.caps_denied = current.caps_denied or "<access denied>" in body
            continue
        bus = _BUS.match(body)
        if bus:
            current.secondary, current.subordinate = int(bus.group(2), 16), int(bus.group(3), 16)
            continue
        m = _FIELD.match(body) if in_aer else None
        if m:
            field_name, field_indent = m.group(1), indent
            current.aer[field_name] = _bits(m.group(2))
            joined = [f"{field_name}: " + " ".join(m.group(2).split())]
    _end_field(current, field_name, joined)
    return devices


def _end_field(device: LspciDevice | None, name: str | None, parts: list[str]) -> None:
    """The AER field's line as printed, its continuation lines joined with single spaces."""
    if device is not None and name is not None and parts:
        device.lines[name] = " ".join(parts)
        parts.clear()


def _header(line: str) -> LspciDevice | None:
    """`BUS:DEV.FN CLASS[ [id]]: NAME`, or None; linear in the line."""
    m = _ADDRESS.match(line)
    if not m:
        return None
    start = m.end()
    end = _CLASS_END.match(line, start).end()  # type: ignore[union-attr]  # matches any text, if only ""
    if line.startswith(":", end):
        name = line[end + 1:]
    elif _CLASS_ID.match(line, end):
        name = line[end + 7:]
    else:
        return None
    pci_class = line[start:end].strip()
    if not pci_class:
        return None
    domain = (m.group(1) or "0000").lower().rjust(4, "0")
    address = f"{domain}:{m.group(2).lower()}:{m.group(3).lower()}.{m.group(4)}"
    pieces = _NAME_SUFFIX.split(name)  # the space before each "(rev ..)" goes with it
    name = "".join([p.rstrip() for p in pieces[:-1]] + pieces[-1:]).strip()
    return LspciDevice(address=address, pci_class=pci_class, name=name)


def _bits(text: str) -> list[str]:
    return _SET_BIT.findall(text)


def upstream_bridges(devices: list[LspciDevice], gpu: LspciDevice) -> list[LspciDevice]:
    """The bridges whose secondary..subordinate range holds the GPU's bus, nearest first."""
    above = [d for d in devices if d.secondary is not None and d.subordinate is not None
             and d.domain == gpu.domain and d.address != gpu.address and d.secondary <= gpu.bus <= d.subordinate]
    # ignored below: both bus numbers are ints, filtered above; mypy does not carry that into the key
    return sorted(above, key=lambda d: (d.subordinate - d.secondary, -d.secondary))  # type: ignore[operator]


BENIGN_MASKED = "AdvNonFatalErr"  # set under its mask on healthy links


def link_errors(device: LspciDevice) -> dict[str, Any]:
    """What one device's AER status says, split as the checks judge it."""
    aer = device.aer
    ce_masked = set(aer.get("CEMsk", ()))
    ue_masked = set(aer.get("UEMsk", ()))
    fatal_bits = set(aer["UESvrt"]) if "UESvrt" in aer else DEFAULT_FATAL
    ue = [b for b in aer.get("UESta", ()) if b not in ue_masked]
    out: dict[str, Any] = {
        "aer": "CESta" in aer or "UESta" in aer,
        "correctable": [b for b in aer.get("CESta", ()) if b not in ce_masked],
        "fatal": [b for b in ue if b in fatal_bits],
        "nonfatal": [b for b in ue if b not in fatal_bits],
        "masked": [b for b in aer.get("CESta", ()) if b in ce_masked]
                  + [b for b in aer.get("UESta", ()) if b in ue_masked],
    }
    keys = (["CESta"] if out["correctable"] else []) + (["UESta"] if out["fatal"] or out["nonfatal"] else []) \
        + (["UESvrt"] if out["fatal"] and "UESvrt" in aer else [])
    out["evidence"] = [device.lines[k] for k in keys if k in device.lines]
    masked_keys = (["CESta", "CEMsk"] if any(b in ce_masked for b in aer.get("CESta", ()) if b != BENIGN_MASKED)
                   else []) + (["UESta", "UEMsk"] if any(b in ue_masked for b in aer.get("UESta", ())) else [])
    out["masked_evidence"] = [device.lines[k] for k in masked_keys if k in device.lines]
    return out


def nvidia_link_errors(devices: list[LspciDevice]) -> list[dict[str, Any]]:
    """One record per NVIDIA GPU and per bridge above it (a bridge shared by
    several GPUs once, under the first GPU)."""
    out, seen = [], set()
    for gpu in (d for d in devices if d.is_nvidia_gpu):
        for role, dev in [("gpu", gpu)] + [("upstream port", b) for b in upstream_bridges(devices, gpu)]:
            if dev.address in seen:
                continue
            seen.add(dev.address)
            out.append({"address": dev.address, "role": role, "gpu": gpu.address, "name": dev.name,
                        "caps_denied": dev.caps_denied, **link_errors(dev)})
    return out
