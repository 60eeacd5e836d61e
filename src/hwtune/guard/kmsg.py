"""Kernel log records in /dev/kmsg's format: "PRIORITY,SEQ,USEC,FLAGS[,...];TEXT", as guard
follows them: one parser with `check`'s (probe/logparse), kept to what the kernel wrote.

Only records the kernel wrote count (facility 0: PRIORITY < 8); a record a process wrote to
/dev/kmsg has facility 1 (user) or more, and is dropped here (Documentation/ABI/testing/dev-kmsg).
The " KEY=value" dictionary lines that follow a record, and anything unparseable, are skipped.
Linear in the input: one bounded match per line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from hwtune.probe.logparse import KERN_FACILITY, parse_kmsg_record, seconds

MAX_RECORD_CHARS = 8192  # the kernel caps a record near 1 KiB (PRINTK_MESSAGE_MAX); longer is not its


class Record(NamedTuple):
    seq: int
    usec: int  # since boot
    level: int  # 0 emerg .. 7 debug
    message: str

    @property
    def time(self) -> str:
        """As `dmesg` prints it: seconds since boot."""
        return seconds(self.usec)


def parse_record(line: str) -> Record | None:
    """One kernel-written record, or None (another facility, a dictionary line, not a record)."""
    if len(line) > MAX_RECORD_CHARS:
        return None
    record = parse_kmsg_record(line)
    if record is None or record.facility != KERN_FACILITY:
        return None
    return Record(record.seq, record.usec, record.priority & 7, record.text.rstrip("\r\n"))


def kernel_records(lines: Iterable[str]) -> Iterator[Record]:
    for line in lines:
        record = parse_record(line)
        if record is not None:
            yield record
