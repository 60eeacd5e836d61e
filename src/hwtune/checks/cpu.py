"""CPU checks: governor, boost, EPP, INT8 instructions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwtune.checks.registry import Finding, check, passed, problem, skip
from hwtune.facts import Facts
from hwtune.probe.cpufreq import epp_pinned, format_policies, governor_choices, resolve_governor


def _no_policy(facts: Facts) -> str | None:
    governors = facts.get("cpufreq.governors")
    if governors is None:
        return f"cpufreq unknown: {facts.reason('cpufreq.governors')}"
    if not governors:
        return "no cpufreq policy on this host (no cpufreq driver: usual in VMs, where the hypervisor sets clocks)"
    return None


def _summary(per_policy: Mapping[str, str]) -> str:
    values = sorted(set(per_policy.values()))
    if len(values) == 1:
        return f"{values[0]} on {len(per_policy)} policies"
    return "; ".join(f"{v}: {format_policies([p for p, x in per_policy.items() if x == v])}" for v in values)


@check("cpu.governor", fix=("governor",), expected="performance")
def check_governor(facts: Facts, p: Mapping[str, Any]) -> Finding:
    # "performance|schedutil": each policy should run the first of these it offers, as apply sets it
    want = p["expected"]
    shown = " or ".join(governor_choices(want))
    if (why := _no_policy(facts)) is not None:
        return skip(why, shown)
    governors = facts.get("cpufreq.governors")
    available = facts.get("cpufreq.available_governors") or {}
    targets = {name: resolve_governor(want, available.get(name, [])) or governor_choices(want)[0]
               for name in governors}
    wrong = [name for name, gov in governors.items() if gov != targets[name]]
    observed, expected = _summary(governors), f"{shown} on every policy"
    if not wrong:
        return passed(observed, expected)
    return problem(observed, expected,
                   f"{len(wrong)} of {len(governors)} policies are not on {shown}: {format_policies(wrong)}",
                   governor=targets[wrong[0]])


@check("cpu.boost", expected=True)
def check_boost(facts: Facts, p: Mapping[str, Any]) -> Finding:
    want = "on" if p["expected"] else "off"
    if (why := _no_policy(facts)) is not None:
        return skip(why, want)
    boost = facts.get("cpufreq.boost")
    if boost is None:
        return skip(f"boost state unknown: {facts.reason('cpufreq.boost')}", want)
    observed = "on" if boost else "off"
    if observed == want:
        return passed(observed, want)
    return problem(observed, want, f"CPU boost (turbo) is {observed}")


@check("cpu.epp", expected="performance")
def check_epp(facts: Facts, p: Mapping[str, Any]) -> Finding:
    want = p["expected"]
    if (why := _no_policy(facts)) is not None:
        return skip(why, want)
    epp = facts.get("cpufreq.epp") or {}
    if not epp:
        return skip("the cpufreq driver exposes no energy_performance_preference", want)
    governors = facts.get("cpufreq.governors") or {}
    pinned = [name for name in epp if epp_pinned(facts.get("cpufreq.driver") or "", governors.get(name), want)]
    if pinned and len(pinned) == len(epp):
        # apply skips these writes too: the kernel answers EBUSY
        return skip(f"{facts.get('cpufreq.driver')} pins the EPP to performance under the performance "
                    f"governor ({format_policies(pinned)}): {want} cannot be set", want, _summary(epp))
    wrong = [name for name, value in epp.items() if value != want and name not in pinned]
    if not wrong:
        return passed(_summary(epp), want)
    # intel_pstate in active mode pins EPP to "performance" itself once the
    # governor is performance (and rejects other EPP writes), so fixing the
    # governor fixes this too.
    return problem(_summary(epp), want, f"{len(wrong)} of {len(epp)} policies prefer {epp[wrong[0]]}")


INT8_FLAGS = ("avx512_vnni", "amx_int8")


@check("cpu.vnni", informative=False)
def check_vnni(facts: Facts, p: Mapping[str, Any]) -> Finding:
    expected = "AVX-512 VNNI or AMX-INT8"
    if facts.get("cpu.arch") not in (None, "x86_64"):
        if facts.get("cpu.flags.asimddp") or facts.get("cpu.flags.i8mm"):
            return passed("Arm dot-product (asimddp/i8mm)", "INT8 dot-product instructions")
        return skip(f"not an x86 CPU ({facts.get('cpu.arch')}): no x86 INT8 instructions to judge")
    flags = {name: facts.get(f"cpu.flags.{name}") for name in INT8_FLAGS + ("avx_vnni",)}
    if all(v is None for v in flags.values()):
        return skip(f"CPU flags unknown: {facts.reason('cpu.flags.avx512_vnni')}", expected)
    have = [name for name in INT8_FLAGS if flags[name]]
    if have:
        return passed(" + ".join(have), expected)
    observed = "avx_vnni only (256-bit, client CPUs)" if flags["avx_vnni"] else "no VNNI/AMX"
    message = "INT8 inference on this CPU runs without AVX-512 VNNI or AMX: expect 2-4x less INT8 throughput"
    if p["informative"]:
        return skip("informative on this profile: " + message, expected, observed)
    return problem(observed, expected, message)


@check("cpu.hypervisor")
def check_hypervisor(facts: Facts, p: Mapping[str, Any]) -> Finding:
    flag = facts.get("cpu.hypervisor")
    if flag is None:
        return skip(f"hypervisor flag unknown: {facts.reason('cpu.hypervisor')}", "bare metal")
    if not flag:
        return passed("bare metal", "bare metal")
    vendor = " ".join(x for x in (facts.get("virt.dmi_vendor"), facts.get("virt.dmi_product")) if x)
    return problem("virtual machine" + (f" ({vendor})" if vendor else ""), "bare metal",
                "a guest: clocks, NUMA and cache are the hypervisor's; measure with `hwtune bench` before sizing")
