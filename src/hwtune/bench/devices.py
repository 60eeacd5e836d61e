"""The devices bench can measure here: onnxruntime providers and OpenVINO devices."""

from __future__ import annotations

from hwtune.bench.engines import backend as named
from hwtune.bench.engines import backends
from hwtune.bench.targets import DeviceInfo, DeviceList
from hwtune.errors import ConfigError


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
