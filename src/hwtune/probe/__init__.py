"""Probes: one module per area, each filling a FactsBuilder from a Host."""

from __future__ import annotations

from hwtune.facts import Facts, FactsBuilder
from hwtune.host import Host
from hwtune.probe.cpu import probe_cpu
from hwtune.probe.cpufreq import probe_cpufreq
from hwtune.probe.gpu import probe_nvidia, start_commands
from hwtune.probe.gpu import snapshot_commands as gpu_commands
from hwtune.probe.health import probe_health
from hwtune.probe.health import snapshot_commands as health_commands
from hwtune.probe.kernel import probe_kernel
from hwtune.probe.memory import probe_memory
from hwtune.probe.numa import probe_numa
from hwtune.probe.os import probe_os
from hwtune.probe.runtimes import probe_runtime_devices, probe_runtimes
from hwtune.probe.values import probe_values
from hwtune.probe.virt import probe_virt


def start_probes(host: Host) -> Host:
    """Start the probes' slow commands now, to run while the caller goes on
    (imports, profile loading); `probe_facts(host)` collects them."""

    start_commands(host)
    return host


def probe_facts(host: Host, *, runtimes: bool = False) -> Facts:
    """Every fact hwtune knows how to observe on `host` (live or a snapshot root).

    `runtimes` also imports onnxruntime and OpenVINO to list their providers and
    devices (live only; slow, so never on the default `check` path).
    """

    start_probes(host)  # no-op for what the caller already started
    b = FactsBuilder()
    for probe in (probe_kernel, probe_os, probe_cpu, probe_numa, probe_cpufreq, probe_memory,
                  probe_virt, probe_runtimes):
        probe(host, b)
    probe_nvidia(host, b)
    probe_values(host, b)  # the tuned kernel values, read as apply reads them
    probe_health(host, b)
    if runtimes:
        if host.live:
            probe_runtime_devices(b)
        else:
            for key in ("onnxruntime.providers", "openvino.devices"):
                b.unknown(key, "runtime devices are asked from the live runtimes only")
    return b.build()


def snapshot_commands(host: Host) -> list[list[str]]:
    """Commands whose output a snapshot records even when the probes did not run them."""

    return gpu_commands(host) + health_commands(host)
