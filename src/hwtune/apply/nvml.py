"""Per-GPU persistence mode through NVML, used only where nvidia-persistenced cannot be.

NVML is initialised lazily, on the first call, and shut down by `close()`; a
GPU whose call fails answers with an error for that GPU alone.
"""

from __future__ import annotations

from typing import Any


class Nvml:
    def __init__(self) -> None:
        self._lib: Any = None
        self.error: str | None = None

    def _nvml(self) -> Any:
        if self._lib is None and self.error is None:
            try:
                import pynvml

                pynvml.nvmlInit()
                self._lib = pynvml
            except Exception as exc:  # ImportError, NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded, ...
                self.error = f"NVML is not available: {exc}"
        return self._lib

    def available(self) -> bool:
        return self._nvml() is not None

    def bus_ids(self) -> list[str]:
        lib = self._nvml()
        if lib is None:
            return []
        ids = []
        for index in range(lib.nvmlDeviceGetCount()):
            pci = lib.nvmlDeviceGetPciInfo(lib.nvmlDeviceGetHandleByIndex(index))
            bus = pci.busId
            ids.append(bus.decode() if isinstance(bus, bytes) else bus)
        return ids

    def persistence(self, bus_id: str) -> str | None:
        lib = self._nvml()
        if lib is None:
            return None
        try:
            handle = lib.nvmlDeviceGetHandleByPciBusId(bus_id)
            return "Enabled" if lib.nvmlDeviceGetPersistenceMode(handle) == lib.NVML_FEATURE_ENABLED else "Disabled"
        except lib.NVMLError:
            return None

    def set_persistence(self, bus_id: str, on: bool) -> str | None:
        """None on success, else why it failed (NVML's own message: No permission, Not supported, ...)."""
        lib = self._nvml()
        if lib is None:
            return self.error
        try:
            handle = lib.nvmlDeviceGetHandleByPciBusId(bus_id)
            lib.nvmlDeviceSetPersistenceMode(handle, lib.NVML_FEATURE_ENABLED if on else lib.NVML_FEATURE_DISABLED)
        except lib.NVMLError as exc:
            return f"NVML: {exc}"
        return None

    def close(self) -> None:
        if self._lib is not None:
            try:
                self._lib.nvmlShutdown()
            finally:
                self._lib = None
