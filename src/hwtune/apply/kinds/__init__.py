"""The step kinds of apply, one object each, found by listing this package (as tunables and checks are).

`kind(name)` is the one place apply, rollback, the journal check and the plan
rendering ask how a step is planned, read, written, undone, trusted or shown.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from functools import lru_cache

from hwtune.apply.kinds.base import NvmlWriter, StepKind
from hwtune.apply.model import Step
from hwtune.host import Host

_MACHINERY = {"base"}


@lru_cache(maxsize=1)
def registry() -> dict[str, StepKind]:
    found: dict[str, StepKind] = {}
    names = sorted(f[:-3] for f in os.listdir(__path__[0]) if f.endswith(".py") and not f.startswith("_"))
    for name in names:
        if name not in _MACHINERY:
            for kind in getattr(importlib.import_module(f"{__name__}.{name}"), "KINDS", ()):
                if kind.name in found:
                    raise RuntimeError(f"step kind {kind.name!r} is declared twice")
                found[kind.name] = kind
    return found


def kind(name: str) -> StepKind | None:
    """The step kind of that name; None: not a kind (a journal from elsewhere)."""
    return registry().get(name)


def read_step(host: Host, step: Step, nvml: NvmlWriter | None = None) -> str | None:
    """The current value of what a step writes, read as plan, verify and undo read it."""
    found = kind(step.kind)
    if found is None:
        raise ValueError(f"unknown step kind {step.kind!r}")
    return found.read(host, step, nvml)


def needs_nvml(steps: Iterable[Step]) -> bool:
    """Whether undoing these steps needs an NVML session (opened only then)."""
    return any(getattr(kind(s.kind), "needs_nvml", False) for s in steps)
