"""cpufreq policies: driver, governor, available governors, EPP, boost.

Many VMs have /sys/devices/system/cpu/cpufreq with no policy in it (and a git
checkout of such a snapshot has no folder at all): that is "no policy", `{}`,
not an unknown.
"""

from __future__ import annotations

from hwtune.facts import FactsBuilder
from hwtune.host import Host

CPU_DIR = "/sys/devices/system/cpu"
CPUFREQ_DIR = f"{CPU_DIR}/cpufreq"


def policy_names(names: list[str]) -> list[str]:
    return sorted((n for n in names if n.startswith("policy") and n[6:].isdecimal()), key=lambda n: int(n[6:]))


def probe_cpufreq(host: Host, b: FactsBuilder) -> None:
    if host.listdir(CPU_DIR) is None:
        for key in ("cpufreq.policies", "cpufreq.driver", "cpufreq.governors", "cpufreq.available_governors",
                    "cpufreq.epp", "cpufreq.max_freq_khz", "cpufreq.boost"):
            b.unknown(key, f"{CPU_DIR} absent")
        return
    policies = policy_names(host.listdir(CPUFREQ_DIR) or [])
    governors: dict[str, str] = {}
    available: dict[str, list[str]] = {}
    epp: dict[str, str] = {}
    max_freq: dict[str, int] = {}
    drivers: set[str] = set()
    for name in policies:
        base = f"{CPUFREQ_DIR}/{name}"
        gov = host.read_line(f"{base}/scaling_governor")
        if gov:
            governors[name] = gov
        avail = host.read_line(f"{base}/scaling_available_governors")
        if avail is not None:
            available[name] = avail.split()
        driver = host.read_line(f"{base}/scaling_driver")
        if driver:
            drivers.add(driver)
        pref = host.read_line(f"{base}/energy_performance_preference")
        if pref:
            epp[name] = pref
        freq = host.read_line(f"{base}/cpuinfo_max_freq")
        if freq and freq.isdecimal():
            max_freq[name] = int(freq)
    none = "no cpufreq policy: no cpufreq driver (usual in VMs)"
    b.set("cpufreq.policies", len(policies))
    b.set("cpufreq.driver", ",".join(sorted(drivers)) or None, none if not policies else "no scaling_driver file")
    b.set("cpufreq.governors", governors)
    b.set("cpufreq.available_governors", available)
    b.set("cpufreq.epp", epp if policies else {}, "")
    b.set("cpufreq.max_freq_khz", max_freq)
    b.set("cpufreq.boost", _boost(host), none if not policies else "the driver exposes no boost switch")


def _boost(host: Host) -> bool | None:
    boost = host.read_line(f"{CPUFREQ_DIR}/boost")  # acpi-cpufreq, amd-pstate
    if boost in ("0", "1"):
        return boost == "1"
    no_turbo = host.read_line(f"{CPU_DIR}/intel_pstate/no_turbo")  # intel_pstate says it the other way round
    if no_turbo in ("0", "1"):
        return no_turbo == "0"
    return None
