"""A scenario fake of the pynvml module object that hwtune.probe.nvml uses.

There is no GPU on the machines these tests run on. The fake answers the
NVML calls the adapter makes from a per-GPU table, where an exception
instance is a legitimate answer (NotSupported for a field, GpuIsLost for a
GPU). It keeps the real nvidia-ml-py exception classes and constants, so the
adapter's `except` clauses are exercised against the real hierarchy; no
NVML function of the real module is ever called.

Install it with `use_fake(monkeypatch, fake)`; scenarios: `no_driver()`,
`eight_a100()`, `one_gpu_lost()`, `fields_not_supported()`,
`two_a5000_as_in_xml()`, `sick_a100()`, `reset_required_a100()`. `write_a100_box` lays out the sysfs side of the
eight-GPU box; `ScriptedRunner` answers commands from a table and notes what
was asked.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hwtune.probe import nvml
from hwtune.run import CmdResult, Runner

REAL = nvml.import_pynvml()  # exception classes and constants only
MIB = 1024 * 1024

# The DGX A100 bus ids; four GPUs behind each socket of a two-socket box.
A100_BUS_IDS = ("00000000:07:00.0", "00000000:0F:00.0", "00000000:47:00.0", "00000000:4E:00.0",
                "00000000:87:00.0", "00000000:90:00.0", "00000000:B7:00.0", "00000000:BD:00.0")


class FakePynvml:
    def __init__(self, gpus: list[dict[str, Any]], *, driver: Any = "590.44.01",
                 cuda: Any = 13010, init_error: BaseException | None = None) -> None:
        for name in dir(REAL):
            if name.startswith("NVML"):
                setattr(self, name, getattr(REAL, name))
        self.gpus = gpus
        self.driver = driver
        self.cuda = cuda
        self.init_error = init_error
        self.init_calls = 0
        self.shutdown_calls = 0
        self.called: list[str] = []  # every NVML function asked, in order

    # -- library and system -------------------------------------------------
    def nvmlInit(self) -> None:
        self.called.append("nvmlInit")
        self.init_calls += 1
        _answer(self.init_error)

    def nvmlShutdown(self) -> None:
        self.called.append("nvmlShutdown")
        self.shutdown_calls += 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self.called.append("nvmlSystemGetDriverVersion")
        return _answer(self.driver)

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        self.called.append("nvmlSystemGetCudaDriverVersion_v2")
        return _answer(self.cuda)

    def nvmlDeviceGetCount(self) -> int:
        self.called.append("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> SimpleNamespace:
        self.called.append("nvmlDeviceGetHandleByIndex")
        _answer(self.gpus[index].get("handle"))
        return SimpleNamespace(index=index)

    # -- per-GPU answers ----------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if not name.startswith("nvmlDevice"):
            raise AttributeError(name)

        def device_call(handle: SimpleNamespace, *args: Any) -> Any:
            self.called.append(name)
            # a KeyError here means the adapter asked something no scenario answers
            answer = self.gpus[handle.index][name]
            if args and isinstance(answer, dict):  # per-argument answers: {(error type, counter): n}
                answer = answer[args]
            return _answer(answer)

        return device_call


def _answer(value: Any) -> Any:
    if isinstance(value, BaseException):
        raise value
    return value


def use_fake(monkeypatch: Any, fake: FakePynvml) -> FakePynvml:
    monkeypatch.setattr(nvml, "import_pynvml", lambda: fake)
    return fake


# -- per-GPU tables ---------------------------------------------------------------

def gpu_answers(*, name: str, bus_id: str, uuid: str, memory_mib: int, persistence: int,
                mig: Any, ecc: Any, gen: tuple[int, int], width: tuple[int, int],
                power_mw: tuple[int, int, int, int], compute_mode: int, arch: int) -> dict[str, Any]:
    """NVML's raw answers: bytes, milliwatts and enum numbers, as the library gives them."""
    enforced, default, low, high = power_mw
    return {
        "nvmlDeviceGetName": name,
        "nvmlDeviceGetPciInfo": SimpleNamespace(busId=bus_id),
        "nvmlDeviceGetUUID": uuid,
        "nvmlDeviceGetMemoryInfo": SimpleNamespace(total=memory_mib * MIB, used=0, free=memory_mib * MIB),
        "nvmlDeviceGetPersistenceMode": persistence,
        "nvmlDeviceGetMigMode": mig,
        "nvmlDeviceGetEccMode": ecc,
        "nvmlDeviceGetCurrPcieLinkGeneration": gen[0],
        "nvmlDeviceGetMaxPcieLinkGeneration": gen[1],
        "nvmlDeviceGetCurrPcieLinkWidth": width[0],
        "nvmlDeviceGetMaxPcieLinkWidth": width[1],
        "nvmlDeviceGetEnforcedPowerLimit": enforced,
        "nvmlDeviceGetPowerManagementDefaultLimit": default,
        "nvmlDeviceGetPowerManagementLimitConstraints": [low, high],
        "nvmlDeviceGetComputeMode": compute_mode,
        "nvmlDeviceGetArchitecture": arch,
        "nvmlDeviceGetVirtualizationMode": REAL.NVML_GPU_VIRTUALIZATION_MODE_NONE,
        **healthy_answers(),
    }


def healthy_answers(*, temp: int = 34, sm_mhz: tuple[int, int] = (1410, 1410),
                    mem_mhz: tuple[int, int] = (1593, 1593), power_mw: int = 61000) -> dict[str, Any]:
    """NVML's answers for a healthy, idle datacenter GPU: no ECC error, nothing
    retired or pending, only the idle clocks event reason."""
    ecc = {(t, c): 0 for t in (REAL.NVML_MEMORY_ERROR_TYPE_CORRECTED, REAL.NVML_MEMORY_ERROR_TYPE_UNCORRECTED)
           for c in (REAL.NVML_VOLATILE_ECC, REAL.NVML_AGGREGATE_ECC)}
    return {
        "nvmlDeviceGetTotalEccErrors": ecc,
        "nvmlDeviceGetRetiredPages": {(REAL.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS,): [],
                                      (REAL.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR,): []},
        "nvmlDeviceGetRetiredPagesPendingStatus": REAL.NVML_FEATURE_DISABLED,
        "nvmlDeviceGetRemappedRows": (0, 0, 0, 0),
        "nvmlDeviceGetCurrentClocksEventReasons": REAL.nvmlClocksEventReasonGpuIdle,
        "nvmlDeviceGetTemperature": {(REAL.NVML_TEMPERATURE_GPU,): temp},
        "nvmlDeviceGetTemperatureThreshold": {(REAL.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,): 90,
                                              (REAL.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN,): 95},
        "nvmlDeviceGetPcieReplayCounter": 0,
        "nvmlDeviceGetPowerUsage": power_mw,
        "nvmlDeviceGetClockInfo": {(REAL.NVML_CLOCK_SM,): sm_mhz[0], (REAL.NVML_CLOCK_MEM,): mem_mhz[0]},
        "nvmlDeviceGetMaxClockInfo": {(REAL.NVML_CLOCK_SM,): sm_mhz[1], (REAL.NVML_CLOCK_MEM,): mem_mhz[1]},
        "nvmlDeviceGetUtilizationRates": SimpleNamespace(gpu=0, memory=0),
        "nvmlDeviceGetFieldValues": recovery_action(REAL.NVML_GPU_RECOVERY_ACTION_NONE),
    }


def recovery_action(action: int) -> list[SimpleNamespace]:
    """nvmlDeviceGetFieldValues(h, [NVML_FI_DEV_GET_GPU_RECOVERY_ACTION]) as the
    library returns it: one c_nvmlFieldValue_t, its value in the uiVal member."""
    return [SimpleNamespace(fieldId=REAL.NVML_FI_DEV_GET_GPU_RECOVERY_ACTION, nvmlReturn=REAL.NVML_SUCCESS,
                            value=SimpleNamespace(uiVal=action))]


def a100(i: int) -> dict[str, Any]:
    return gpu_answers(
        name="NVIDIA A100-SXM4-80GB", bus_id=A100_BUS_IDS[i], uuid=f"GPU-a100000{i}-0000-0000-0000-000000000000",
        memory_mib=81920, persistence=REAL.NVML_FEATURE_ENABLED,
        mig=[REAL.NVML_DEVICE_MIG_DISABLE, REAL.NVML_DEVICE_MIG_DISABLE],
        ecc=[REAL.NVML_FEATURE_ENABLED, REAL.NVML_FEATURE_ENABLED],
        gen=(4, 4), width=(16, 16), power_mw=(400000, 400000, 100000, 400000),
        compute_mode=REAL.NVML_COMPUTEMODE_DEFAULT, arch=REAL.NVML_DEVICE_ARCH_AMPERE)


# -- scenarios --------------------------------------------------------------------

def no_driver() -> FakePynvml:
    """libnvidia-ml.so.1 is not installed: nvmlInit fails, nothing else is asked."""
    return FakePynvml([], init_error=REAL.NVMLError_LibraryNotFound())


def eight_a100() -> FakePynvml:
    return FakePynvml([a100(i) for i in range(8)], driver="535.54.03", cuda=12020)


def one_gpu_lost(lost: int = 3) -> FakePynvml:
    """One GPU fell off the bus: its handle answers GpuIsLost, the other seven report."""
    fake = eight_a100()
    fake.gpus[lost]["handle"] = REAL.NVMLError_GpuIsLost()
    return fake


def fields_not_supported() -> FakePynvml:
    """A consumer board: no ECC, no MIG, no power-limit control."""
    fake = eight_a100()
    unsupported = ("nvmlDeviceGetEccMode", "nvmlDeviceGetMigMode", "nvmlDeviceGetEnforcedPowerLimit",
                   "nvmlDeviceGetPowerManagementDefaultLimit", "nvmlDeviceGetPowerManagementLimitConstraints")
    for gpu in fake.gpus:
        for name in unsupported:
            gpu[name] = REAL.NVMLError_NotSupported()
    return fake


def sick_a100() -> FakePynvml:
    """Eight A100 where NVML reports what the sick captures show, one fault
    per GPU, so that every health check has a GPU to find:
    GPU1 a row remap pending after 4 uncorrectable rows (as the A10 capture);
    GPU2 HW power brake slowdown active at 86 MHz (as the H100 capture), 67 PCIe replays;
    GPU3 a volatile double-bit error and a page retirement pending (as the V100 capture);
    GPU4 lost (GpuIsLost on its handle); the others healthy."""
    fake = eight_a100()
    g = fake.gpus
    g[1]["nvmlDeviceGetRemappedRows"] = (0, 4, 1, 0)
    g[2]["nvmlDeviceGetCurrentClocksEventReasons"] = (REAL.nvmlClocksEventReasonHwSlowdown
                                                      | REAL.nvmlClocksEventReasonHwPowerBrakeSlowdown)
    g[2]["nvmlDeviceGetClockInfo"] = {(REAL.NVML_CLOCK_SM,): 86, (REAL.NVML_CLOCK_MEM,): 1593}
    g[2]["nvmlDeviceGetPcieReplayCounter"] = 67
    ecc = dict(g[3]["nvmlDeviceGetTotalEccErrors"])
    ecc[(REAL.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, REAL.NVML_VOLATILE_ECC)] = 1
    ecc[(REAL.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, REAL.NVML_AGGREGATE_ECC)] = 7627
    g[3]["nvmlDeviceGetTotalEccErrors"] = ecc
    g[3]["nvmlDeviceGetRetiredPages"] = {
        (REAL.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS,): [],
        (REAL.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR,): [0x44e99d, 0x1d9963]}
    g[3]["nvmlDeviceGetRetiredPagesPendingStatus"] = REAL.NVML_FEATURE_ENABLED
    g[4]["handle"] = REAL.NVMLError_GpuIsLost()
    return fake


def reset_required_a100() -> FakePynvml:
    """Eight A100 where the driver asks for a reset of GPU5 (recovery action
    GPU_RESET, what nvidia-smi prints as "Reset Required : Yes") and a drain
    and reset of GPU6; GPU7 is on a driver without the field (NotSupported)."""
    fake = eight_a100()
    fake.gpus[5]["nvmlDeviceGetFieldValues"] = recovery_action(REAL.NVML_GPU_RECOVERY_ACTION_GPU_RESET)
    fake.gpus[6]["nvmlDeviceGetFieldValues"] = recovery_action(REAL.NVML_GPU_RECOVERY_ACTION_DRAIN_AND_RESET)
    fake.gpus[7]["nvmlDeviceGetFieldValues"] = REAL.NVMLError_NotSupported()
    return fake


def two_a5000_as_in_xml() -> FakePynvml:
    """The two RTX A5000 of the gpu-2xa5000-xml snapshot, as NVML would answer:
    the values of its cmd/nvidia-smi_-q_-x.xml written in NVML's units."""
    def a5000(bus_id: str, uuid: str, temp: int, power_mw: int, used_mib: int) -> dict[str, Any]:
        answers = gpu_answers(
            name="NVIDIA RTX A5000", bus_id=bus_id, uuid=uuid, memory_mib=24564,
            persistence=REAL.NVML_FEATURE_ENABLED,
            mig=REAL.NVMLError_NotSupported(),  # <current_mig>N/A</current_mig>
            ecc=[REAL.NVML_FEATURE_DISABLED, REAL.NVML_FEATURE_DISABLED],
            gen=(1, 4), width=(16, 16), power_mw=(230000, 230000, 100000, 230000),
            compute_mode=REAL.NVML_COMPUTEMODE_DEFAULT, arch=REAL.NVML_DEVICE_ARCH_AMPERE)
        # the XML's health readings: ECC off and no page retirement on Ampere (N/A there)
        answers.update(healthy_answers(temp=temp, sm_mhz=(210, 2100), mem_mhz=(405, 8001), power_mw=power_mw))
        # the recorded XML holds no gpu_reset_status element: the field answers "not supported"
        answers["nvmlDeviceGetFieldValues"] = [SimpleNamespace(nvmlReturn=REAL.NVML_ERROR_NOT_SUPPORTED,
                                                               value=SimpleNamespace(uiVal=0))]
        answers["nvmlDeviceGetTemperatureThreshold"] = {(REAL.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,): 95,
                                                        (REAL.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN,): 98}
        for name in ("nvmlDeviceGetTotalEccErrors", "nvmlDeviceGetRetiredPages",
                     "nvmlDeviceGetRetiredPagesPendingStatus"):
            answers[name] = REAL.NVMLError_NotSupported()
        answers["nvmlDeviceGetMemoryInfo"] = SimpleNamespace(total=24564 * MIB, used=used_mib * MIB,
                                                             free=(24564 - used_mib) * MIB)
        return answers

    return FakePynvml([a5000("00000000:81:00.0", "GPU-12345678-aaaa-bbbb-cccc-0123456789ab", 13, 6520, 22437),
                       a5000("00000000:C1:00.0", "GPU-12345678-aaaa-bbbb-cccc-0123456789cd", 15, 13590, 17253)],
                      driver="590.44.01", cuda=13010)


# -- the sysfs side of a scenario -------------------------------------------------

def write_pci_device(root: Any, address: str, vendor: str, device: str, pci_class: str,
                     numa_node: int = -1) -> None:
    """One PCI function laid out as the kernel does: the device folder under
    sys/devices and a relative link to it from sys/bus/pci/devices."""
    folder = root / "sys" / "devices" / f"pci{address[:7]}" / address
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in (("vendor", vendor), ("device", device), ("class", pci_class),
                        ("numa_node", str(numa_node))):
        (folder / name).write_text(value + "\n")
    links = root / "sys" / "bus" / "pci" / "devices"
    links.mkdir(parents=True, exist_ok=True)
    (links / address).symlink_to(f"../../../devices/pci{address[:7]}/{address}")


def write_a100_box(root: Any) -> None:
    """The eight A100 of `eight_a100()` (3D controllers, class 0x0302), four
    behind each socket, plus a NIC, so that not every device is NVIDIA."""
    for i, bus_id in enumerate(A100_BUS_IDS):
        address = bus_id[4:].lower()
        write_pci_device(root, address, "0x10de", "0x20b2", "0x030200", numa_node=0 if i < 4 else 1)
    write_pci_device(root, "0000:c1:00.0", "0x15b3", "0x101b", "0x020700", numa_node=1)


class ScriptedRunner(Runner):
    """Commands answered from a table {argv tuple: stdout}; anything else is not found."""

    def __init__(self, answers: dict[tuple[str, ...], str] | None = None) -> None:
        super().__init__(None)
        self.answers = answers or {}
        self.asked: list[tuple[str, ...]] = []

    def start(self, argv: list[str], timeout_s: float = 10.0) -> None:
        pass  # nothing runs for real; `run` answers from the table

    def run(self, argv: list[str], timeout_s: float = 10.0) -> CmdResult:
        key = tuple(argv)
        self.asked.append(key)
        if key in self.answers:
            return CmdResult(key, 0, self.answers[key])
        return CmdResult(key, None, "", error=f"{argv[0]} not found")
