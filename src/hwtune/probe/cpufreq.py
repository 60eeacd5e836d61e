"""cpufreq policies: driver, governor, available governors, EPP, boost.

Many VMs have /sys/devices/system/cpu/cpufreq with no policy in it (and a git
checkout of such a snapshot has no folder at all): that is "no policy", `{}`,
not an unknown. The readers here (the policy listing, the boost switch) are
the ones apply plans with, so what check sees is what apply changes.
"""

from __future__ import annotations

from hwtune.facts import FactsBuilder
from hwtune.host import Host
from hwtune.probe.cpulist import format_cpulist

CPU_DIR = "/sys/devices/system/cpu"
CPUFREQ_DIR = f"{CPU_DIR}/cpufreq"


# The boost switch: (path, label, inverted). acpi-cpufreq and amd-pstate have cpufreq/boost;
# intel_pstate has intel_pstate/no_turbo, which says it the other way round.
BOOST_SWITCHES = ((f"{CPUFREQ_DIR}/boost", "cpufreq/boost", False),
                  (f"{CPU_DIR}/intel_pstate/no_turbo", "intel_pstate/no_turbo", True))


def policy_names(names: list[str]) -> list[str]:
    return sorted((n for n in names if n.startswith("policy") and n[6:].isdecimal()), key=lambda n: int(n[6:]))


def _numbered(name: str) -> tuple[str, str]:
    """"policy12" -> ("policy", "12"); "cpu3" -> ("cpu", "3")."""
    prefix = "policy" if name.startswith("policy") else "cpu"
    return prefix, name[len(prefix):]


def format_policies(names: list[str]) -> str:
    """policy0, policy1, ..., policy19, policy23 -> "policy0-19,23" for people (cpu0..cpu63 of the
    per-CPU layout -> "cpu0-63"); other names are joined."""
    split = [_numbered(n) for n in names]
    if len(names) < 2 or len({p for p, _ in split}) != 1 or not all(
            n.startswith(p) and x.isdecimal() for n, (p, x) in zip(names, split, strict=True)):
        return ", ".join(names)
    return split[0][0] + format_cpulist({int(x) for _, x in split})


def policy_dir(name: str) -> str:
    """The folder of a policy: cpufreq/policyN, or cpuN/cpufreq in the per-CPU layout."""
    return f"{CPUFREQ_DIR}/{name}" if name.startswith("policy") else f"{CPU_DIR}/{name}/cpufreq"


def list_policies(host: Host) -> list[str]:
    """The cpufreq policies in numeric order: policy0, policy1, ... (cpufreq/policyN); on kernels
    before 4.3, which have only the per-CPU layout (cpuN/cpufreq), cpu0, cpu1, ..."""
    names = [n for n in policy_names(host.listdir(CPUFREQ_DIR) or []) if host.is_dir(f"{CPUFREQ_DIR}/{n}")]
    if names:
        return names
    cpus = sorted((n for n in host.listdir(CPU_DIR) or [] if n.startswith("cpu") and n[3:].isdecimal()),
                  key=lambda n: int(n[3:]))
    return [n for n in cpus if host.is_dir(policy_dir(n))]


def boost_switch(host: Host) -> tuple[str, str, bool] | None:
    """The boost file this host has, as (path, label, inverted); None when it has neither."""
    return next((s for s in BOOST_SWITCHES if host.exists(s[0])), None)


def governor_choices(value: str) -> list[str]:
    """A profile's governor, "performance|schedutil": the governors to try, in order."""
    return [g for g in value.split("|") if g]


def resolve_governor(value: str, available: list[str]) -> str | None:
    """The governor a policy gets: the first of the profile's choices it offers (None: none of them).
    apply writes it and check expects it, through this one function."""
    return next((g for g in governor_choices(value) if g in available), None)


# Drivers that, in active mode, refuse an EPP other than "performance" while the governor is
# performance (intel_pstate since Linux 5.9 and amd-pstate-epp answer EBUSY): the EPP is pinned.
# In passive mode they name themselves intel_cpufreq / amd-pstate, so the name says the mode.
EPP_PINNED_DRIVERS = ("intel_pstate", "amd-pstate-epp")


def epp_pinned(driver: str, governor: str | None, epp: str) -> bool:
    """Whether this EPP cannot be set on a policy of this driver under this governor."""
    return driver in EPP_PINNED_DRIVERS and governor == "performance" and epp != "performance"


def boost_word(on: bool, inverted: bool) -> str:
    """What the switch file holds for boost on/off."""
    return "0" if on == inverted else "1"


def probe_cpufreq(host: Host, b: FactsBuilder) -> None:
    if host.listdir(CPU_DIR) is None:
        for key in ("cpufreq.policies", "cpufreq.driver", "cpufreq.governors", "cpufreq.available_governors",
                    "cpufreq.epp", "cpufreq.max_freq_khz", "cpufreq.boost"):
            b.unknown(key, f"{CPU_DIR} absent")
        return
    policies = list_policies(host)
    governors: dict[str, str] = {}
    available: dict[str, list[str]] = {}
    epp: dict[str, str] = {}
    max_freq: dict[str, int] = {}
    drivers: set[str] = set()
    for name in policies:
        base = policy_dir(name)
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
    """Boost on or off, read from the file apply writes (boost_switch)."""
    switch = boost_switch(host)
    if switch is None:
        return None
    path, _label, inverted = switch
    word = host.read_line(path)
    return word == boost_word(True, inverted) if word in ("0", "1") else None
