"""hwtune's own files (the sysctl.d drop-in, the boot unit) and its own link (the unit's `wants`).

None is "absent": a step may create or remove them, with the folders they
need. A journal's text for them is never written back as it is: rollback
writes what apply/persist.py rebuilds from the validated values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hwtune.apply import sysfs
from hwtune.apply.kinds.base import JournalInvalid, NvmlWriter, StepFailed, StepKind, Writer
from hwtune.apply.model import FILE, LINK, Step
from hwtune.apply.persist import LINK_TARGET, REBUILD
from hwtune.host import Host


class _Own(StepKind):
    creates_dirs = True

    def tidy(self, ex: Writer, step: Step) -> None:
        """What a killed writer leaves besides the value: its temporary file, then the folders it made."""
        try:
            sysfs.remove_leftovers(ex.host, step.path)
        except sysfs.WriteError as exc:
            raise StepFailed(step, exc.reason) from None
        sysfs.remove_dirs(ex.host, step.created_dirs)


class FileKind(_Own):
    name = FILE

    def read(self, host: Host, step: Step, nvml: NvmlWriter | None) -> str | None:
        return host.read(step.path, record=False)

    def write(self, ex: Writer, step: Step, value: str | None, raw: bytes | None, created: tuple[str, ...]) -> None:
        sysfs.make_dirs(ex.host, created)
        sysfs.write_own_file(ex.host, step.path, value)

    def check(self, path: str, reader: Any, old: Any, new: Any, raw_b64: Any) -> tuple[Any, Any, Any]:
        if path not in sysfs.OWN_FILES or reader != self.name:
            raise JournalInvalid(f"{path} is not one of hwtune's own files")
        return _rebuild(REBUILD[path], path, "old", old), _rebuild(REBUILD[path], path, "new", new), None

    def show(self, value: str | None) -> str | None:
        return "absent" if value is None else "installed"


class LinkKind(_Own):
    name = LINK

    def read(self, host: Host, step: Step, nvml: NvmlWriter | None) -> str | None:
        return host.readlink(step.path)

    def write(self, ex: Writer, step: Step, value: str | None, raw: bytes | None, created: tuple[str, ...]) -> None:
        sysfs.make_dirs(ex.host, created)
        sysfs.write_own_link(ex.host, step.path, value)

    def check(self, path: str, reader: Any, old: Any, new: Any, raw_b64: Any) -> tuple[Any, Any, Any]:
        if path not in sysfs.OWN_LINKS or reader != self.name:
            raise JournalInvalid(f"{path} is not hwtune's own link")
        if old not in (None, LINK_TARGET) or new not in (None, LINK_TARGET):
            raise JournalInvalid(f"a link target other than {LINK_TARGET}")
        return old, new, None

    def show(self, value: str | None) -> str | None:
        return "not enabled" if value is None else "enabled"


def _rebuild(rebuild: Callable[[str], str], path: str, name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise JournalInvalid(f"{name} of {path} is not text")
    try:
        return rebuild(value)
    except ValueError as exc:
        raise JournalInvalid(f"{name} of {path}: {exc}") from None


KINDS = (FileKind(), LinkKind())
