"""What a tunable declaration is made of, and the plain targets its plan returns.

A declaration names its [tune] key, the values it accepts, the kernel files it
may write and how they read back, the facts its current value is observed as,
and the check parameters that verify it. Its plan reads the host and returns
Targets: "write this value there" or "nothing to write, because ...". apply/
turns them into plan items, journal steps and rollback; a declaration never
imports apply/.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

# What a target asks of apply. WRITE: apply reads the current value, compares and journals the
# write; the others are plan rows as they are (the same words as apply's plan statuses).
WRITE = "write"
OK = "ok"  # already at the target, nothing to write (a setting apply never writes itself)
SKIP = "skip"  # the interface does not exist here, or does not apply
PENDING = "pending reboot"  # never applied; the target carries the command
INVALID = "not available"  # the target is not a value this host allows

# How a target is written: the step kinds of apply/kinds/ ("value": an existing kernel value file).
VALUE = "value"
SYSTEMD = "systemd"
NVML = "nvml"


@dataclass(frozen=True)
class Target:
    """One place a tunable wants a value at, as its plan found it on the host."""

    key: str  # the [tune] key, or "sysctl.<name>" for an entry of [tune.sysctl]
    where: str  # policy3, GPU 00000000:81:00.0, "" when the key says it all
    target: str | None  # the value wanted there
    status: str = WRITE
    kind: str = VALUE  # for WRITE: how it is written (a step kind of apply/kinds/)
    path: str = ""  # for WRITE: the kernel file (host path), unit, or PCI bus id written
    current: str | None = None  # the value now, where the plan read it (None: apply reads it)
    reason: str = ""
    mode: str = "runtime"  # runtime | persistent | reboot
    command: str | None = None  # for PENDING: exactly what to run


def write(key: str, where: str, path: str, target: str, *, current: str | None = None, mode: str = "runtime",
          kind: str = VALUE, reason: str = "") -> Target:
    return Target(key, where, target, WRITE, kind, path, current, reason, mode)


def skip(key: str, where: str, target: Any, reason: str, *, current: str | None = None,
         mode: str = "runtime") -> Target:
    return Target(key, where, target, SKIP, current=current, reason=reason, mode=mode)


def invalid(key: str, where: str, target: Any, reason: str, *, current: str | None = None,
            mode: str = "runtime") -> Target:
    return Target(key, where, target, INVALID, current=current, reason=reason, mode=mode)


class Nvml(Protocol):
    """The NVML adapter apply hands to the GPU tunables (apply/nvml.py)."""

    error: str | None

    def available(self) -> bool: ...
    def bus_ids(self) -> list[str]: ...
    def persistence(self, bus_id: str) -> str | None: ...


class PlanContext(NamedTuple):
    mode: str  # runtime | persistent
    nvml: Nvml | None = None  # the NVML adapter, for the GPU tunables


def _same(value: Any) -> Any:
    return value


class Verify(NamedTuple):
    """A check parameter a [tune] value sets, so `check --profile P` expects what `apply --profile P` sets.

    Checked when the registry loads: `check` must be a registered check and `param` one of its
    parameters (None: the check verifies the value with its own defaults)."""

    check: str
    param: str | None
    value: Callable[[Any], Any] = _same  # [tune] value -> the parameter's value; None: not verified
    # (value a profile's [checks] states, value [tune] gives it) -> do they agree?
    agrees: Callable[[Any, Any], bool] = operator.eq
    entry: str | None = None  # for a table tunable ([tune.sysctl]): the entry of the table it reads


Plan = Callable[[Any, Mapping[str, Any], PlanContext], "list[Target]"]


def _no_refusal(value: Any) -> str | None:
    return None


def _nothing_writable(value: str) -> bool:
    return False


class Tunable(NamedTuple):
    key: str  # the [tune] key ("cpu.governor"; "sysctl" is the table of sysctls)
    type: type  # its TOML type
    order: int  # plan order: kernel values first, GPU and boot-time settings after
    plan: Plan | None  # host, the profile's [tune], context -> targets
    example: Any  # a value a profile may give it (docs and tests)
    verifies: tuple[Verify, ...] = ()
    # [tune] value -> why apply would refuse it on any host (naming the key), or None
    refuse: Callable[[Any], str | None] = _no_refusal
    writes: tuple[str, ...] = ()  # regexes of the kernel files (host paths) it may write
    reader: str = "word"  # how those files are read back (probe/values.py PARSERS)
    # a value those files may hold as apply writes it: what rollback accepts from a journal
    writable: Callable[[str], bool] = _nothing_writable
    # another key whose plan also plans this one (the kernel couples them); None: planned by `plan`
    planned_with: str | None = None
    facts: tuple[str, ...] = ()  # the fact ids its current value is observed as (hwtune/factids.py)
