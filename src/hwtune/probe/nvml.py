"""The NVML adapter: the only module that imports pynvml (nvidia-ml-py).

NVML is loaded lazily: `import pynvml` and `nvmlInit` happen when a `Nvml`
context is entered, `nvmlShutdown` when it is left; importing this module
does neither. The session's methods return plain values (`Gpu` records and
strings), so the rest of hwtune never sees a ctypes structure or an NVML
exception. Tests replace the module object `import_pynvml` returns with a
scenario fake (tests/fake_nvml.py).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from types import ModuleType, TracebackType
from typing import Any

from hwtune.facts import Gpu, GpuHealth
from hwtune.probe.healthfields import health_from_nvml
from hwtune.probe.nvidia import NvidiaSmiReport

_MIB = 1024 * 1024

# nvmlDeviceGetArchitecture -> the names nvidia-smi prints in <product_architecture>
ARCHITECTURES = {2: "Kepler", 3: "Maxwell", 4: "Pascal", 5: "Volta", 6: "Turing",
                 7: "Ampere", 8: "Ada Lovelace", 9: "Hopper", 10: "Blackwell"}
# nvmlDeviceGetComputeMode -> nvidia-smi's <compute_mode>, lower-cased
COMPUTE_MODES = {0: "default", 1: "exclusive_thread", 2: "prohibited", 3: "exclusive_process"}
# nvmlDeviceGetVirtualizationMode -> nvidia-smi's <virtualization_mode>
VIRTUALIZATION_MODES = {0: "None", 1: "Pass-Through", 2: "VGPU", 3: "Host VGPU", 4: "Host VSGA"}

# what a host without the driver is told (NVML's own "NVML Shared Library Not Found" names no cause)
NO_DRIVER = "no NVIDIA driver on this host (libnvidia-ml not found)"


class NvmlUnavailable(Exception):
    """NVML cannot answer at all (no library, no driver, no device list)."""


def import_pynvml() -> ModuleType:
    import pynvml  # heavy and optional: only when NVML is really wanted

    return pynvml


class Nvml:
    """`with Nvml() as session:` runs nvmlInit on enter and nvmlShutdown on exit."""

    def __init__(self) -> None:
        self._nv: Any = None

    def __enter__(self) -> NvmlSession:
        try:
            nv = import_pynvml()
        except ImportError as exc:
            raise NvmlUnavailable(f"pynvml (nvidia-ml-py) cannot be imported: {exc}") from None
        try:
            nv.nvmlInit()
        except nv.NVMLError_LibraryNotFound:
            raise NvmlUnavailable(NO_DRIVER) from None
        except nv.NVMLError as exc:
            raise NvmlUnavailable(f"NVML: {exc}") from None
        self._nv = nv
        return NvmlSession(nv)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        nv, self._nv = self._nv, None
        with suppress(nv.NVMLError):  # nothing useful to do: the answers are already read
            nv.nvmlShutdown()


def read_nvml_report() -> NvidiaSmiReport:
    """Everything hwtune asks NVML, in the shape `parse_nvidia_smi_xml` returns."""
    with Nvml() as session:
        count = session.device_count()
        return NvidiaSmiReport(
            driver_version=session.driver_version(),
            cuda_version=session.cuda_version(),
            attached_gpus=count,
            gpus=tuple(session.read_gpu(i) for i in range(count)),
        )


class NvmlSession:
    def __init__(self, nv: Any) -> None:
        self._nv = nv
        # An answer NVML legitimately gives for a field this GPU or driver lacks.
        self._absent = (nv.NVMLError_NotSupported, nv.NVMLError_FunctionNotFound)

    def device_count(self) -> int:
        try:
            return int(self._nv.nvmlDeviceGetCount())
        except self._nv.NVMLError as exc:
            raise NvmlUnavailable(f"NVML: nvmlDeviceGetCount: {exc}") from None

    def driver_version(self) -> str | None:
        return self._system(self._nv.nvmlSystemGetDriverVersion)

    def cuda_version(self) -> str | None:
        """nvmlSystemGetCudaDriverVersion_v2 gives 13010 for CUDA 13.1."""
        value = self._system(self._nv.nvmlSystemGetCudaDriverVersion_v2)
        return None if value is None else f"{int(value) // 1000}.{int(value) % 1000 // 10}"

    def read_gpu(self, index: int) -> Gpu:
        """One GPU; an NVML error other than "not supported" makes it an error row."""
        nv = self._nv
        try:
            h = nv.nvmlDeviceGetHandleByIndex(index)
            mig = self._field(nv.nvmlDeviceGetMigMode, h) or (None, None)
            ecc = self._field(nv.nvmlDeviceGetEccMode, h) or (None, None)
            power_range = self._field(nv.nvmlDeviceGetPowerManagementLimitConstraints, h) or (None, None)
            memory = self._field(nv.nvmlDeviceGetMemoryInfo, h)
            pci = self._field(nv.nvmlDeviceGetPciInfo, h)
            return Gpu(
                index=index,
                name=_text(self._field(nv.nvmlDeviceGetName, h)),
                bus_id=None if pci is None else _text(pci.busId),
                uuid=_text(self._field(nv.nvmlDeviceGetUUID, h)),
                memory_mib=None if memory is None else int(memory.total) // _MIB,
                persistence_mode=_flag(self._field(nv.nvmlDeviceGetPersistenceMode, h)),
                mig_mode=_state(mig[0]),
                mig_mode_pending=_state(mig[1]),
                ecc_current=_state(ecc[0]),
                ecc_pending=_state(ecc[1]),
                pcie_gen_current=self._field(nv.nvmlDeviceGetCurrPcieLinkGeneration, h),
                pcie_gen_max=self._field(nv.nvmlDeviceGetMaxPcieLinkGeneration, h),
                pcie_width_current=self._field(nv.nvmlDeviceGetCurrPcieLinkWidth, h),
                pcie_width_max=self._field(nv.nvmlDeviceGetMaxPcieLinkWidth, h),
                # the enforced limit is what nvidia-smi shows as current_power_limit
                power_limit_w=_watts(self._field(nv.nvmlDeviceGetEnforcedPowerLimit, h)),
                power_limit_default_w=_watts(self._field(nv.nvmlDeviceGetPowerManagementDefaultLimit, h)),
                power_limit_max_w=_watts(power_range[1]),
                compute_mode=COMPUTE_MODES.get(self._field(nv.nvmlDeviceGetComputeMode, h)),
                architecture=ARCHITECTURES.get(self._field(nv.nvmlDeviceGetArchitecture, h)),
                virtualization_mode=VIRTUALIZATION_MODES.get(self._field(nv.nvmlDeviceGetVirtualizationMode, h)),
                health=self.read_health(h, memory),
            )
        except nv.NVMLError as exc:
            return Gpu(index=index, error=f"NVML: {exc}")

    def read_health(self, h: Any, memory: Any) -> GpuHealth:
        """ECC, retired pages, remapped rows, clocks event reasons and the readings `hwtune
        watch` shows (the table in probe/healthfields.py); "not supported" fields are None.
        `memory`: nvmlDeviceGetMemoryInfo's answer, already asked for the GPU record."""
        return health_from_nvml(_HealthSource(self, h), {"nvmlDeviceGetMemoryInfo": memory})

    def _field(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except self._absent:
            return None

    def _system(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except self._nv.NVMLError:
            return None


class _HealthSource:
    """One GPU's NVML answers, as probe/healthfields.py asks them."""

    def __init__(self, session: NvmlSession, handle: Any) -> None:
        self._session, self._handle = session, handle

    def ask(self, call: str, *args: Any) -> Any:
        return self._session._field(getattr(self._session._nv, call), self._handle, *args)

    def constant(self, name: str) -> Any:
        return getattr(self._session._nv, name, None)


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):  # nvidia-ml-py before 11.5 returned bytes
        value = value.decode("utf-8", errors="replace")
    return value or None


def _flag(value: Any) -> bool | None:
    return None if value is None else value == 1  # NVML_FEATURE_ENABLED


def _state(value: Any) -> str | None:
    return {0: "disabled", 1: "enabled"}.get(value) if value is not None else None


def _watts(milliwatts: Any) -> float | None:
    return None if milliwatts is None else int(milliwatts) / 1000.0
