"""CPU: architecture, vendor, model, topology, ISA flags.

Topology comes from sysfs first (`topology/physical_package_id`,
`thread_siblings_list`), /proc/cpuinfo second. Socket ids are arbitrary
numbers (Kunpeng uses 36 and 8442): count distinct values, never max+1.
"""

import re
from typing import NamedTuple

from hwtune.errors import ParseError
from hwtune.facts import FactsBuilder
from hwtune.host import Host
from hwtune.probe.cpulist import format_cpulist, parse_cpulist

# Flags reported as cpu.flags.<name>; matched as whole tokens (avx_vnni is not avx512_vnni).
X86_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16",
             "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
ARM_FEATURES = ("asimd", "asimddp", "sve", "sve2", "i8mm", "bf16")
ARM_IMPLEMENTERS = {"0x41": "ARM", "0x42": "Broadcom", "0x43": "Cavium", "0x46": "Fujitsu",
                    "0x48": "HiSilicon", "0x4e": "NVIDIA", "0x50": "APM", "0x51": "Qualcomm",
                    "0x61": "Apple", "0xc0": "Ampere"}
_RISCV_ISA = re.compile(r"rv(32|64|128)[a-z]")


class CpuInfo(NamedTuple):
    processors: tuple[dict[str, str], ...]
    common: dict[str, str]  # lines outside processor blocks (ARM: "Hardware", ...)

    def first(self, key: str) -> str | None:
        for proc in self.processors:
            if key in proc:
                return proc[key]
        return self.common.get(key)


def parse_cpuinfo(text: str) -> CpuInfo:
    """/proc/cpuinfo -> one dict per `processor` block."""
    if "\0" in text:
        text = text.replace("\0", "")
    processors: list[dict[str, str]] = []
    common: dict[str, str] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if not line.strip():
            current = None
            continue
        item = _key_value(line)
        if item is None:
            continue
        key, value = item
        if key == "processor":
            current = {"processor": value}
            processors.append(current)
        elif current is not None:
            current[key] = value
        else:
            common[key] = value
    if not processors:
        raise ParseError("no 'processor' entry in /proc/cpuinfo")
    return CpuInfo(tuple(processors), common)


def _key_value(line: str) -> tuple[str, str] | None:
    """`key<tabs/spaces>: value` split at the first colon (a pattern here was quadratic in a
    long line without one: 128 KiB took 24.8 s)."""
    key, colon, value = line.partition(":")
    if not colon or not key or key[0] == "\t":
        return None
    return key.strip(), value.strip()


def arch_of(info: CpuInfo) -> str | None:
    """The architecture /proc/cpuinfo states, in `uname -m`'s words; each architecture's kernel
    writes its own keys (arch/*/kernel/cpuinfo or proc.c)."""
    flags = (info.first("flags") or "").split()
    if flags:
        return "x86_64" if "lm" in flags else "i686"
    arch = info.first("CPU architecture")
    if arch is not None:
        return "aarch64" if arch.strip() in ("8", "9", "AArch64") else f"armv{arch.strip()}"
    isa = (info.first("isa") or "").strip().lower()  # RISC-V: "rv64imafdc_zicsr_zifencei"
    if m := _RISCV_ISA.match(isa):
        return f"riscv{m.group(1)}"
    loong = (info.first("ISA") or "").split()  # LoongArch: "loongarch32 loongarch64"
    if any(w.startswith("loongarch") for w in loong):
        return max((w for w in loong if w.startswith("loongarch")), key=lambda w: (len(w), w))
    cpu = info.first("cpu") or ""
    if "POWER" in cpu or "PPC" in cpu.upper():
        return "ppc64le"
    if (info.first("vendor_id") or "").startswith("IBM/S390"):
        return "s390x"
    if info.first("cpu model") and "MIPS" in (info.first("cpu model") or "").upper():
        return "mips64" if "64" in (info.first("isa") or info.first("cpu model") or "") else "mips"
    return None


def probe_cpu(host: Host, b: FactsBuilder) -> None:
    text = host.read("/proc/cpuinfo")
    info: CpuInfo | None = None
    if text is None:
        reason = host.absent("/proc/cpuinfo")
    else:
        try:
            info = parse_cpuinfo(text)
            reason = ""
        except ParseError as exc:
            reason = f"/proc/cpuinfo: {exc.message}"
    _probe_identity(info, reason, b)
    _probe_flags(info, reason, b)
    _probe_topology(host, info, b)


def _probe_identity(info: CpuInfo | None, reason: str, b: FactsBuilder) -> None:
    if info is None:
        for key in ("cpu.arch", "cpu.vendor", "cpu.model", "cpu.hypervisor"):
            b.unknown(key, reason)
        return
    b.set("cpu.arch", arch_of(info), "/proc/cpuinfo names no architecture hwtune knows")
    vendor = info.first("vendor_id")
    implementer = info.first("CPU implementer")
    if vendor is None and implementer:
        code = implementer.lower()
        vendor = ARM_IMPLEMENTERS.get(code, code)
    b.set("cpu.vendor", vendor, "/proc/cpuinfo has no vendor_id or CPU implementer")
    b.set("cpu.model", info.first("model name"), "/proc/cpuinfo has no 'model name' (common on ARM)")
    flags = info.first("flags")
    b.set("cpu.hypervisor", "hypervisor" in flags.split() if flags is not None else None,
          "/proc/cpuinfo has no x86 flags line (the hypervisor bit is x86 only)")


def _probe_flags(info: CpuInfo | None, reason: str, b: FactsBuilder) -> None:
    tokens: set[str] | None = None
    if info is not None:
        line = info.first("flags") or info.first("Features")
        tokens = set(line.split()) if line is not None else None
        reason = "/proc/cpuinfo has neither 'flags' nor 'Features'"
    for name in X86_FLAGS + ARM_FEATURES:
        b.set(f"cpu.flags.{name}", None if tokens is None else name in tokens, reason)


def _read_topology(host: Host, cpus: list[int]) -> tuple[set[str], set[str]] | None:
    packages: set[str] = set()
    siblings: set[str] = set()
    for cpu in cpus:
        base = f"/sys/devices/system/cpu/cpu{cpu}/topology"
        pkg = host.read_line(f"{base}/physical_package_id")
        sib = host.read_line(f"{base}/thread_siblings_list") or host.read_line(f"{base}/core_cpus_list")
        if pkg is None or sib is None:
            return None
        packages.add(pkg)
        siblings.add(sib)
    return packages, siblings


def _probe_topology(host: Host, info: CpuInfo | None, b: FactsBuilder) -> None:
    online_text = host.read_line("/sys/devices/system/cpu/online")
    cpus: list[int] | None = None
    if online_text is not None:
        try:
            cpus = sorted(parse_cpulist(online_text))
        except ParseError:
            cpus = None
    if cpus is None and info is not None:
        cpus = sorted(int(p["processor"]) for p in info.processors if p["processor"].isdecimal())
    b.set("cpu.threads", len(cpus) if cpus else None, "neither sysfs cpu/online nor /proc/cpuinfo")
    b.set("cpu.online", _fmt(cpus), "neither sysfs cpu/online nor /proc/cpuinfo")
    topo = _read_topology(host, cpus) if cpus else None
    sockets = cores = None
    if topo is not None:
        sockets, cores = len(topo[0]), len(topo[1])
    elif info is not None and all("physical id" in p and "core id" in p for p in info.processors):
        sockets = len({p["physical id"] for p in info.processors})
        cores = len({(p["physical id"], p["core id"]) for p in info.processors})
    why = "no sysfs topology and no 'physical id'/'core id' in /proc/cpuinfo"
    b.set("cpu.sockets", sockets, why)
    b.set("cpu.cores", cores, why)
    smt_active = host.read_line("/sys/devices/system/cpu/smt/active")
    if smt_active in ("0", "1"):
        smt: bool | None = smt_active == "1"
    elif cores is not None and cpus:
        smt = len(cpus) > cores
    else:
        smt = None
    b.set("cpu.smt", smt, why)


def _fmt(cpus: list[int] | None) -> str | None:
    return format_cpulist(set(cpus)) if cpus else None
