"""Memory checks: transparent huge pages, swappiness, automatic NUMA balancing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwtune.checks.registry import Finding, check, passed, problem, skip
from hwtune.facts import Facts


@check("mm.thp", fix=("mode",), allowed=["always", "madvise"], target="madvise")
def check_thp(facts: Facts, p: Mapping[str, Any]) -> Finding:
    mode = facts.get("mm.thp_enabled")
    expected = " or ".join(p["allowed"])
    if mode is None:
        return skip(f"THP mode unknown: {facts.reason('mm.thp_enabled')}", expected)
    if mode in p["allowed"]:
        return passed(mode, expected)
    return problem(mode, expected, THP_COST.get(mode, f"THP mode {mode!r} is not what the profile expects"),
                   mode=p["target"])


# What the observed mode costs an inference host (the check's text fits the value seen)
THP_COST = {
    "never": "large weight and activation buffers pay for 4 KiB pages (TLB misses)",
    "always": "every process gets huge pages, wanted or not: small heaps bloat and khugepaged and direct "
              "compaction stall allocations (latency spikes); madvise gives huge pages to the buffers that ask "
              "for them (the inference runtimes' allocators do)",
}


@check("vm.swappiness", fix=("value",), max=10)
def check_swappiness(facts: Facts, p: Mapping[str, Any]) -> Finding:
    value = facts.get("vm.swappiness")
    expected = f"<= {p['max']}"
    if value is None:
        return skip(f"vm.swappiness unknown: {facts.reason('vm.swappiness')}", expected)
    if value <= p["max"]:
        return passed(value, expected)
    return problem(value, expected, "the kernel may swap out model weights of idle workers", value=p["max"])


@check("kernel.numa_balancing", fix=("value",), expected=0)
def check_numa_balancing(facts: Facts, p: Mapping[str, Any]) -> Finding:
    value = facts.get("kernel.numa_balancing")
    nodes = facts.get("numa.nodes")
    if nodes is not None and nodes < 2:
        return skip("one NUMA node: nothing to balance", p["expected"])
    if value is None:
        return skip(f"kernel.numa_balancing unknown: {facts.reason('kernel.numa_balancing')}", p["expected"])
    if value == p["expected"]:
        return passed(value, p["expected"])
    return problem(value, p["expected"],
                   "automatic NUMA balancing migrates pages of pinned inference workers (latency spikes)",
                   value=p["expected"])
