"""Pure parsers of the kernel log's forms, each keeping only what the kernel wrote.

- /dev/kmsg records (`PRIORITY,SEQ,USEC,FLAGS;TEXT`): only facility 0. The
  kernel forces a non-zero facility on every record userspace writes to
  /dev/kmsg (root's included), so facility 0 proves the kernel wrote it.
- `journalctl -o json` entries: only `_TRANSPORT=kernel`, checked per entry.
- syslog files and `journalctl` text: only lines whose tag is exactly
  `kernel:` (traditional and RFC 3339 timestamps). A syslog file cannot tell
  root's `logger -t kernel` from the kernel; the live sources above can.
- `dmesg` text as recorded: no facility to check ("facility not recorded");
  the health rules are anchored at the kernel's own message start, which keeps
  text a user chose (a crashing file's name, a process name) out.

Every pattern here is anchored and has no nested or unbounded lazy repeat:
time linear in the input (a crafted 16 MiB log parses in about a second).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any, NamedTuple

KERN_FACILITY = 0
# The longest line worth reading: a /dev/kmsg record is at most 8 KiB; the rest of a longer
# line is no kernel message's start and is not copied (a crafted 16 MiB line costs one find)
MAX_LINE = 16 * 1024
NOT_RECORDED = "facility not recorded"
FROM_KMSG = "kernel records (facility 0) of /dev/kmsg"
FROM_JOURNAL = "journal entries of _TRANSPORT=kernel"
FROM_SYSLOG = "lines tagged 'kernel:' (a syslog file cannot tell root's logger -t kernel from the kernel)"


class LogLine(NamedTuple):
    time: str  # as the log shows it: "2024-11-15T12:02:03,470068+00:00", "Fri Apr  5 21:29:39 2024", "518.050606"
    message: str  # without the time and the syslog host/"kernel:" prefix
    continued: bool = False  # a continuation line: no time of its own


class Parsed(NamedTuple):
    """Lines the kernel wrote, how many others were left out, and where the log starts."""

    lines: tuple[LogLine, ...]
    foreign: int = 0  # records or lines not from the kernel, left out
    first_seq: int | None = None  # kmsg: the first record's sequence number (0: nothing lost since boot)
    first_usec: int | None = None  # kmsg / journal: microseconds since boot of the first record kept
    first_realtime_usec: int | None = None  # journal: wall-clock time of the first entry kept


def log_lines(text: str, max_line: int = MAX_LINE) -> Iterator[str]:
    """The lines of a log, split at "\n" only (the kernel and syslog escape other line breaks),
    each cut at `max_line` characters."""
    pos, size = 0, len(text)
    while pos < size:
        end = text.find("\n", pos)
        if end < 0:
            end = size
        yield text[pos:min(end, pos + max_line)].rstrip("\r")
        pos = end + 1


# -- /dev/kmsg records ----------------------------------------------------------------

# FLAGS and the fields after it, e.g. "-,caller=T4194303" (CONFIG_PRINTK_CALLER): the ABI
# says to ignore fields it does not name, so they are skipped, up to a bound that keeps the
# match linear.
_KMSG_RECORD = re.compile(r"(\d{1,6}),(\d{1,20}),(\d{1,20}),[^;]{0,256};")


class KmsgRecord(NamedTuple):
    priority: int  # facility << 3 | level
    seq: int
    usec: int
    text: str  # the first line: the kernel escapes newlines in a record as \x0a

    @property
    def facility(self) -> int:
        return self.priority >> 3


def parse_kmsg_record(record: str) -> KmsgRecord | None:
    """One record, "6,1234,5678901,-;message\\n KEY=value" (the dictionary lines after it are left out)."""
    m = _KMSG_RECORD.match(record)
    if m is None:
        return None
    text = record[m.end():].split("\n", 1)[0]
    return KmsgRecord(int(m.group(1)), int(m.group(2)), int(m.group(3)), text)


def is_kmsg_text(text: str) -> bool:
    """Whether recorded text holds kmsg records (a snapshot's observed/kmsg.txt since
    records kept their facility) rather than the `dmesg` text earlier snapshots wrote."""
    first = next((ln for ln in log_lines(text) if ln.strip()), "")
    return parse_kmsg_record(first) is not None


def kmsg_record_text(records: Iterable[str]) -> str:
    """Records as a snapshot keeps them: one `PRIORITY,SEQ,USEC,FLAGS;TEXT` line each."""
    return "".join(record.split("\n", 1)[0] + "\n" for record in records if parse_kmsg_record(record))


def seconds(usec: int) -> str:
    return f"{usec // 1_000_000}.{usec % 1_000_000:06d}"


def parse_kmsg(records: Iterable[str]) -> Parsed:
    """Records -> the kernel's lines (facility 0), timed in seconds since boot as `dmesg` prints them."""
    lines: list[LogLine] = []
    foreign = 0
    first: KmsgRecord | None = None
    for raw in records:
        record = parse_kmsg_record(raw)
        if record is None:
            continue
        if record.facility != KERN_FACILITY:
            foreign += 1
            continue
        first = first or record
        lines.append(LogLine(seconds(record.usec), record.text))
    return Parsed(tuple(lines), foreign, first.seq if first else None, first.usec if first else None)


# -- journalctl -o json -------------------------------------------------------------------

def parse_journal_json(text: str) -> Parsed:
    """`journalctl -k -o json` (one JSON object per line) -> the entries of _TRANSPORT=kernel."""
    lines: list[LogLine] = []
    foreign = 0
    first: dict[str, Any] | None = None
    for raw in log_lines(text, 4 * MAX_LINE):
        entry = _json_object(raw)
        if entry is None:
            continue
        if entry.get("_TRANSPORT") != "kernel":
            foreign += 1
            continue
        message = _journal_text(entry.get("MESSAGE"))
        usec = _digits(entry.get("_SOURCE_MONOTONIC_TIMESTAMP"))
        if usec is None:
            usec = _digits(entry.get("__MONOTONIC_TIMESTAMP"))
        if message is None or usec is None:
            continue
        first = first or {"usec": usec, "realtime": _digits(entry.get("__REALTIME_TIMESTAMP"))}
        lines.append(LogLine(seconds(usec), message))
    return Parsed(tuple(lines), foreign, None, first["usec"] if first else None,
                  first["realtime"] if first else None)


def _json_object(raw: str) -> dict[str, Any] | None:
    raw = raw.strip()
    if not raw.startswith("{"):
        return None  # "-- No entries --" and the like
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return entry if isinstance(entry, dict) else None


def _journal_text(value: Any) -> str | None:
    """MESSAGE is a string, or an array of bytes when it is not UTF-8; its first line only
    (journald unescapes the kernel's \\x0a, so a file name could start a new line)."""
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        value = bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return value.split("\n", 1)[0]


def _digits(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdecimal() and len(value) <= 20 else None


# -- text: dmesg in its styles, syslog files, journalctl text ---------------------------------

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[,.]\d{1,9})?(?:[+-]\d{2}:?\d{2}|Z)?"
# "kernel: [  518.050606] message": the kernel's own time, which rsyslog keeps in the message
_KERNEL_TIME = r"(?:\[ {0,12}\d{1,12}\.\d{1,9}\] ?)?"
# compiled on first use: a live host reads /dev/kmsg and never needs them (~3 ms at start-up)
_DMESG_FORMATS = (
    # dmesg --decode: "kern  :warn  : " before the time; --time-format iso: 2024-11-15T12:02:03,470068+00:00
    r"(?:[a-z]{1,8} {0,8}: {0,8}[a-z]{1,8} {0,8}: )?(?P<t>" + _ISO + r") ",
    # raw: [  518.050606]; -T: [Fri Apr  5 21:29:39 2024]; -H: [Apr 5 21:29] or [  +0.000010]
    r"(?:[a-z]{1,8} {0,8}: {0,8}[a-z]{1,8} {0,8}: )?\[(?P<t> {0,12}\+?\d{1,12}\.\d{1,9}|" + _DAY + r" " + _MONTH
    + r" {1,2}\d{1,2} \d{2}:\d{2}:\d{2} \d{4}|" + _MONTH + r" ?\d{1,2} \d{2}:\d{2}(?::\d{2})?)\] ?",
)
_SYSLOG_FORMATS = (
    # traditional syslog / journalctl short: "May 15 23:09:30 host kernel: [  518.050606] message"
    r"(?P<t>" + _MONTH + r" {1,2}\d{1,2} \d{2}:\d{2}:\d{2}) [^ ]{1,255} (?P<tag>[^ :]{1,64}): ?" + _KERNEL_TIME,
    # RFC 3339 (rsyslog's default on newer distributions) and journalctl -o short-iso
    r"(?P<t>" + _ISO + r") [^ ]{1,255} (?P<tag>[^ :]{1,64}): ?" + _KERNEL_TIME,
)


@cache
def _compiled(kind: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in (_SYSLOG_FORMATS if kind == "syslog" else _DMESG_FORMATS + _SYSLOG_FORMATS))


def parse_log_line(raw: str, *, syslog: bool = False) -> tuple[str, str, str | None] | None:
    """(time as shown, message, syslog tag or None); None for a line with no time.
    `syslog`: only the syslog forms, which name a tag."""
    for pattern in _compiled("syslog" if syslog else "any"):
        m = pattern.match(raw)
        if m:  # the patterns end where the message starts: the message is never scanned by a regex
            tag = m.groupdict().get("tag")
            return m.group("t").strip(), raw[m.end():].rstrip(), tag
    return None


def parse_text(text: str, *, syslog: bool = False) -> Parsed:
    """Log text -> lines. A dmesg line with no time continues the one before it (dmesg -T
    indents them). A line with a syslog tag counts only when the tag is exactly `kernel`;
    `syslog` (a syslog file, journalctl text): a line without a tag does not count either."""
    lines: list[LogLine] = []
    foreign = 0
    last_time: str | None = None
    for raw in log_lines(text):
        if not raw or raw.isspace():
            continue
        parsed = parse_log_line(raw, syslog=syslog)
        if parsed is None:
            if syslog or last_time is None:
                foreign += 1 if syslog else 0
                continue
            lines.append(LogLine(last_time, raw.strip(), continued=True))
            continue
        time, message, tag = parsed
        if tag is not None and tag != "kernel":
            foreign += 1
            last_time = None  # what follows a foreign line is not the kernel's continuation either
            continue
        last_time = time
        lines.append(LogLine(time, message))
    return Parsed(tuple(lines), foreign)


def parse_log(text: str, *, kernel_only: bool = False) -> tuple[LogLine, ...]:
    """The lines of a log text; `kernel_only`: a syslog file (kept for callers of the older name)."""
    return parse_text(text, syslog=kernel_only).lines


def dmesg_text(lines: Iterable[LogLine]) -> str:
    """Lines timed in seconds since boot, as `dmesg` prints them: "[  518.050606] message"."""
    return "".join(f"[{ln.time:>12}] {ln.message}\n" for ln in lines)


def format_kmsg(records: list[str]) -> str:
    return dmesg_text(parse_kmsg(records).lines)
