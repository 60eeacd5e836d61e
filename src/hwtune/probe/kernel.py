"""Kernel release and command line."""

from __future__ import annotations

from hwtune.errors import ParseError
from hwtune.facts import FactsBuilder
from hwtune.host import Host


def parse_proc_version(text: str) -> str:
    """The release: the third word of "Linux version 6.1.0-13-amd64 (...) #1 SMP ..."."""
    words = text.split()
    if len(words) < 3 or words[0] != "Linux" or words[1] != "version":
        raise ParseError(f"not a /proc/version line: {text[:60]!r}")
    return words[2]


def probe_kernel(host: Host, b: FactsBuilder) -> None:
    text = host.read("/proc/version")
    if text is None:
        release = host.read_line("/proc/sys/kernel/osrelease")
        b.set("kernel.release", release or None, "/proc/version and /proc/sys/kernel/osrelease absent")
    else:
        try:
            b.set("kernel.release", parse_proc_version(text))
        except ParseError as exc:
            b.unknown("kernel.release", f"/proc/version: {exc.message}")
    cmdline = host.read_line("/proc/cmdline")
    b.set("kernel.cmdline", cmdline, host.absent("/proc/cmdline"))
