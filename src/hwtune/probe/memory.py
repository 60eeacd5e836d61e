"""Memory, transparent huge pages and the VM sysctls inference cares about."""

from __future__ import annotations

import re

from hwtune.errors import ParseError
from hwtune.facts import FactsBuilder
from hwtune.host import Host

THP_DIR = "/sys/kernel/mm/transparent_hugepage"
SYSCTLS = {"vm.swappiness": "/proc/sys/vm/swappiness",
           "kernel.numa_balancing": "/proc/sys/kernel/numa_balancing"}
_MEMINFO = re.compile(r"^(\w+(?:\(\w+\))?):\s+(\d+)(?: kB)?\s*$")


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo -> {"MemTotal": kib, ...}."""
    values = {}
    for line in text.splitlines():
        m = _MEMINFO.match(line.strip())
        if m:
            values[m.group(1)] = int(m.group(2))
    if "MemTotal" not in values:
        raise ParseError("no MemTotal line in /proc/meminfo")
    return values


def parse_bracketed(text: str) -> str:
    """ "always [madvise] never" -> "madvise"."""
    m = re.search(r"\[([^\]\s]+)\]", text)
    if not m:
        raise ParseError(f"no [selected] value in {text[:60]!r}")
    return m.group(1)


def probe_memory(host: Host, b: FactsBuilder) -> None:
    text = host.read("/proc/meminfo")
    try:
        meminfo = parse_meminfo(text) if text is not None else None
        why = "/proc/meminfo absent"
    except ParseError as exc:
        meminfo, why = None, f"/proc/meminfo: {exc.message}"
    b.set("mem.total_kib", meminfo["MemTotal"] if meminfo else None, why)
    b.set("mem.hugepages_total", meminfo.get("HugePages_Total") if meminfo else None,
          why if meminfo is None else "/proc/meminfo has no HugePages_Total")
    for name in ("enabled", "defrag"):
        raw = host.read_line(f"{THP_DIR}/{name}")
        try:
            b.set(f"mm.thp_{name}", parse_bracketed(raw) if raw is not None else None,
                  f"{THP_DIR}/{name} absent")
        except ParseError as exc:
            b.unknown(f"mm.thp_{name}", f"{THP_DIR}/{name}: {exc.message}")
    for key, path in SYSCTLS.items():
        raw = host.read_line(path)
        b.set(key, int(raw) if raw is not None and raw.lstrip("-").isdecimal() else None,
              f"{path} absent" if raw is None else f"{path}: not an integer: {raw[:20]!r}")
