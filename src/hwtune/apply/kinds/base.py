"""A step kind: everything apply, rollback and the journal check know about one kind of write.

One object per kind (apply/kinds/*.py): how a tunable's target becomes a plan
item and its step, how the value is read back, written and undone, what a
journal may say about such a step, and how a plan shows its values. A new
kind of write (ethtool, IRQ affinity) is one new module here and the tunable
that asks for it.
"""

from __future__ import annotations

from typing import Any, Protocol

from hwtune.apply.model import CHANGE, OK, Item, Step
from hwtune.host import Host
from hwtune.tunables.base import Target


class StepFailed(Exception):
    def __init__(self, step: Step, reason: str) -> None:
        super().__init__(f"{step.label}: {reason}")
        self.step = step
        self.reason = reason


class JournalInvalid(ValueError):
    """What is wrong with a journal, naming the field."""


class NvmlWriter(Protocol):
    def persistence(self, bus_id: str) -> str | None: ...
    def set_persistence(self, bus_id: str, on: bool) -> str | None: ...


class Writer(Protocol):
    """What a kind writes through (apply/steps.py Executor): the host, and NVML where there is one."""

    host: Host
    live: bool
    nvml: NvmlWriter | None

    def current(self, step: Step) -> str | None: ...


class StepKind:
    name: str = ""
    creates_dirs = False  # its steps may create hwtune's own folders (and remove them on undo)
    needs_nvml = False  # its steps are read and written through an NVML session

    def reader_for(self, path: str) -> str:
        """How a step of this kind at `path` is read back (journaled as its `reader`)."""
        return self.name

    def plan(self, host: Host, target: Target) -> Item:
        """The plan item of a target the tunable already read (`target.current`)."""
        step = Step(target.key, target.where, self.name, target.path, target.current, target.target,
                    self.reader_for(target.path))
        return Item(target.key, target.where, target.current, target.target,
                    OK if target.current == target.target else CHANGE, reason=target.reason, mode=target.mode,
                    step=step)

    def read(self, host: Host, step: Step, nvml: NvmlWriter | None) -> str | None:
        raise NotImplementedError

    def write(self, ex: Writer, step: Step, value: str | None, raw: bytes | None, created: tuple[str, ...]) -> None:
        """Make `value` so (or the exact old bytes `raw`, on undo under --root). Raises StepFailed, or
        sysfs.WriteError naming the errno."""
        raise NotImplementedError

    def undo_raw(self, step: Step, live: bool) -> bytes | None:
        """The exact old bytes undo restores instead of the value; None: the value."""
        return None

    def tidy(self, ex: Writer, step: Step) -> None:
        """After an undo: what a killed writer may have left besides the value."""

    def check(self, path: str, reader: Any, old: Any, new: Any, raw_b64: Any) -> tuple[Any, Any, Any]:
        """A journal's step of this kind, validated as apply validates what it writes: (old, new,
        old_raw_b64) as rollback may use them, or JournalInvalid naming the field."""
        raise NotImplementedError

    def show(self, value: str | None) -> str | None:
        """How a plan cell shows a value of this kind; None: as it is."""
        return None
