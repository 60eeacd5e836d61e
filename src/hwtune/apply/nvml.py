"""Per-GPU persistence mode through NVML, used only where nvidia-persistenced cannot be.

pynvml comes from `hwtune.probe.nvml.import_pynvml` (the one place that
imports it, and the one tests replace with a scenario fake). NVML is
initialised lazily, on the first call, and shut down by `close()`; a GPU
whose call fails answers for itself alone.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from hwtune.probe import nvml as probe_nvml


class Nvml:
    def __init__(self) -> None:
        self._nv: Any = None
        self.error: str | None = None

    def _lib(self) -> Any:
        if self._nv is None and self.error is None:
            try:
                nv = probe_nvml.import_pynvml()
            except ImportError as exc:
                self.error = f"pynvml (nvidia-ml-py) cannot be imported: {exc}"
                return None
            try:
                nv.nvmlInit()
            except nv.NVMLError as exc:
                self.error = f"NVML: {exc}"
                return None
            self._nv = nv
        return self._nv

    def available(self) -> bool:
        return self._lib() is not None

    def bus_ids(self) -> list[str]:
        nv = self._lib()
        if nv is None:
            return []
        ids = []
        try:
            count = nv.nvmlDeviceGetCount()
        except nv.NVMLError as exc:
            self.error = f"NVML: nvmlDeviceGetCount: {exc}"
            return []
        for index in range(count):
            try:
                bus = nv.nvmlDeviceGetPciInfo(nv.nvmlDeviceGetHandleByIndex(index)).busId
            except nv.NVMLError:
                continue  # a lost GPU is left alone; the others are still tuned
            ids.append(bus.decode() if isinstance(bus, bytes) else bus)
        return ids

    def persistence(self, bus_id: str) -> str | None:
        """"Enabled" or "Disabled"; None when NVML cannot say for this GPU."""
        nv = self._lib()
        if nv is None:
            return None
        try:
            mode = nv.nvmlDeviceGetPersistenceMode(nv.nvmlDeviceGetHandleByPciBusId(bus_id))
        except nv.NVMLError:
            return None
        return "Enabled" if mode == nv.NVML_FEATURE_ENABLED else "Disabled"

    def set_persistence(self, bus_id: str, on: bool) -> str | None:
        """None on success, else NVML's reason (No permission, Not supported, ...)."""
        nv = self._lib()
        if nv is None:
            return self.error
        try:
            handle = nv.nvmlDeviceGetHandleByPciBusId(bus_id)
            nv.nvmlDeviceSetPersistenceMode(handle, nv.NVML_FEATURE_ENABLED if on else nv.NVML_FEATURE_DISABLED)
        except nv.NVMLError as exc:
            return f"NVML: {exc}"
        return None

    def close(self) -> None:
        nv, self._nv = self._nv, None
        if nv is not None:
            with suppress(nv.NVMLError):
                nv.nvmlShutdown()
