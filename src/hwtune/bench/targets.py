"""What a backend can drive here: its devices, each with the precisions it runs, and the CPUs
this process may use. The bottom of bench: the backend interface (engines), the backends and
the device listing (devices) all import it, and it imports none of them."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceInfo:
    backend: str
    device: str  # what --device takes: CPU, CUDA, TensorRT (onnxruntime); CPU, GPU.0, NPU (OpenVINO)
    name: str  # the runtime's description
    precisions: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"backend": self.backend, "device": self.device, "name": self.name, "precisions": list(self.precisions)}


@dataclass(frozen=True)
class DeviceList:
    devices: tuple[DeviceInfo, ...]
    notes: tuple[str, ...]  # providers present but not benchmarked, backends that failed to load
    problems: tuple[str, ...] = ()  # of the notes, the backends that failed to load: a run reports these

    def to_json(self) -> dict[str, object]:
        return {"devices": [d.to_json() for d in self.devices], "notes": list(self.notes)}


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity), else the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
