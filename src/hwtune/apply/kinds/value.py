"""One plan item for one kernel value file: read, compare with the target, keep the exact old bytes."""

from __future__ import annotations

import base64

from hwtune.apply.model import CHANGE, INVALID, OK, SKIP, VALUE, Item, Step
from hwtune.apply.readers import READERS
from hwtune.host import Host


def value_item(host: Host, key: str, where: str, path: str, target: str,
               current: str | None = None, mode: str = "runtime") -> Item:
    """An OK or CHANGE item for one kernel value file; its step also says how to verify it, with
    the reader the file's declaration names (what rollback accepts from the journal)."""
    # The writer (and the atomic writer with it) is imported when a plan is made, not when
    # `check` loads the tunable declarations that plan through here.
    from hwtune.apply import sysfs
    from hwtune.apply.trust import raw_restorable, restorable
    from hwtune.apply.tunables import for_path

    declared = for_path(path)
    if declared is None:
        raise ValueError(f"{path} is not a file a tunable declares")
    reader = declared.reader
    if current is None:
        current = READERS[reader](host, path)
    if current is None:
        return Item(key, where, None, target, SKIP, mode=mode, reason=f"{path} cannot be read")
    if current != target and not restorable(path, current):
        # rollback accepts only values apply could write; one it could not restore is left alone
        return Item(key, where, current, target, INVALID, mode=mode,
                    reason=f"the current value {current[:60]!r} is not one hwtune could restore on rollback; "
                           "change it by hand if you must")
    raw = sysfs.read_raw(host, path)
    if raw is not None and not raw_restorable(raw, reader, current):
        raw = None  # bytes rollback would refuse: it restores the value instead
    step = Step(key, where, VALUE, path, current, target, reader,
                old_raw_b64=None if raw is None else base64.b64encode(raw).decode())
    return Item(key, where, current, target, OK if current == target else CHANGE, mode=mode, step=step)
