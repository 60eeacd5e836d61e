"""Carry out one Step forward or back: every write of apply and rollback passes here.

Because all writes pass through `Executor.perform`, tests can make the k-th
write (or the k-th undo) fail and can stop a real apply after k writes:

    HWTUNE_TEST_FAIL_WRITE=k[:ERRNO]   the k-th forward write fails (default EINVAL)
    HWTUNE_TEST_FAIL_UNDO=k[:ERRNO]    the k-th undo write fails
    HWTUNE_TEST_PAUSE_AFTER_WRITES=k   after k forward writes, wait (for kill -9)
    HWTUNE_TEST_PAUSE_FILE=PATH        created when the pause begins

They exist for the tests and change nothing when unset.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from hwtune.apply import sysfs
from hwtune.apply.kinds import kind, read_step
from hwtune.apply.kinds.base import NvmlWriter, StepFailed, StepKind
from hwtune.apply.model import Step
from hwtune.atomic import pause_for_crash_test
from hwtune.host import Host

FAIL_WRITE_ENV = "HWTUNE_TEST_FAIL_WRITE"
FAIL_UNDO_ENV = "HWTUNE_TEST_FAIL_UNDO"
PAUSE_ENV = "HWTUNE_TEST_PAUSE_AFTER_WRITES"


@dataclass(frozen=True)
class Fault:
    at: int
    errno_name: str
    env: str

    @classmethod
    def from_env(cls, name: str) -> Fault | None:
        raw = os.environ.get(name, "").strip()
        if not raw:
            return None
        at, _, err = raw.partition(":")
        err = err or "EINVAL"
        if not at.isdigit() or not hasattr(errno, err):
            return None
        return cls(int(at), err, name)

    def error(self, step: Step) -> sysfs.WriteError:
        code = getattr(errno, self.errno_name)
        return sysfs.WriteError(step.path, f"{self.errno_name} ({os.strerror(code)}) [injected by {self.env}]",
                                self.errno_name)


class Executor:
    """Writes steps to one root; `live` decides whether undo restores values or exact bytes."""

    def __init__(self, host: Host, live: bool, nvml: NvmlWriter | None = None) -> None:
        self.host = host
        self.root = host.root
        self.live = live
        self.nvml = nvml
        self.writes = 0
        self.undos = 0
        self.fail_write = Fault.from_env(FAIL_WRITE_ENV)
        self.fail_undo = Fault.from_env(FAIL_UNDO_ENV)
        pause = os.environ.get(PAUSE_ENV, "")
        self.pause_after = int(pause) if pause.isdigit() else None

    def current(self, step: Step) -> str | None:
        return read_step(self.host, step, self.nvml)

    def do(self, step: Step) -> None:
        self.writes += 1
        if self.fail_write and self.fail_write.at == self.writes:
            raise StepFailed(step, self.fail_write.error(step).reason)
        self._perform(step, step.new, raw=None, created=step.created_dirs)
        self._verify(step, step.new)
        if self.pause_after == self.writes:
            pause_for_crash_test()

    def undo(self, step: Step) -> bool:
        """Restore the old value; False when it already was the old value (nothing written)."""
        if self.current(step) == step.old:
            self._kind(step).tidy(self, step)
            return False
        self.undos += 1
        if self.fail_undo and self.fail_undo.at == self.undos:
            raise StepFailed(step, self.fail_undo.error(step).reason)
        self._perform(step, step.old, raw=self._kind(step).undo_raw(step, self.live), created=())
        self._verify(step, step.old)
        self._kind(step).tidy(self, step)
        return True

    @staticmethod
    def _kind(step: Step) -> StepKind:
        found = kind(step.kind)
        if found is None:
            raise StepFailed(step, f"unknown step kind {step.kind!r}")
        return found

    def _perform(self, step: Step, value: str | None, raw: bytes | None, created: tuple[str, ...]) -> None:
        try:
            self._kind(step).write(self, step, value, raw, created)
        except sysfs.WriteError as exc:
            raise StepFailed(step, exc.reason) from None

    def _verify(self, step: Step, expected: str | None) -> None:
        now = self.current(step)
        if now != expected:
            raise StepFailed(step, f"the write was accepted but it reads back {now!r}, not {expected!r}")
