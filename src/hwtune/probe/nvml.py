"""The NVML adapter: the only module that imports pynvml (nvidia-ml-py).

NVML is loaded lazily: `import pynvml` and `nvmlInit` happen when a `Nvml`
context is entered, `nvmlShutdown` when it is left; importing this module
does neither. The session's methods return plain values (`Gpu` records and
strings), so the rest of hwtune never sees a ctypes structure or an NVML
exception. Tests replace the module object `import_pynvml` returns with a
scenario fake (tests/fake_nvml.py).
"""

from __future__ import annotations

from types import ModuleType, TracebackType
from typing import Any, Callable

from hwtune.facts import Gpu, GpuHealth
from hwtune.probe.nvidia import NvidiaSmiReport

_MIB = 1024 * 1024

# nvmlDeviceGetArchitecture -> the names nvidia-smi prints in <product_architecture>
ARCHITECTURES = {2: "Kepler", 3: "Maxwell", 4: "Pascal", 5: "Volta", 6: "Turing",
                 7: "Ampere", 8: "Ada Lovelace", 9: "Hopper", 10: "Blackwell"}
# nvmlDeviceGetComputeMode -> nvidia-smi's <compute_mode>, lower-cased
COMPUTE_MODES = {0: "default", 1: "exclusive_thread", 2: "prohibited", 3: "exclusive_process"}
# nvmlDeviceGetVirtualizationMode -> nvidia-smi's <virtualization_mode>
VIRTUALIZATION_MODES = {0: "None", 1: "Pass-Through", 2: "VGPU", 3: "Host VGPU", 4: "Host VSGA"}
# nvmlClocksEventReason* bits (nvml.h; "ClocksThrottleReason" before driver 535) -> hwtune's names
CLOCKS_EVENT_REASONS = ((0x1, "gpu_idle"), (0x2, "applications_clocks_setting"), (0x4, "sw_power_cap"),
                        (0x8, "hw_slowdown"), (0x10, "sync_boost"), (0x20, "sw_thermal_slowdown"),
                        (0x40, "hw_thermal_slowdown"), (0x80, "hw_power_brake_slowdown"),
                        (0x100, "display_clocks_setting"))


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

    def __enter__(self) -> "NvmlSession":
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
        try:
            nv.nvmlShutdown()
        except nv.NVMLError:
            pass  # nothing useful to do: the answers are already read


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

    def read_health(self, h: Any, memory: Any = None) -> GpuHealth:
        """ECC, retired pages, remapped rows, clocks event reasons and the
        readings `hwtune watch` shows; "not supported" fields are None."""
        nv = self._nv

        def ecc(error_type: int, counter: int) -> int | None:
            return _int(self._field(nv.nvmlDeviceGetTotalEccErrors, h, error_type, counter))

        def pages(cause: int) -> int | None:
            found = self._field(nv.nvmlDeviceGetRetiredPages, h, cause)
            return None if found is None else len(found)

        remap = self._field(nv.nvmlDeviceGetRemappedRows, h) or (None, None, None, None)
        reasons_fn = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None) \
            or nv.nvmlDeviceGetCurrentClocksThrottleReasons
        reasons = self._field(reasons_fn, h)
        util = self._field(nv.nvmlDeviceGetUtilizationRates, h)
        corrected, uncorrected = nv.NVML_MEMORY_ERROR_TYPE_CORRECTED, nv.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
        return GpuHealth(
            ecc_volatile_corrected=ecc(corrected, nv.NVML_VOLATILE_ECC),
            ecc_volatile_uncorrected=ecc(uncorrected, nv.NVML_VOLATILE_ECC),
            ecc_aggregate_corrected=ecc(corrected, nv.NVML_AGGREGATE_ECC),
            ecc_aggregate_uncorrected=ecc(uncorrected, nv.NVML_AGGREGATE_ECC),
            retired_pages_sbe=pages(nv.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS),
            retired_pages_dbe=pages(nv.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR),
            retired_pages_pending=_flag(self._field(nv.nvmlDeviceGetRetiredPagesPendingStatus, h)),
            remapped_rows_correctable=_int(remap[0]),
            remapped_rows_uncorrectable=_int(remap[1]),
            remapped_rows_pending=None if remap[2] is None else bool(remap[2]),
            remapped_rows_failure=None if remap[3] is None else bool(remap[3]),
            throttle_reasons=None if reasons is None else tuple(
                name for bit, name in CLOCKS_EVENT_REASONS if int(reasons) & bit),
            temp_c=_int(self._field(nv.nvmlDeviceGetTemperature, h, nv.NVML_TEMPERATURE_GPU)),
            temp_slowdown_c=_int(self._field(nv.nvmlDeviceGetTemperatureThreshold, h,
                                             nv.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)),
            temp_shutdown_c=_int(self._field(nv.nvmlDeviceGetTemperatureThreshold, h,
                                             nv.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN)),
            pcie_replays=_int(self._field(nv.nvmlDeviceGetPcieReplayCounter, h)),
            power_draw_w=_watts(self._field(nv.nvmlDeviceGetPowerUsage, h)),
            clocks_sm_mhz=_int(self._field(nv.nvmlDeviceGetClockInfo, h, nv.NVML_CLOCK_SM)),
            clocks_sm_max_mhz=_int(self._field(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_SM)),
            clocks_mem_mhz=_int(self._field(nv.nvmlDeviceGetClockInfo, h, nv.NVML_CLOCK_MEM)),
            clocks_mem_max_mhz=_int(self._field(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_MEM)),
            utilization_gpu_pct=None if util is None else int(util.gpu),
            utilization_mem_pct=None if util is None else int(util.memory),
            memory_used_mib=None if memory is None else int(memory.used) // _MIB,
            reset_required=self._reset_required(h),
        )

    def _reset_required(self, h: Any) -> bool | None:
        """NVML's GPU recovery action (the field behind nvidia-smi's "GPU Reset
        Status", driver 535+): a reset, a drain-and-reset or a reboot means the
        GPU must be reset before it serves again. None: not reported."""
        nv = self._nv
        field_id = getattr(nv, "NVML_FI_DEV_GET_GPU_RECOVERY_ACTION", None)
        if field_id is None:  # nvidia-ml-py before 12.560
            return None
        values = self._field(nv.nvmlDeviceGetFieldValues, h, [field_id])
        if not values or int(values[0].nvmlReturn) != nv.NVML_SUCCESS:
            return None
        resets = {getattr(nv, f"NVML_GPU_RECOVERY_ACTION_{name}", None) for name in RESET_ACTIONS}
        return int(values[0].value.uiVal) in resets

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


# nvmlGpuRecoveryAction_t values after which the GPU serves again only once reset or rebooted
RESET_ACTIONS = ("GPU_RESET", "NODE_REBOOT", "DRAIN_AND_RESET", "BUS_RESET", "SYSTEM_REBOOT")


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):  # nvidia-ml-py before 11.5 returned bytes
        value = value.decode("utf-8", errors="replace")
    return value or None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _flag(value: Any) -> bool | None:
    return None if value is None else value == 1  # NVML_FEATURE_ENABLED


def _state(value: Any) -> str | None:
    return {0: "disabled", 1: "enabled"}.get(value) if value is not None else None


def _watts(milliwatts: Any) -> float | None:
    return None if milliwatts is None else int(milliwatts) / 1000.0
