"""The catalogue of fact ids: every id a probe fills and a check reads.

One entry per id: its JSON type, its unit (or "" for none) and one line of
meaning. A family of ids with one shape (`cpu.flags.<name>`) is one entry
whose id ends in `.*`. Reading an id that is not here is a programming
error (`Facts.get` raises it, the check becomes one ERROR row naming the id),
not a "not probed" SKIP. `docs/facts.md` is generated from this table:
`python -m hwtune.factids > docs/facts.md`. Every fact is declared here, the
ones a tunable's current value is observed as too (a tunable names them by id;
hwtune/tunables/ checks they are here). One id has one meaning: an id
declared twice is refused when this module loads.
"""

from collections import Counter
from typing import NamedTuple


class FactId(NamedTuple):
    id: str
    type: str  # the JSON type of a known value: str, int, bool, list, dict
    unit: str
    meaning: str


def _f(fact_id: str, type_: str, unit: str, meaning: str) -> FactId:
    return FactId(fact_id, type_, unit, meaning)


CATALOGUE: tuple[FactId, ...] = (
    _f("kernel.release", "str", "", "running kernel release, as `uname -r` prints it"),
    _f("kernel.cmdline", "str", "", "kernel command line of the running boot (/proc/cmdline)"),
    _f("kernel.log_source", "str", "", "where the kernel log came from: dmesg (live: /dev/kmsg), journalctl, "
       "or a recorded log file"),
    _f("kernel.log_only", "str", "", "\"\" for the whole kernel log; the word a grep capture kept (\"NVRM\")"),
    _f("kernel.log_events", "list", "", "health events matched in the kernel log (health/kernel_log.toml): "
       "kind, time, message and the pattern's fields"),
    _f("kernel.log_events_dropped", "int", "events", "matched events beyond the cap that were not kept"),
    _f("kernel.log_provenance", "str", "", "what in the kernel log counted as the kernel's: facility-0 kmsg "
       "records, journal entries of _TRANSPORT=kernel, syslog lines tagged kernel:, or \"facility not recorded\""),
    _f("kernel.log_coverage", "str", "", "the stretch of time the kernel log covers, and what it cannot have seen"),
    _f("pci.aer", "list", "", "PCIe AER counters (correctable, nonfatal, fatal) of each GPU and its upstream ports"),
    _f("pci.lspci_aer", "list", "", "AER status bits (lspci -vvv CESta/UESta, masked bits apart) of each NVIDIA "
       "GPU and the bridges above it; read where sysfs has no AER counters"),
    _f("memory.edac", "list", "", "EDAC memory controllers with their corrected (ce) and uncorrected (ue) counts"),
    _f("cpu.thermal_throttle", "dict", "events", "thermal throttle counters: core events summed over physical "
       "cores (SMT siblings share one counter), package events per package"),
    _f("gpu.table_errors", "list", "", "GPUs the recorded nvidia-smi table could not read (ERR!, no device "
       "handle); set from recorded captures only"),
    _f("os.id", "str", "", "os-release ID (ubuntu, rhel, ...)"),
    _f("os.version_id", "str", "", "os-release VERSION_ID"),
    _f("os.pretty_name", "str", "", "os-release PRETTY_NAME"),
    _f("os.codename", "str", "", "release codename (os-release VERSION_CODENAME or distro)"),
    _f("os.like", "list", "", "os-release ID_LIKE, split into ids"),
    _f("cpu.arch", "str", "", "CPU architecture as /proc/cpuinfo states it, in uname -m's words "
       "(x86_64, aarch64, riscv64, loongarch64, ppc64le, s390x)"),
    _f("cpu.vendor", "str", "", "CPU vendor (GenuineIntel, AuthenticAMD, or the Arm implementer)"),
    _f("cpu.model", "str", "", "CPU model name from /proc/cpuinfo"),
    _f("cpu.hypervisor", "bool", "", "the x86 hypervisor flag: this is a virtual machine"),
    _f("cpu.flags.*", "bool", "", "whether /proc/cpuinfo lists this instruction-set flag (avx512_vnni, amx_int8, ...)"),
    _f("cpu.threads", "int", "threads", "online logical CPUs"),
    _f("cpu.online", "str", "", "online CPU list (\"0-63\")"),
    _f("cpu.sockets", "int", "sockets", "physical packages"),
    _f("cpu.cores", "int", "cores", "physical cores over all sockets"),
    _f("cpu.smt", "bool", "", "simultaneous multithreading (more threads than cores)"),
    _f("numa.nodes", "int", "nodes", "NUMA nodes"),
    _f("numa.node_cpus", "dict", "", "NUMA node id -> its CPU list (\"0-15\")"),
    _f("numa.distances", "dict", "", "NUMA node id -> distances to every node"),
    _f("cpufreq.policies", "int", "policies", "cpufreq policies (0: no cpufreq driver)"),
    _f("cpufreq.driver", "str", "", "cpufreq scaling drivers, comma-separated (intel_pstate, acpi-cpufreq)"),
    _f("cpufreq.governors", "dict", "", "cpufreq policy -> its scaling governor"),
    _f("cpufreq.available_governors", "dict", "", "cpufreq policy -> the governors it offers"),
    _f("cpufreq.epp", "dict", "", "cpufreq policy -> its energy_performance_preference (only where exposed)"),
    _f("cpufreq.max_freq_khz", "dict", "kHz", "cpufreq policy -> cpuinfo_max_freq"),
    _f("cpufreq.boost", "bool", "", "CPU boost (turbo) on; intel_pstate's no_turbo is inverted into this"),
    _f("mem.total_kib", "int", "KiB", "MemTotal from /proc/meminfo"),
    _f("mem.hugepages_total", "int", "pages", "HugePages_Total from /proc/meminfo"),
    _f("mm.thp_enabled", "str", "", "transparent huge pages mode (always, madvise, never)"),
    _f("mm.thp_defrag", "str", "", "transparent huge pages defrag mode"),
    _f("vm.swappiness", "int", "", "sysctl vm.swappiness (0-200)"),
    _f("kernel.numa_balancing", "int", "", "sysctl kernel.numa_balancing (0 off, 1 on, 2 memory tiering)"),
    _f("virt.dmi_vendor", "str", "", "DMI system vendor"),
    _f("virt.dmi_product", "str", "", "DMI product name"),
    _f("virt.container", "str", "", "container runtime this runs in, or \"none\""),
    _f("python.version", "str", "", "version of the Python running hwtune"),
    _f("numpy.version", "str", "", "installed numpy version"),
    _f("onnx.version", "str", "", "installed onnx version"),
    _f("onnxruntime.version", "str", "", "installed onnxruntime version"),
    _f("openvino.version", "str", "", "installed OpenVINO version"),
    _f("onnxruntime.providers", "list", "", "ONNX Runtime execution providers available (live only)"),
    _f("openvino.devices", "list", "", "OpenVINO devices available (live only)"),
    _f("pci.nvidia_devices", "list", "", "NVIDIA display/3D devices on the PCI bus, one record each"),
    _f("pci.source", "str", "", "where the PCI listing came from (sysfs, lspci)"),
    _f("gpu.source", "str", "", "where the GPU records came from (NVML, nvidia-smi XML)"),
    _f("gpu.count", "int", "GPUs", "GPUs the driver serves"),
    _f("gpu.listed", "int", "GPUs", "GPUs the GPU source lists (can differ from gpu.count)"),
    _f("gpu.count_mismatch", "str", "", "why gpu.count and gpu.listed disagree, when they do"),
    _f("nvidia.driver_version", "str", "", "NVIDIA driver version"),
    _f("nvidia.cuda_version", "str", "", "highest CUDA version the driver supports"),
    _f("nvidia.kernel_module", "str", "", "the NVIDIA kernel module flavour (proprietary, open)"),
    _f("nvidia.persistenced", "bool", "", "nvidia-persistenced is running"),
    _f("cuda.toolkit_version", "str", "", "installed CUDA toolkit version"),
    _f("cuda.toolkit_source", "str", "", "where the CUDA toolkit version was read"),
    _f("cudnn.version", "str", "", "installed cuDNN version"),
    _f("cudnn.source", "str", "", "where the cuDNN version was read"),
)

def _unique(catalogue: tuple[FactId, ...]) -> dict[str, FactId]:
    """id -> its entry; an id declared twice (two meanings for one id) is a programming error."""
    twice = sorted(i for i, n in Counter(f.id for f in catalogue).items() if n > 1)
    if twice:
        raise RuntimeError(f"fact ids declared twice in hwtune/factids.py: {', '.join(twice)}")
    return {f.id: f for f in catalogue}


BY_ID: dict[str, FactId] = _unique(CATALOGUE)
_FAMILIES = tuple(f.id[:-1] for f in CATALOGUE if f.id.endswith(".*"))  # "cpu.flags."


def entry(fact_id: str) -> FactId | None:
    """The catalogue entry of `fact_id`: its own, or its `.*` family's."""
    if fact_id in BY_ID:
        return BY_ID[fact_id]
    for prefix in _FAMILIES:
        if fact_id.startswith(prefix) and "." not in fact_id[len(prefix):] and fact_id != prefix:
            return BY_ID[prefix + "*"]
    return None


def known(fact_id: str) -> bool:
    """Whether `fact_id` is catalogued."""
    return entry(fact_id) is not None


class UnknownFactId(KeyError):
    """A fact id that is not in the catalogue: a typo or a fact nobody declared."""

    def __str__(self) -> str:
        return f"fact id '{self.args[0]}' is not in the catalogue (hwtune/factids.py)"


def require(fact_id: str) -> str:
    if not known(fact_id):
        raise UnknownFactId(fact_id)
    return fact_id


def render_markdown() -> str:
    """docs/facts.md: the catalogue as a table."""
    lines = ["# Fact ids", "",
             "Generated from `src/hwtune/factids.py` by `python -m hwtune.factids > docs/facts.md`; "
             "do not edit by hand.", "",
             "Every fact hwtune observes, as `hwtune facts --json` lists it. A fact that could not be "
             "observed is null, with the reason in `unavailable`. `<name>` stands for a family of ids.", "",
             "| id | type | unit | meaning |", "|---|---|---|---|"]
    for f in CATALOGUE:
        shown = f.id[:-1] + "<name>" if f.id.endswith(".*") else f.id
        lines.append(f"| `{shown}` | {f.type} | {f.unit} | {f.meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
