"""Memory size, and the parsers of the THP and sysctl files.

The THP modes and the sysctls are observed (probe/values.py) with these
parsers, the ones apply plans with.
"""

from __future__ import annotations

import re

from hwtune.errors import ParseError
from hwtune.facts import FactsBuilder
from hwtune.host import Host

THP_DIR = "/sys/kernel/mm/transparent_hugepage"
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
    """ "always [madvise] never" -> "madvise" (THP files list every mode and bracket the active one).

    A file holding one word is that word: what a write leaves in a recorded tree (`apply --root`),
    where the file is a copy and not the kernel's interface.
    """
    m = re.search(r"\[([^\[\]\s]+)\]", text)  # no "[" inside: each scan stops at the next one
    if m:
        return m.group(1)
    words = text.split()
    if len(words) == 1:
        return words[0]
    raise ParseError(f"no [selected] value in {text[:60]!r}")


def parse_choices(text: str) -> list[str]:
    """ "always [madvise] never" -> every mode the kernel offers."""
    return [t.strip("[]") for t in text.split()]


def sysctl_path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


def parse_sysctl(text: str) -> str:
    # multi-field values (kernel.printk) are tab-separated when read, space-separated when written
    return " ".join(text.split())


def probe_memory(host: Host, b: FactsBuilder) -> None:
    text = host.read("/proc/meminfo")
    try:
        meminfo = parse_meminfo(text) if text is not None else None
        why = host.absent("/proc/meminfo")
    except ParseError as exc:
        meminfo, why = None, f"/proc/meminfo: {exc.message}"
    b.set("mem.total_kib", meminfo["MemTotal"] if meminfo else None, why)
    b.set("mem.hugepages_total", meminfo.get("HugePages_Total") if meminfo else None,
          why if meminfo is None else "/proc/meminfo has no HugePages_Total")

