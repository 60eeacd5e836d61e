"""A systemd unit's state, "enabled,active": changed with systemctl, on the live system only."""

from __future__ import annotations

import re
from typing import Any

from hwtune.apply.kinds.base import JournalInvalid, NvmlWriter, StepFailed, StepKind, Writer
from hwtune.apply.model import SYSTEMD, Step
from hwtune.host import Host
from hwtune.tunables.nvidia_persistenced import KEEP_ENABLED, SYSTEMCTL_TIMEOUT_S, UNIT, read_systemd, split_state

SYSTEMD_STATE = re.compile(r"[a-z-]{1,32},(active|inactive)")


def systemd_commands(unit: str, current: str | None, target: str | None) -> list[list[str]]:
    """The systemctl calls that take the unit from `current` to `target` (both "enabled,active" style)."""
    cur_e, cur_a = split_state(current)
    tgt_e, tgt_a = split_state(target)
    enable = tgt_e == "enabled" and cur_e != "enabled"
    start = tgt_a == "active" and cur_a != "active"
    cmds = []
    if enable and start:
        return [["systemctl", "enable", "--now", unit]]
    if enable:
        cmds.append(["systemctl", "enable", unit])
    if start:
        cmds.append(["systemctl", "start", unit])
    if tgt_a != "active" and cur_a == "active":
        cmds.append(["systemctl", "stop", unit])
    if tgt_e not in KEEP_ENABLED and cur_e == "enabled":
        cmds.append(["systemctl", "disable", unit])
    return cmds


class SystemdKind(StepKind):
    name = SYSTEMD

    def read(self, host: Host, step: Step, nvml: NvmlWriter | None) -> str | None:
        return read_systemd(host, step.path)

    def write(self, ex: Writer, step: Step, value: str | None, raw: bytes | None, created: tuple[str, ...]) -> None:
        for argv in systemd_commands(step.path, ex.current(step), value):
            result = ex.host.run(argv, SYSTEMCTL_TIMEOUT_S)
            if not result.ok:
                raise StepFailed(step, f"`{' '.join(argv)}` failed: {result.error}")

    def check(self, path: str, reader: Any, old: Any, new: Any, raw_b64: Any) -> tuple[Any, Any, Any]:
        if path != UNIT or reader != self.name:
            raise JournalInvalid(f"{path!r} is not a unit hwtune manages")
        if not all(isinstance(v, str) and SYSTEMD_STATE.fullmatch(v) for v in (old, new)):
            raise JournalInvalid("a unit state that is not 'enabled,active' or the like")
        return old, new, None


KINDS = (SystemdKind(),)
