"""Kernel log records in /dev/kmsg's format: "PRIORITY,SEQ,USEC,FLAGS[,...];TEXT".

Only records the kernel wrote count (facility 0: PRIORITY < 8); a record a
process wrote to /dev/kmsg has facility 1 (user) or more, and is dropped here
(Documentation/ABI/testing/dev-kmsg). The " KEY=value" dictionary lines that
follow a record, and anything unparseable, are skipped. Linear in the input:
one partition and one bounded split per line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

MAX_RECORD_CHARS = 8192  # the kernel caps a record near 1 KiB (PRINTK_MESSAGE_MAX); longer is not its


class Record(NamedTuple):
    seq: int
    usec: int  # since boot
    level: int  # 0 emerg .. 7 debug
    message: str

    @property
    def time(self) -> str:
        """As `dmesg` prints it: seconds since boot."""
        return f"{self.usec // 1_000_000}.{self.usec % 1_000_000:06d}"


def parse_record(line: str) -> Record | None:
    """One kernel-written record, or None (another facility, a dictionary line, not a record)."""
    if len(line) > MAX_RECORD_CHARS or line[:1] in (" ", ""):
        return None
    head, sep, text = line.partition(";")
    if not sep:
        return None
    fields = head.split(",", 4)
    if len(fields) < 4 or not all(f.isdigit() and len(f) <= 20 for f in fields[:3]):
        return None
    priority = int(fields[0])
    if priority >> 3 != 0:  # facility 0 is the kernel's own
        return None
    return Record(int(fields[1]), int(fields[2]), priority & 7, text.rstrip("\r\n"))


def kernel_records(lines: Iterable[str]) -> Iterator[Record]:
    for line in lines:
        record = parse_record(line)
        if record is not None:
            yield record
