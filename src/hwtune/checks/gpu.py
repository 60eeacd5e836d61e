"""NVIDIA checks: persistence daemon, PCIe links, NUMA locality, ECC/MIG, power, health."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwtune.checks.registry import Finding, check, error, passed, problem, skip
from hwtune.checks.versions import leading_version
from hwtune.facts import Facts, Gpu
from hwtune.health.events import evidence

NO_GPU = "no NVIDIA GPU on this host"
COULD_NOT_PARSE = "could not parse"  # how a parser of recorded nvidia-smi output says it failed
# kernel-log events only an NVIDIA GPU's driver writes
GPU_LOG_KINDS = ("xid", "gpu_off_bus", "gpu_uuid", "gpu_reset_required")


def gpu_seen(facts: Facts) -> str | None:
    """A source that shows an NVIDIA GPU (the PCI bus, the nvidia-smi table, the driver's lines in
    the kernel log); None when none does."""
    if facts.get("pci.nvidia_devices"):
        return f"{len(facts.get('pci.nvidia_devices'))} NVIDIA device(s) on the PCI bus"
    if facts.get("gpu.table_errors"):
        return "the recorded nvidia-smi output names a GPU"
    nvrm = [e for e in facts.get("kernel.log_events") or () if e.get("kind") in GPU_LOG_KINDS]
    if nvrm:
        return f"{len(nvrm)} NVRM line(s) in the kernel log, e.g. {evidence(nvrm[0])}"
    return None


def no_gpu(facts: Facts) -> str:
    """Why there is no GPU to judge: "no NVIDIA GPU" only when no source shows one."""
    seen = gpu_seen(facts)
    if seen is None:
        return NO_GPU
    return (f"NVIDIA GPU present, not readable: {facts.reason('gpu.count') or 'the driver lists no GPU'} "
            f"(seen: {seen})")


def _gpus(facts: Facts) -> tuple[Gpu, ...] | str:
    """The healthy GPU records, or the reason there are none to judge."""
    if facts.gpus:
        good = tuple(g for g in facts.gpus if g.error is None)
        return good or "no GPU answered the driver"
    reason = facts.reason("gpu.count") or "the driver lists no GPU"
    if facts.get("gpu.count") == 0 or (facts.get("gpu.count") is None and not facts.get("pci.nvidia_devices")
                                       and COULD_NOT_PARSE not in reason):
        return no_gpu(facts)
    # a recorded nvidia-smi output that could not be parsed is no proof there is no GPU
    return f"GPU details unknown: {reason}"


def _label(gpu: Gpu) -> str:
    return f"GPU{gpu.index}" + (f" {gpu.bus_id}" if gpu.bus_id else "")


@check("gpu.health")
def check_health(facts: Facts, p: Mapping[str, Any]) -> Finding:
    pci = facts.get("pci.nvidia_devices") or []
    count = facts.get("gpu.count")
    broken = [g for g in facts.gpus if g.error]
    if broken:
        return error(f"{len(broken)} of {len(facts.gpus)} GPUs fail to answer", "every GPU answers",
                     "; ".join(f"{_label(g)}: {g.error}" for g in broken))
    if facts.get("gpu.count_mismatch"):
        return problem(facts.get("gpu.count_mismatch"), "every attached GPU listed", facts.get("gpu.count_mismatch"))
    if count is None and not pci:
        return skip(no_gpu(facts) if facts.get("pci.nvidia_devices") == [] else
                    f"GPU count unknown: {facts.reason('gpu.count')}", "every GPU answers")
    if pci and (count or 0) < len(pci):
        return problem(f"{count or 0} GPUs answer, {len(pci)} on the PCI bus", f"{len(pci)} GPUs answer",
                       f"{len(pci) - (count or 0)} NVIDIA device(s) on the PCI bus are not served by the driver"
                       + (f": {facts.reason('gpu.count')}" if count is None else ""))
    if count == 0:
        return skip(no_gpu(facts), "every GPU answers")
    return passed(f"{count} GPUs answer", "every GPU answers")


# Without persistence every new process pays the GPU initialisation; multi-socket
# hosts pay more (state pinned across NUMA nodes): a FAIL there, a WARN on one socket.
@check("nvidia.persistenced", multi_socket_severity="fail", single_socket_severity="warn")
def check_persistenced(facts: Facts, p: Mapping[str, Any]) -> Finding:
    gpus = _gpus(facts)
    if isinstance(gpus, str):
        return skip(gpus, "nvidia-persistenced running")
    running = facts.get("nvidia.persistenced")
    all_on = all(g.persistence_mode for g in gpus)
    if running:
        return passed("nvidia-persistenced running", "nvidia-persistenced running")
    off = [_label(g) for g in gpus if g.persistence_mode is False]
    observed = ("daemon not running" if running is False else "daemon state unknown") + (
        "; persistence mode on for every GPU" if all_on else f"; persistence off on {', '.join(off) or 'some GPUs'}")
    if all_on:
        return passed(observed, "nvidia-persistenced running, or persistence mode on every GPU")
    sockets = facts.get("cpu.sockets")
    # Without persistence the driver tears down GPU state whenever no client
    # holds it: every new process pays seconds of initialisation, longer on
    # multi-socket boxes where memory is pinned across NUMA nodes. Unknown
    # sockets: the text says nothing of them, the severity is the one-socket one.
    return problem(observed, "nvidia-persistenced running",
                   "GPUs lose driver state between processes" + (f" ({sockets} sockets)" if sockets and sockets > 1
                                                                 else " (1 socket)" if sockets == 1 else ""),
                   severity_key="multi_socket_severity" if sockets and sockets > 1 else "single_socket_severity")


# A GPU passed through to a virtual machine (nvidia-smi "Virtualization Mode:
# Pass-Through") sits in a slot the tenant cannot change, and some cloud
# instances wire their GPUs at x8 (a T4 in a cloud VM reports x8 of x16):
# worth a look, not a reason to take the host out.
@check("gpu.pcie_link", generation_severity="warn", passthrough_severity="warn")
def check_pcie_link(facts: Facts, p: Mapping[str, Any]) -> Finding:
    gpus = _gpus(facts)
    if isinstance(gpus, str):
        return skip(gpus, "every link at its maximum width and generation")
    narrow, slow, unknown, passthrough = [], [], [], []
    for g in gpus:
        width, width_max, gen, gen_max = g.pcie_width_current, g.pcie_width_max, g.pcie_gen_current, g.pcie_gen_max
        if width is None or width_max is None or gen is None or gen_max is None:
            unknown.append(_label(g))
            continue
        if width < width_max:
            narrow.append(f"{_label(g)} x{width} of x{width_max}")
            passthrough.append((g.virtualization_mode or "").lower() in ("pass-through", "vgpu"))
        if gen < gen_max:
            slow.append(f"{_label(g)} gen{gen} of gen{gen_max}")
    if len(unknown) == len(gpus):
        return skip("PCIe link state unknown for every GPU", "every link at its maximum width and generation")
    observed = "; ".join(narrow + slow) or "every link at its maximum"
    if narrow and all(passthrough):
        return problem(observed, "every link at its maximum width",
                       "a narrower link than the card supports, in a virtual machine: the platform's wiring, "
                       "which the guest cannot change", severity_key="passthrough_severity")
    if narrow:
        return problem(observed, "every link at its maximum width",
                       "a narrower link than the card supports: wrong slot, riser or bifurcation setting")
    if slow:
        # Idle GPUs drop to gen1 to save power and go back up under load, so a
        # slow link at rest is only a hint.
        return problem(observed, "every link at its maximum generation under load",
                       "link below its maximum generation; normal at idle, check again under load",
                       severity_key="generation_severity")
    return passed(observed, "every link at its maximum")


@check("gpu.numa")
def check_gpu_numa(facts: Facts, p: Mapping[str, Any]) -> Finding:
    gpus = _gpus(facts)
    if isinstance(gpus, str):
        return skip(gpus, "every GPU's NUMA node known, with CPUs")
    nodes = facts.get("numa.nodes")
    node_cpus = facts.get("numa.node_cpus") or {}
    if nodes is None:
        return skip(f"NUMA layout unknown: {facts.reason('numa.nodes')}", "every GPU's NUMA node known, with CPUs")
    if nodes < 2:
        return passed("1 NUMA node", "GPUs local to known CPUs")
    unknown = [_label(g) for g in gpus if g.numa_node is None]
    cpuless = [f"{_label(g)} on node{g.numa_node}" for g in gpus
               if g.numa_node is not None and not node_cpus.get(str(g.numa_node))]
    placed = ", ".join(f"{_label(g)}: node{g.numa_node}" for g in gpus if g.numa_node is not None)
    if unknown:
        return problem(f"node unknown for {', '.join(unknown)}", "every GPU's NUMA node known",
                       f"{nodes} NUMA nodes, but the firmware does not say where these GPUs sit: "
                       "pin inference processes by measurement")
    if cpuless:
        return problem("; ".join(cpuless), "GPUs on nodes with CPUs",
                       "these GPUs hang off a node without CPUs: every transfer crosses the interconnect")
    return passed(placed, "every GPU's NUMA node known; bind workers to it",
                  "bind each GPU's worker with numactl --cpunodebind=N --membind=N")


@check("gpu.ecc")
def check_ecc(facts: Facts, p: Mapping[str, Any]) -> Finding:
    gpus = _gpus(facts)
    if isinstance(gpus, str):
        return skip(gpus, "pending ECC mode = current")
    pending = [f"{_label(g)} {g.ecc_current} -> {g.ecc_pending}" for g in gpus
               if g.ecc_current and g.ecc_pending and g.ecc_current != g.ecc_pending]
    known = [g.ecc_current for g in gpus if g.ecc_current]
    if not known:
        return skip("no GPU reports an ECC mode (not supported on these cards)", "pending ECC mode = current")
    if pending:
        return problem("; ".join(pending), "pending ECC mode = current",
                       "an ECC mode change waits for a GPU reset or reboot")
    return passed(", ".join(sorted(set(known))), "pending ECC mode = current")


@check("gpu.mig")
def check_mig(facts: Facts, p: Mapping[str, Any]) -> Finding:
    gpus = _gpus(facts)
    if isinstance(gpus, str):
        return skip(gpus, "pending MIG mode = current")
    known = [g for g in gpus if g.mig_mode]
    if not known:
        return skip("no GPU supports MIG", "pending MIG mode = current")
    pending = [f"{_label(g)} {g.mig_mode} -> {g.mig_mode_pending}" for g in known
               if g.mig_mode_pending and g.mig_mode_pending != g.mig_mode]
    if pending:
        return problem("; ".join(pending), "pending MIG mode = current", "a MIG mode change waits for a GPU reset")
    enabled = [_label(g) for g in known if g.mig_mode == "enabled"]
    observed = f"enabled on {', '.join(enabled)}" if enabled else "disabled"
    return passed(observed, "pending MIG mode = current",
                  "MIG partitions these GPUs: each instance is a smaller GPU" if enabled else "")


@check("gpu.power_limit", min_fraction=1.0)
def check_power_limit(facts: Facts, p: Mapping[str, Any]) -> Finding:
    gpus = _gpus(facts)
    if isinstance(gpus, str):
        return skip(gpus, "power limit at its default")
    low, known = [], 0
    for g in gpus:
        if g.power_limit_w is None or g.power_limit_default_w is None:
            continue
        known += 1
        if g.power_limit_w < g.power_limit_default_w * p["min_fraction"] - 0.5:
            low.append(f"{_label(g)} {g.power_limit_w:g} W of {g.power_limit_default_w:g} W")
    if not known:
        return skip("no GPU reports its power limits", "power limit at its default")
    if low:
        return problem("; ".join(low), "power limit at its default", "a capped power limit lowers clocks under load")
    return passed("at default on every GPU", "power limit at its default")


COMPAT = "toolkit <= the CUDA version the driver supports"


@check("cuda.driver_compat", fix=("cuda",), minor_severity="warn")
def check_cuda_compat(facts: Facts, p: Mapping[str, Any]) -> Finding:
    toolkit, driver_cuda = facts.get("cuda.toolkit_version"), facts.get("nvidia.cuda_version")
    if toolkit is None or driver_cuda is None:
        missing = "cuda.toolkit_version" if toolkit is None else "nvidia.cuda_version"
        return skip(f"needs both versions; {missing}: {facts.reason(missing)}", COMPAT)
    t, d = leading_version(toolkit), leading_version(driver_cuda)
    if t is None or d is None:
        return skip(f"cannot compare '{toolkit}' with '{driver_cuda}'", COMPAT)
    observed = f"toolkit {toolkit}, driver supports {driver_cuda}"
    if (t.major, t.minor) <= (d.major, d.minor):
        return passed(observed, COMPAT)
    if t.major == d.major:
        # Minor-version compatibility (CUDA >= 11): runs, but PTX JIT and new APIs may fail.
        return problem(observed, COMPAT, "minor-version compatibility only: newer features and PTX may fail",
                       severity_key="minor_severity", cuda=toolkit)
    return problem(observed, COMPAT,
                   f"CUDA {toolkit} programs need a driver that supports CUDA {t.major}.{t.minor}", cuda=toolkit)
