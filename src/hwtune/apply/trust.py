"""A journal entry is validated exactly as apply validates a profile value.

Rollback writes what a journal says, as root. So before anything is
restored, every journal is checked whole: its header, and each step's kind,
path (on the allow-list), reader, and values (ones apply could have
written, as the tunable declaration that writes the path says: the sysctl
value rule of the profile schema, a governor word, 0 or
1, a THP mode, "Enabled"/"Disabled"). hwtune's own files are rebuilt from
their validated values (apply/persist.py) and the rebuilt text is what
rollback writes, never the journal's copy. Any fault is JournalInvalid,
naming the entry.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from hwtune.apply import sysfs
from hwtune.apply.model import FILE, LINK, NVML, SYSTEMD, VALUE, Step

BUS_ID = re.compile(r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]")
SYSTEMD_STATE = re.compile(r"[a-z-]{1,32},(active|inactive)")
RAW_BYTES = re.compile(rb"[\x20-\x7e\t\n\x00]*")
MAX_TEXT = 256


class JournalInvalid(ValueError):
    """What is wrong with a journal, naming the field."""


def restorable(path: str, value: str | None) -> bool:
    """Whether rollback would accept `value` as the old value of a kernel file (apply checks it at plan time)."""
    from hwtune.apply.tunables import for_path

    tunable = for_path(path)  # the declaration that writes the file says what it may hold
    return value is not None and tunable is not None and tunable.writable(value)


def raw_restorable(raw: bytes, reader: str, old: str) -> bool:
    """Whether rollback would accept `raw` as the exact old bytes (apply keeps them only then)."""
    try:
        _check_raw(base64.b64encode(raw).decode(), reader, old)
    except JournalInvalid:
        return False
    return True


def check_journal(data: Any, stem: str) -> list[Step]:
    if not isinstance(data, dict):
        raise JournalInvalid("not a JSON object")
    from hwtune.apply.journal import JOURNAL_ID, SCHEMA, STATES

    if data.get("schema") != SCHEMA:
        raise JournalInvalid(f"schema is {data.get('schema')!r}, not {SCHEMA}")
    if not isinstance(data.get("id"), str) or not JOURNAL_ID.fullmatch(data["id"]) or data["id"] != stem:
        raise JournalInvalid(f"id {data.get('id')!r} is not this journal's id ({stem})")
    if data.get("state") not in STATES:
        raise JournalInvalid(f"state {data.get('state')!r} is not a journal state")
    if not isinstance(data.get("root"), str):
        raise JournalInvalid("root is missing or not a string")
    for key in ("boot", "persist", "live"):
        if key in data and not isinstance(data[key], bool):
            raise JournalInvalid(f"{key} is not true or false")
    for key in ("profile", "profile_ref", "started", "finished", "error", "rolled_back"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise JournalInvalid(f"{key} is not a string")
    steps = data.get("steps")
    if not isinstance(steps, list):
        raise JournalInvalid("steps is not a list")
    out = []
    for n, raw in enumerate(steps):
        try:
            out.append(check_step(raw))
        except JournalInvalid as exc:
            raise JournalInvalid(f"steps[{n}]: {exc}") from None
    return out


def _text(name: str, value: Any, *, optional: bool = False, limit: int = MAX_TEXT) -> str | None:
    if value is None and optional:
        return None
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
    if not isinstance(dirs, list) or not all(isinstance(d, str) and d in sysfs.OWN_DIRS for d in dirs):
        raise JournalInvalid("created_dirs lists a folder hwtune never creates")
    if dirs and kind not in (FILE, LINK):
        raise JournalInvalid("created_dirs on a step that creates no folder")
    if any(not path.startswith(d + "/") for d in dirs):
        raise JournalInvalid("created_dirs lists a folder that does not hold the step's file")
    old, new, raw_b64 = raw.get("old"), raw.get("new"), raw.get("old_raw_b64")
    if kind == VALUE:
        from hwtune.apply.tunables import for_path

        tunable = for_path(path)  # how the declaration that writes the file reads it, what it may hold
        if tunable is None:
            raise JournalInvalid(f"{path} is not on hwtune's allow-list of writable paths")
        if reader != tunable.reader:
            raise JournalInvalid(f"reader {reader!r} is not how {path} is read")
        for name, value in (("old", old), ("new", new)):
            if not isinstance(value, str) or not tunable.writable(value):
                raise JournalInvalid(f"{name} {value!r} is not a value apply could write to {path}")
        if raw_b64 is not None:
            _check_raw(raw_b64, reader, old)
    elif kind == FILE:
        from hwtune.apply.persist import REBUILD

        if path not in sysfs.OWN_FILES or reader != "file":
            raise JournalInvalid(f"{path} is not one of hwtune's own files")
        old, new = (_rebuild(REBUILD[path], path, n, v) for n, v in (("old", old), ("new", new)))
        raw_b64 = None
    elif kind == LINK:
        from hwtune.apply.persist import LINK_TARGET

        if path not in sysfs.OWN_LINKS or reader != "link":
            raise JournalInvalid(f"{path} is not hwtune's own link")
        if old not in (None, LINK_TARGET) or new not in (None, LINK_TARGET):
            raise JournalInvalid(f"a link target other than {LINK_TARGET}")
        raw_b64 = None
    elif kind == SYSTEMD:
        from hwtune.apply.nvidia import UNIT

        if path != UNIT or reader != "systemd":
            raise JournalInvalid(f"{path!r} is not a unit hwtune manages")
        if not all(isinstance(v, str) and SYSTEMD_STATE.fullmatch(v) for v in (old, new)):
            raise JournalInvalid("a unit state that is not 'enabled,active' or the like")
        raw_b64 = None
    elif kind == NVML:
        if not BUS_ID.fullmatch(path) or reader != "nvml":
            raise JournalInvalid(f"{path!r} is not a PCI bus id")
        if old not in ("Enabled", "Disabled") or new not in ("Enabled", "Disabled"):
            raise JournalInvalid("a persistence mode other than Enabled/Disabled")
        raw_b64 = None
    else:
        raise JournalInvalid(f"kind {kind!r} is not a step kind")
    return Step(key, where, kind, path, old, new, reader, old_raw_b64=raw_b64, created_dirs=tuple(dirs))


def _rebuild(rebuild, path: str, name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise JournalInvalid(f"{name} of {path} is not text")
    try:
        return rebuild(value)
    except ValueError as exc:
        raise JournalInvalid(f"{name} of {path}: {exc}") from None


def _check_raw(raw_b64: Any, reader: str, old: str) -> None:
    from hwtune.apply.readers import PARSERS
    from hwtune.errors import ParseError

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
