"""Per-GPU persistence mode through NVML, "Enabled"/"Disabled", by PCI bus id."""

from __future__ import annotations

import re
from typing import Any

from hwtune.apply.kinds.base import JournalInvalid, NvmlWriter, StepFailed, StepKind, Writer
from hwtune.apply.model import NVML, Step
from hwtune.host import Host

BUS_ID = re.compile(r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]")
MODES = ("Enabled", "Disabled")


class NvmlKind(StepKind):
    name = NVML
    needs_nvml = True

    def read(self, host: Host, step: Step, nvml: NvmlWriter | None) -> str | None:
        return None if nvml is None else nvml.persistence(step.path)

    def write(self, ex: Writer, step: Step, value: str | None, raw: bytes | None, created: tuple[str, ...]) -> None:
        if ex.nvml is None:
            raise StepFailed(step, "NVML is not available")
        error = ex.nvml.set_persistence(step.path, value == "Enabled")
        if error:
            raise StepFailed(step, error)

    def check(self, path: str, reader: Any, old: Any, new: Any, raw_b64: Any) -> tuple[Any, Any, Any]:
        if not BUS_ID.fullmatch(path) or reader != self.name:
            raise JournalInvalid(f"{path!r} is not a PCI bus id")
        if old not in MODES or new not in MODES:
            raise JournalInvalid("a persistence mode other than Enabled/Disabled")
        return old, new, None


KINDS = (NvmlKind(),)
