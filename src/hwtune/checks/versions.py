"""Version floors: kernel, NVIDIA driver, CUDA toolkit, cuDNN."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.version import InvalidVersion, Version

from hwtune.checks.registry import Finding, check, passed, problem, skip
from hwtune.facts import Facts


def leading_version(text: str) -> Version | None:
    """The numeric head of a release string: "6.1.0-13-amd64" -> 6.1.0; None when there is none."""
    head = []
    for part in str(text).split("."):
        digits = ""
        for ch in part:
            if not ch.isdecimal():
                break
            digits += ch
        if not digits:
            break
        head.append(digits)
        if digits != part:
            break
    if not head:
        return None
    try:
        return Version(".".join(head))
    except InvalidVersion:
        return None


def floor(facts: Facts, fact_id: str, minimum: str, what: str) -> Finding:
    observed = facts.get(fact_id)
    expected = f">= {minimum}"
    if observed is None:
        return skip(f"{what} unknown: {facts.reason(fact_id)}", expected)
    have = leading_version(observed)
    if have is None:
        return skip(f"{what} '{observed}' is not a version hwtune can compare", expected)
    if have >= Version(minimum):
        return passed(observed, expected)
    return problem(observed, expected, f"{what} {observed} is older than {minimum}", minimum=minimum)


@check("kernel.version", fix=("minimum",), min="5.1")
def check_kernel_version(facts: Facts, p: Mapping[str, Any]) -> Finding:
    return floor(facts, "kernel.release", p["min"], "kernel")


@check("nvidia.driver", fix=("minimum",), min="430.26")
def check_nvidia_driver(facts: Facts, p: Mapping[str, Any]) -> Finding:
    if facts.get("nvidia.driver_version") is None and not facts.get("pci.nvidia_devices"):
        return skip("no NVIDIA GPU or driver on this host", f">= {p['min']}")
    if facts.get("nvidia.driver_version") is None:
        found = facts.get("pci.nvidia_devices")
        return problem(None, f">= {p['min']}",
                       f"{len(found)} NVIDIA GPU(s) on the PCI bus but no driver answers: "
                       f"{facts.reason('nvidia.driver_version')}", minimum=p["min"])
    return floor(facts, "nvidia.driver_version", p["min"], "NVIDIA driver")


@check("cuda.toolkit", fix=("minimum",), min="10.1")
def check_cuda_toolkit(facts: Facts, p: Mapping[str, Any]) -> Finding:
    return floor(facts, "cuda.toolkit_version", p["min"], "CUDA toolkit")


@check("cudnn.version", fix=("minimum",), min="7.6")
def check_cudnn(facts: Facts, p: Mapping[str, Any]) -> Finding:
    return floor(facts, "cudnn.version", p["min"], "cuDNN")
