"""The kernel log as a source: where it comes from, what in it the kernel wrote, what it covers.

Live: /dev/kmsg read without blocking (newest MAX_LOG_BYTES), its facility-0
records only; a snapshot records the records as they were read (facility
kept) as observed/kmsg.txt. Where /dev/kmsg cannot be read (not root with
kernel.dmesg_restrict=1): `journalctl -k -b -o json` (entries of
_TRANSPORT=kernel), then `dmesg -r` (facility in each line's <N>), through the
Runner with a timeout. In a snapshot: the recorded outputs and log files
below, the first one that holds a kernel line. A log that cannot be read, or
that holds no kernel line, is no log: the reason says why and how to fix it.

How each form is parsed, and what in it counts, is `hwtune.probe.logparse`;
matching the lines against the patterns is `hwtune.health.patterns`' job.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from hwtune.host import Host
from hwtune.probe.logparse import (
    FROM_JOURNAL,
    FROM_KMSG,
    FROM_SYSLOG,
    NOT_RECORDED,
    LogLine,
    Parsed,
    dmesg_text,
    format_kmsg,
    is_kmsg_text,
    kmsg_record_text,
    log_lines,
    parse_journal_json,
    parse_kmsg,
    parse_log,
    parse_log_line,
    parse_text,
)

__all__ = ["KernelLog", "LogLine", "dmesg_text", "format_kmsg", "parse_log", "parse_log_line", "read_kernel_log"]

KMSG = "/dev/kmsg"
MAX_LOG_BYTES = 4 * 1024 * 1024
LOG_TIMEOUT_S = 10.0
JOURNALCTL = ["journalctl", "-k", "-b", "-o", "json", "--no-pager"]
DMESG = ["dmesg", "-r"]
JOURNAL_DIRS = ("/var/log/journal", "/run/log/journal")
# Recorded kernel logs a snapshot may hold, in the order they are looked for:
# command outputs under cmd/ (argv joined by "_"), then log files. The form each is parsed in:
# "json" (journal entries), "raw" (dmesg -r: <N> facility and level), "text" (dmesg: no facility),
# "syslog" (journalctl text: only lines tagged kernel:).
RECORDED_COMMANDS = (
    (JOURNALCTL, "json"), (DMESG, "raw"),
    (["dmesg"], "text"), (["dmesg", "-T"], "text"), (["dmesg", "--time-format", "iso"], "text"),
    (["dmesg", "-H"], "text"),
    (["journalctl", "-k", "-b", "--no-pager"], "syslog"), (["journalctl", "-k", "-b"], "syslog"),
    (["journalctl", "-k"], "syslog"),
    # a capture of `dmesg -T | grep NVRM`, as bug reports paste it: NVRM lines only
    (["dmesg", "-T", "grep", "NVRM"], "text"),
)
KMSG_OBSERVED = "kmsg"
RECORDED_FILES = ("/var/log/kern.log", "/var/log/syslog", "/var/log/messages")


class KernelLog(NamedTuple):
    source: str | None  # "dmesg" (live: /dev/kmsg), "journalctl -k -b -o json --no-pager", "/var/log/kern.log"
    lines: tuple[LogLine, ...]
    only: str | None = None  # the log holds only lines with this word (a grep capture)
    reason: str = ""  # why there is no log, when source is None
    provenance: str = ""  # what counted as the kernel's: FROM_KMSG, FROM_JOURNAL, FROM_SYSLOG, NOT_RECORDED
    coverage: str = ""  # what stretch of time the log covers, and what it cannot have seen


def read_kernel_log(host: Host) -> KernelLog:
    return _read_live(host) if host.live else _read_recorded(host)


def _newest(text: str) -> str:
    """The newest MAX_LOG_BYTES of a log, from a line's start: one window for a live command's output
    and a recording, so a replay judges what the live host would have (and 16 MiB costs no more)."""
    if len(text) <= MAX_LOG_BYTES:
        return text
    return text[text.find("\n", len(text) - MAX_LOG_BYTES) + 1:]


def _read_recorded(host: Host) -> KernelLog:
    tried: list[str] = []
    kmsg = host.runner.observe(KMSG_OBSERVED, str)
    if kmsg.ok:  # /dev/kmsg as a snapshot recorded it: records since facilities were kept, dmesg text before
        recorded = _newest(kmsg.stdout)
        if is_kmsg_text(recorded):
            log = _from_kmsg(host, parse_kmsg(log_lines(recorded)), "dmesg")
        else:
            log = _log("dmesg", parse_text(recorded), NOT_RECORDED)
        if log.source is not None:
            return log
        tried.append(f"observed/kmsg.txt: {log.reason}")
    for argv, form in RECORDED_COMMANDS:
        result = host.run(argv)
        if not result.ok:
            continue
        only = argv[-1] if "grep" in argv else None
        log = _parse_form(" ".join(argv), _newest(result.stdout), form, only)
        if log.source is not None:
            return log
        tried.append(f"cmd/{'_'.join(argv)}: {log.reason}")
    for path in RECORDED_FILES:
        text = host.read(path)
        if text is not None:
            # syslog, messages and kern.log hold what any program logged: the kernel's lines only
            log = _log(path, parse_text(_newest(text), syslog=True), FROM_SYSLOG)
            if log.source is not None:
                return log
            tried.append(f"{path}: {log.reason}")
    return KernelLog(None, (), reason="the snapshot holds no kernel log" + (
        f" ({'; '.join(tried)})" if tried else " (observed/kmsg.txt, cmd/dmesg.txt, cmd/journalctl_-k.txt, "
        "var/log/kern.log, var/log/syslog, var/log/messages)"))


def _parse_form(source: str, text: str, form: str, only: str | None = None) -> KernelLog:
    if form == "json":
        return _from_journal(parse_journal_json(text), source)
    if form == "raw":
        return _log(source, _parse_raw(text), FROM_KMSG, only)
    if form == "syslog":
        return _log(source, parse_text(text, syslog=True), FROM_JOURNAL, only)
    return _log(source, parse_text(text), NOT_RECORDED, only)


def _read_live(host: Host) -> KernelLog:
    records, why = host.read_records(KMSG, max_bytes=MAX_LOG_BYTES)
    if records is not None:
        # a snapshot records the records, facility kept (observed/kmsg.txt), so that a replay
        # applies the same rule
        host.runner.observe(KMSG_OBSERVED, lambda: kmsg_record_text(records))
        log = _from_kmsg(host, parse_kmsg(records), "dmesg")  # named as the command it stands for
        if log.source is not None:
            return log
        why = f"{KMSG}: {log.reason}"
    reasons = [why]
    for argv, form in ((JOURNALCTL, "json"), (DMESG, "raw")):
        result = host.run(argv, timeout_s=LOG_TIMEOUT_S)
        if result.ok:
            log = _parse_form(" ".join(argv), _newest(result.stdout), form)
            if log.source is not None:
                return log
            reasons.append(f"{' '.join(argv[:3])}: {log.reason}" + (
                _no_journal(host) if form == "json" else ""))
        else:
            reasons.append(result.error or f"{argv[0]} failed")
    return KernelLog(None, (), reason="kernel log not readable: " + "; ".join(reasons) + _fix(host))


def _no_journal(host: Host) -> str:
    if any(host.listdir(d) for d in JOURNAL_DIRS):
        return ""
    return " (no journal files in /var/log/journal or /run/log/journal: journald does not keep the kernel log here)"


def _fix(host: Host) -> str:
    import os

    if host.read_line("/proc/sys/kernel/dmesg_restrict") == "1" and os.geteuid() != 0:
        return (" (kernel.dmesg_restrict=1 keeps the kernel log from users without CAP_SYSLOG: run as root, "
                "or allow it with sudo sysctl kernel.dmesg_restrict=0)")
    return " (run as root, or in the adm / systemd-journal group)"


# -- what was read ---------------------------------------------------------------------

def _log(source: str, parsed: Parsed, provenance: str, only: str | None = None) -> KernelLog:
    if not parsed.lines:
        return KernelLog(None, (), reason=_empty(parsed))
    return KernelLog(source, parsed.lines, only, provenance=provenance, coverage=_text_coverage(parsed.lines))


def _empty(parsed: Parsed) -> str:
    if parsed.foreign:
        return f"no line the kernel wrote ({parsed.foreign} line(s) from other programs left out)"
    return "no entries"


def _from_kmsg(host: Host, parsed: Parsed, source: str) -> KernelLog:
    if not parsed.lines:
        return KernelLog(None, (), reason=_empty(parsed))
    if parsed.first_seq == 0:
        coverage = f"the whole kernel log since boot ({len(parsed.lines)} kernel records)"
    else:
        coverage = (f"kernel log from {_when(host, parsed.first_usec or 0)}, boot at {_boot(host)}: earlier events "
                    f"not seen (records before #{parsed.first_seq} were not read: the ring buffer wrapped, or they lay "
                    f"beyond the newest {MAX_LOG_BYTES // (1024 * 1024)} MiB)")
    return KernelLog(source, parsed.lines, provenance=FROM_KMSG, coverage=coverage)


def _from_journal(parsed: Parsed, source: str) -> KernelLog:
    if not parsed.lines:
        return KernelLog(None, (), reason=_empty(parsed))
    lines = parsed.lines
    if lines[0].message.startswith("Linux version "):
        coverage = f"the journal's kernel log since boot ({len(lines)} entries)"
    else:
        start = parsed.first_realtime_usec
        when = (datetime.fromtimestamp(start / 1e6, UTC).strftime("%Y-%m-%d %H:%M UTC") if start
                else f"{lines[0].time} s after boot")
        coverage = f"journal from {when}: earlier events of this boot not seen (rotated or vacuumed)"
    return KernelLog(source, lines, provenance=FROM_JOURNAL, coverage=coverage)


def _text_coverage(lines: tuple[LogLine, ...]) -> str:
    first, last = lines[0], lines[-1]
    if first.message.startswith("Linux version ") or first.time.strip() in ("0.000000", "+0.000000"):
        return f"from boot to {last.time}"
    return f"from {first.time} to {last.time}: earlier events not seen (the log does not start at boot)"


def _parse_raw(text: str) -> Parsed:
    """`dmesg -r`: "<6>[  518.050606] message"; <N> is facility << 3 | level, as in kmsg."""
    records = []
    for line in log_lines(text):
        head, sep, rest = line.partition(">")
        if not sep or not head.startswith("<") or not head[1:].isdecimal() or len(head) > 7:
            continue
        parsed = parse_log_line(rest)
        if parsed is None or parsed[2] is not None:
            continue
        time, message, _ = parsed
        whole, _, frac = time.partition(".")
        if not (whole.isdecimal() and frac.isdecimal()):
            continue
        records.append(f"{head[1:]},0,{int(whole) * 1_000_000 + int(frac[:6].ljust(6, '0'))},-;{message}")
    return parse_kmsg(records)._replace(first_seq=None)


def _btime(host: Host) -> int | None:
    for line in (host.read("/proc/stat") or "").splitlines():
        if line.startswith("btime "):
            value = line[6:].strip()
            return int(value) if value.isdecimal() else None
    return None


def _boot(host: Host) -> str:
    btime = _btime(host)
    return datetime.fromtimestamp(btime, UTC).strftime("%Y-%m-%d %H:%M UTC") if btime else "unknown"


def _when(host: Host, usec: int) -> str:
    btime = _btime(host)
    if btime is None:
        return f"{usec // 1_000_000} s after boot"
    return datetime.fromtimestamp(btime + usec // 1_000_000, UTC).strftime("%Y-%m-%d %H:%M UTC")
