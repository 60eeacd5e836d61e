"""The devices bench can measure here: onnxruntime providers and OpenVINO devices."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hwtune.bench.engines import backend as named, backends
from hwtune.errors import ConfigError


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


def list_devices() -> DeviceList:
    devices: list[DeviceInfo] = []
    notes: list[str] = []
    problems: list[str] = []
    for b in backends():
        try:
            found, more = b.devices()
        except ImportError as exc:
            problems.append(f"{b.name} is not importable: {exc}")
        except RuntimeError as exc:
            problems.append(f"{b.title} could not list devices: {str(exc).splitlines()[0] if str(exc) else exc!r}")
        else:
            devices.extend(found)
            notes.extend(more)
    return DeviceList(tuple(devices), tuple(problems + notes), tuple(problems))


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity), else the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def select(found: DeviceList, backend: str = "all", devices: tuple[str, ...] = ()) -> list[DeviceInfo]:
    """The devices matching --backend and --device (case-insensitive; `GPU` matches `GPU.0`)."""
    want_backend = None if backend == "all" else named(backend, "--backend").name
    chosen = [d for d in found.devices if want_backend is None or d.backend == want_backend]
    if devices:
        wanted = [w.strip().lower() for w in devices if w.strip()]
        chosen = [d for d in chosen if any(_matches(d.device, w) for w in wanted)]
    if not chosen:
        have = ", ".join(f"{d.backend}/{d.device}" for d in found.devices) or "none"
        asked = f"--backend {backend}" + (f" --device {','.join(devices)}" if devices else "")
        raise ConfigError(f"no device matches {asked}; found: {have}")
    return chosen


def _matches(device: str, wanted: str) -> bool:
    d = device.lower()
    return d == wanted or d.split(".", 1)[0] == wanted
