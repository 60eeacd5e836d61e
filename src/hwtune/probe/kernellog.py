"""The kernel log as a source: where it comes from, and its lines split into time and message.

Live: /dev/kmsg read without blocking (newest MAX_LOG_BYTES), answered as the
text `dmesg` prints so that a snapshot records it as cmd/dmesg.txt; where
/dev/kmsg cannot be read (not root with kernel.dmesg_restrict=1), `journalctl
-k -b`, then `dmesg`, through the Runner with a timeout. In a snapshot: the
recorded outputs and log files below, the first one present.

Matching the lines against the patterns is `hwtune.health.patterns`' job.
"""

import re
from functools import cache
from typing import NamedTuple

from hwtune.host import Host

KMSG = "/dev/kmsg"
MAX_LOG_BYTES = 4 * 1024 * 1024
LOG_TIMEOUT_S = 10.0
JOURNALCTL = ["journalctl", "-k", "-b", "--no-pager"]
DMESG = ["dmesg"]
# Recorded kernel logs a snapshot may hold, in the order they are looked for:
# command outputs under cmd/ (argv joined by "_"), then log files.
RECORDED_COMMANDS = (
    ["dmesg"], ["dmesg", "-T"], ["dmesg", "--time-format", "iso"], ["dmesg", "-H"],
    ["journalctl", "-k", "-b", "--no-pager"], ["journalctl", "-k", "-b"], ["journalctl", "-k"],
    # a capture of `dmesg -T | grep NVRM`, as bug reports paste it: NVRM lines only
    ["dmesg", "-T", "grep", "NVRM"],
)
KMSG_OBSERVED = "kmsg"
RECORDED_FILES = ("/var/log/kern.log", "/var/log/syslog", "/var/log/messages")


class KernelLog(NamedTuple):
    source: str | None  # "dmesg" (live: /dev/kmsg), "journalctl -k -b --no-pager", "/var/log/kern.log"
    lines: tuple["LogLine", ...]
    only: str | None = None  # the log holds only lines with this word (a grep capture)
    reason: str = ""  # why there is no log, when source is None


class LogLine(NamedTuple):
    time: str  # as the log shows it: "2024-11-15T12:02:03,470068+00:00", "Fri Apr  5 21:29:39 2024", "518.050606"
    message: str  # without the time and the syslog host/"kernel:" prefix
    continued: bool = False  # a continuation line: no time of its own


def read_kernel_log(host: Host) -> KernelLog:
    if host.live:
        return _read_live(host)
    kmsg = host.runner.observe(KMSG_OBSERVED, str)
    if kmsg.ok:  # /dev/kmsg as a snapshot recorded it
        return KernelLog("dmesg", parse_log(kmsg.stdout))
    for argv in RECORDED_COMMANDS:
        result = host.run(argv)
        if result.ok:
            only = argv[-1] if "grep" in argv else None
            return KernelLog(" ".join(argv), parse_log(result.stdout), only)
    for path in RECORDED_FILES:
        text = host.read(path)
        if text is not None:
            # syslog and messages hold every daemon's lines; keep the kernel's
            kernel_only = path != "/var/log/kern.log"
            return KernelLog(path, parse_log(text, kernel_only=kernel_only))
    return KernelLog(None, (), reason="the snapshot holds no kernel log (cmd/dmesg.txt, cmd/journalctl_-k.txt, "
                     "var/log/kern.log, var/log/syslog, var/log/messages)")


def _read_live(host: Host) -> KernelLog:
    records, why = host.read_records(KMSG, max_bytes=MAX_LOG_BYTES)
    if records is not None:
        lines = kmsg_lines(records)
        # a snapshot records it as observed/kmsg.txt (read from /dev/kmsg, not printed by dmesg),
        # in the text `dmesg` prints
        host.runner.observe(KMSG_OBSERVED, lambda: dmesg_text(lines))
        # named as the command it stands for, so that its replay says the same
        return KernelLog("dmesg", lines)
    reasons = [why]
    for argv in (JOURNALCTL, DMESG):
        result = host.run(argv, timeout_s=LOG_TIMEOUT_S)
        if result.ok:
            return KernelLog(" ".join(argv), parse_log(result.stdout[-MAX_LOG_BYTES:]))
        reasons.append(result.error or f"{argv[0]} failed")
    return KernelLog(None, (), reason="kernel log not readable: " + "; ".join(reasons)
                     + " (run as root, or in the adm / systemd-journal group)")


# -- parsing ------------------------------------------------------------------------

def kmsg_lines(records: list[str]) -> tuple[LogLine, ...]:
    """/dev/kmsg records ("6,1234,5678901,-;message\\n KEY=value") as log lines,
    timed in seconds since boot as `dmesg` prints them."""
    out = []
    for record in records:
        head, sep, rest = record.partition(";")
        fields = head.split(",")
        if not sep or len(fields) < 4 or not fields[2].isdigit():
            continue
        usec = int(fields[2])
        message = rest.split("\n", 1)[0]  # the " KEY=value" dictionary lines follow
        out.append(LogLine(f"{usec // 1_000_000}.{usec % 1_000_000:06d}", message))
    return tuple(out)


def format_kmsg(records: list[str]) -> str:
    return dmesg_text(kmsg_lines(records))


def dmesg_text(lines: tuple[LogLine, ...]) -> str:
    """Lines timed in seconds since boot, as `dmesg` prints them: "[  518.050606] message"."""
    return "".join(f"[{ln.time:>12}] {ln.message}\n" for ln in lines)


_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
# compiled on first use: a live host reads /dev/kmsg and never needs them (~3 ms at start-up)
_TIME_FORMATS = (
    # dmesg --decode: "kern  :warn  : " before the time
    (r"^(?:\w+\s*:\s*\w+\s*:\s)?"
     # --time-format iso: 2024-11-15T12:02:03,470068+00:00
     r"(?P<t>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[,.]\d+)?(?:[+-]\d{2}:?\d{2}|Z)?)\s(?P<m>.*)$"),
    # raw: [  518.050606]; -T: [Fri Apr  5 21:29:39 2024]; -H: [Apr 5 21:29] or [  +0.000010]
    (r"^(?:\w+\s*:\s*\w+\s*:\s)?\[(?P<t>\s*[+]?\d+\.\d+|" + _DAY + r" " + _MONTH
     + r"\s+\d+ \d{2}:\d{2}:\d{2} \d{4}|" + _MONTH + r"\s?\d+ \d{2}:\d{2}(?::\d{2})?)\]\s?(?P<m>.*)$"),
    # syslog / journalctl short: "May 15 23:09:30 host kernel: [  518.050606] message"
    (r"^(?P<t>" + _MONTH + r"\s+\d+ \d{2}:\d{2}:\d{2}) \S+ (?P<tag>[\w./-]+(?:\[\d+\])?):\s?"
     r"(?:\[\s*\d+\.\d+\]\s?)?(?P<m>.*)$"),
    # journalctl -o short-iso: "2024-11-15T12:02:03+0000 host kernel: message"
    (r"^(?P<t>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[,.]\d+)?(?:[+-]\d{2}:?\d{2}|Z)?) \S+ "
     r"(?P<tag>[\w./-]+(?:\[\d+\])?):\s?(?:\[\s*\d+\.\d+\]\s?)?(?P<m>.*)$"),
)


@cache
def _time_formats() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in _TIME_FORMATS)


def parse_log(text: str, *, kernel_only: bool = False) -> tuple[LogLine, ...]:
    """Log text in any of the styles above -> lines; a line with no time is a
    continuation of the one before it (dmesg -T indents them)."""
    lines: list[LogLine] = []
    last_time = ""
    for raw in text.splitlines():
        if not raw.strip():
            continue
        parsed = parse_log_line(raw)
        if parsed is None:
            lines.append(LogLine(last_time, raw.strip(), continued=True))
            continue
        time, message, tag = parsed
        if kernel_only and tag is not None and tag != "kernel":
            continue
        last_time = time
        lines.append(LogLine(time, message))
    return tuple(lines)


def parse_log_line(raw: str) -> tuple[str, str, str | None] | None:
    """(time as shown, message, syslog tag or None); None for a line with no time."""
    for pattern in _time_formats():
        m = pattern.match(raw)
        if m:
            tag = m.groupdict().get("tag")
            return m.group("t").strip(), m.group("m").rstrip(), (tag.split("[")[0] if tag else None)
    return None
