"""A journal entry is validated exactly as apply validates a profile value.

Rollback writes what a journal says, as root. So before anything is
restored, every journal is checked whole: its header (apply/journal.py), and
each step's kind, path (on the allow-list), reader, and values (ones apply
could have written, as the step's kind says: for a kernel file, the tunable
declaration that writes the path: the sysctl value rule of the profile
schema, a governor word, 0 or 1, a THP mode; "Enabled"/"Disabled"; a unit
state). hwtune's own files are rebuilt from their validated values
(apply/persist.py) and the rebuilt text is what rollback writes, never the
journal's copy. Any fault is JournalInvalid, naming the entry.
"""

from __future__ import annotations

import re
from typing import Any

from hwtune.apply import sysfs
from hwtune.apply.kinds import kind as kind_named
from hwtune.apply.kinds.base import JournalInvalid
from hwtune.apply.model import Step

MAX_TEXT = 256

__all__ = ["JournalInvalid", "check_step", "check_steps"]


def check_steps(steps: Any) -> list[Step]:
    if not isinstance(steps, list):
        raise JournalInvalid("steps is not a list")
    out = []
    for n, raw in enumerate(steps):
        try:
            out.append(check_step(raw))
        except JournalInvalid as exc:
            raise JournalInvalid(f"steps[{n}]: {exc}") from None
    return out


def _text(name: str, value: Any, *, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or len(value) > limit or re.search(r"[\x00-\x08\x0b-\x1f\x7f]", value):
        raise JournalInvalid(f"{name} is not a short plain string")
    return value


def check_step(raw: Any) -> Step:
    if not isinstance(raw, dict):
        raise JournalInvalid("not an object")
    kind = raw.get("kind")
    path = _text("path", raw.get("path"))
    key = _text("key", raw.get("key"))
    where = _text("where", raw.get("where"))
    reader = raw.get("reader")
    dirs = raw.get("created_dirs", [])
    found = kind_named(kind) if isinstance(kind, str) else None
    if not isinstance(dirs, list) or not all(isinstance(d, str) and d in sysfs.OWN_DIRS for d in dirs):
        raise JournalInvalid("created_dirs lists a folder hwtune never creates")
    if dirs and not (found is not None and found.creates_dirs):
        raise JournalInvalid("created_dirs on a step that creates no folder")
    if any(not path.startswith(d + "/") for d in dirs):
        raise JournalInvalid("created_dirs lists a folder that does not hold the step's file")
    if found is None:
        raise JournalInvalid(f"kind {kind!r} is not a step kind")
    old, new, raw_b64 = found.check(path, reader, raw.get("old"), raw.get("new"), raw.get("old_raw_b64"))
    # the kind checked `reader`: it is how this kind reads `path`
    return Step(key, where, found.name, path, old, new, found.reader_for(path), old_raw_b64=raw_b64,
                created_dirs=tuple(dirs))
