"""A kernel value in an existing sysfs/procfs file: read, compare with the target, keep the exact old bytes.

The declaration that writes the file (hwtune/tunables/) says how it is read
and which values it may hold: what apply plans is what rollback accepts from
a journal.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from hwtune.apply import sysfs
from hwtune.apply.kinds.base import JournalInvalid, NvmlWriter, StepFailed, StepKind, Writer
from hwtune.apply.model import CHANGE, INVALID, OK, SKIP, VALUE, Item, Step
from hwtune.errors import ParseError
from hwtune.host import Host
from hwtune.probe.values import PARSERS, READERS
from hwtune.tunables import for_path
from hwtune.tunables.base import Target

RAW_BYTES = re.compile(rb"[\x20-\x7e\t\n\x00]*")


def restorable(path: str, value: str | None) -> bool:
    """Whether rollback would accept `value` as the old value of a kernel file (apply checks it at plan time)."""
    tunable = for_path(path)  # the declaration that writes the file says what it may hold
    return value is not None and tunable is not None and tunable.writable(value)


def raw_restorable(raw: bytes, reader: str, old: str) -> bool:
    """Whether rollback would accept `raw` as the exact old bytes (apply keeps them only then)."""
    try:
        check_raw(base64.b64encode(raw).decode(), reader, old)
    except JournalInvalid:
        return False
    return True


def check_raw(raw_b64: Any, reader: str, old: str) -> None:
    if not isinstance(raw_b64, str) or len(raw_b64) > sysfs.MAX_RAW_BYTES * 2:
        raise JournalInvalid("old_raw_b64 is not base64 text")
    try:
        data = base64.b64decode(raw_b64, validate=True)
    except (binascii.Error, ValueError):
        raise JournalInvalid("old_raw_b64 is not valid base64") from None
    if len(data) > sysfs.MAX_RAW_BYTES or not RAW_BYTES.fullmatch(data):
        raise JournalInvalid("old_raw_b64 holds bytes no kernel value file has")
    text = data.decode("ascii").replace("\0", "")
    try:
        held = PARSERS[reader](text)
    except ParseError:
        held = None
    if held != old:
        raise JournalInvalid("old_raw_b64 does not hold the old value")


class ValueKind(StepKind):
    name = VALUE

    def reader_for(self, path: str) -> str:
        declared = for_path(path)
        if declared is None:
            raise ValueError(f"{path} is not a file a tunable declares")
        return declared.reader

    def plan(self, host: Host, target: Target) -> Item:
        """An OK or CHANGE item for one kernel value file; its step also says how to verify it, with
        the reader the file's declaration names (what rollback accepts from the journal)."""
        key, where, path, value, mode = target.key, target.where, target.path, target.target, target.mode
        reader = self.reader_for(path)
        current = target.current if target.current is not None else READERS[reader](host, path)
        if current is None:
            return Item(key, where, None, value, SKIP, mode=mode, reason=f"{path} cannot be read")
        if current != value and not restorable(path, current):
            # rollback accepts only values apply could write; one it could not restore is left alone
            return Item(key, where, current, value, INVALID, mode=mode,
                        reason=f"the current value {current[:60]!r} is not one hwtune could restore on rollback; "
                               "change it by hand if you must")
        raw = sysfs.read_raw(host, path)
        if raw is not None and not raw_restorable(raw, reader, current):
            raw = None  # bytes rollback would refuse: it restores the value instead
        step = Step(key, where, VALUE, path, current, value, reader,
                    old_raw_b64=None if raw is None else base64.b64encode(raw).decode())
        return Item(key, where, current, value, OK if current == value else CHANGE, mode=mode, step=step)

    def read(self, host: Host, step: Step, nvml: NvmlWriter | None) -> str | None:
        return READERS[step.reader](host, step.path)

    def write(self, ex: Writer, step: Step, value: str | None, raw: bytes | None, created: tuple[str, ...]) -> None:
        if value is None:
            raise StepFailed(step, "no value to write")
        sysfs.write_value(ex.host, step.path, raw if raw is not None else (value + "\n").encode())

    def undo_raw(self, step: Step, live: bool) -> bytes | None:
        if live or step.old_raw_b64 is None:
            return None
        # under --root the file is a copy, not a kernel interface: restore it byte for byte
        return base64.b64decode(step.old_raw_b64)

    def check(self, path: str, reader: Any, old: Any, new: Any, raw_b64: Any) -> tuple[Any, Any, Any]:
        tunable = for_path(path)  # how the declaration that writes the file reads it, what it may hold
        if tunable is None:
            raise JournalInvalid(f"{path} is not on hwtune's allow-list of writable paths")
        if reader != tunable.reader:
            raise JournalInvalid(f"reader {reader!r} is not how {path} is read")
        for name, value in (("old", old), ("new", new)):
            if not isinstance(value, str) or not tunable.writable(value):
                raise JournalInvalid(f"{name} {value!r} is not a value apply could write to {path}")
        if raw_b64 is not None:
            check_raw(raw_b64, reader, old)
        return old, new, raw_b64


KINDS = (ValueKind(),)
