"""The plain values apply passes between its stages: Step, Item, Plan.

A Step is one write with its old and new value, exactly what goes into the
journal before the write. An Item is one row of the plan a user sees: a
change (with its Step), something already so, something skipped with the
reason, or something that needs a reboot (with the command).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

# Step kinds: how a step is written and undone, one object each (apply/kinds/). The ones a
# tunable asks for by name are declared with the tunables: VALUE (a kernel value in an existing
# sysfs/procfs file), SYSTEMD (a unit's state, "enabled,active"), NVML (per-GPU persistence mode).
from hwtune.tunables.base import INVALID, NVML, OK, PENDING, SKIP, SYSTEMD, VALUE

FILE = "file"  # hwtune's own file (sysctl.d drop-in, systemd unit); None = absent
LINK = "link"  # hwtune's own symlink (the unit's `wants` link); None = absent

# Item statuses: a target's (OK, SKIP, PENDING, INVALID, from the tunables), and a write to make
CHANGE = "change"

__all__ = ["CHANGE", "FILE", "INVALID", "LINK", "NVML", "OK", "PENDING", "SKIP", "SYSTEMD", "VALUE",
           "Item", "Plan", "Step"]


@dataclass(frozen=True)
class Step:
    key: str  # the profile key: cpu.governor, sysctl.vm.swappiness, persist.unit
    where: str  # policy3, /proc/sys/vm/swappiness, GPU 00000000:81:00.0
    kind: str
    path: str  # absolute path on the host; a unit name for SYSTEMD; a PCI bus id for NVML
    old: str | None
    new: str | None
    reader: str  # how the current value is read back (its kind's; for a kernel file, probe/values.py)
    old_raw_b64: str | None = None  # exact old bytes, restored byte for byte under --root
    created_dirs: tuple[str, ...] = ()  # folders this step creates, removed again on undo

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_dirs"] = list(self.created_dirs)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["created_dirs"] = tuple(values.get("created_dirs", ()))
        return cls(**values)

    @property
    def label(self) -> str:
        return f"{self.key} ({self.where})" if self.where else self.key


@dataclass(frozen=True)
class Item:
    key: str
    where: str
    current: str | None  # None: could not be read
    target: str | None
    status: str
    reason: str = ""
    mode: str = "runtime"  # runtime | persistent | boot
    reboot: bool = False
    command: str | None = None  # for PENDING: exactly what to run
    step: Step | None = None
    hardening: str = ""  # why this change lowers kernel hardening (apply/hardening.py); "" when it does not
    # "KIND: why" for a change rollback cannot undo or that may stop the host (apply/irreversible.py)
    risks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "step"}
        data["step"] = self.step.to_json() if self.step else None
        data["risks"] = ([f"LOWERS KERNEL HARDENING: {self.hardening}"] if self.hardening else []) + list(self.risks)
        return data


@dataclass(frozen=True)
class Plan:
    profile: str
    root: str
    live: bool
    items: tuple[Item, ...]

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(i.step for i in self.items if i.status == CHANGE and i.step is not None)

    @property
    def invalid(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.status == INVALID)

    @property
    def lowers_hardening(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.hardening)

    @property
    def irreversible(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.risks)

    @property
    def pending(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.status == PENDING)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "root": self.root,
            "live": self.live,
            "items": [i.to_json() for i in self.items],
        }
