"""evaluate(Facts, Profile) -> Report: every check's verdict, and the overall status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import hwtune.checks  # noqa: F401  (registers every check)
from hwtune.checks.registry import PROBLEM, REGISTRY, Finding, Status
from hwtune.checks.text import CheckText, load_texts
from hwtune.facts import Facts
from hwtune.profile import Profile

SCHEMA = 1
# The report's status is its worst result, in this order.
WORST_FIRST = (("fail", Status.FAIL), ("error", Status.ERROR), ("warn", Status.WARN))


@dataclass(frozen=True)
class Result:
    """One check judged: its status, observed vs expected, and the fix."""

    id: str
    area: str
    title: str
    status: Status
    observed: Any
    expected: Any
    message: str
    fix: str | None
    rationale: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status.value, "observed": self.observed,
                "expected": self.expected, "message": self.message, "fix": self.fix,
                "rationale": self.rationale, "source": self.source}


@dataclass(frozen=True)
class Report:
    """Every check of one profile judged on one host: what `hwtune check` prints."""

    profile: str
    results: tuple[Result, ...]

    @property
    def status(self) -> str:
        present = {r.status for r in self.results}
        return next((name for name, st in WORST_FIRST if st in present), "pass")

    def counts(self) -> dict[str, int]:
        return {st.value: sum(1 for r in self.results if r.status is st) for st in Status}

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "profile": self.profile, "status": self.status, "counts": self.counts(),
                "results": [r.to_json() for r in self.results]}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fix(text: CheckText, finding: Finding, profile: Profile) -> str | None:
    if finding.fix_args is None or finding.status in (Status.PASS, Status.SKIP):
        return None
    args = _Blank(profile=profile.name, **finding.fix_args)
    return text.remediation.format_map(args)


def evaluate(facts: Facts, profile: Profile) -> Report:
    texts = load_texts()
    results = []
    for check_id, spec in REGISTRY.items():
        overrides = dict(profile.params(check_id))
        if overrides.pop("enabled", True) is False:
            continue
        text = texts[check_id]
        severity = overrides.pop("severity", text.severity)
        params = {**spec.defaults, **overrides}
        try:
            finding = spec.fn(facts, params)
        except Exception as exc:  # noqa: BLE001 - one broken check is one ERROR row, not a crash
            finding = Finding(Status.ERROR, None, None, f"check failed: {type(exc).__name__}: {exc}")
        status = finding.status
        if status == PROBLEM:
            status = Status.FAIL if severity == "fail" else Status.WARN
        results.append(Result(check_id, spec.area, text.title, Status(status), finding.observed, finding.expected,
                              finding.message, _fix(text, finding, profile), text.rationale, text.source))
    return Report(profile.name, tuple(results))


def effective_params(profile: Profile) -> dict[str, dict[str, Any]]:
    """Every check's parameters under this profile: defaults, then the profile's values."""
    texts = load_texts()
    return {check_id: {"enabled": True, "severity": texts[check_id].severity, **spec.defaults,
                       **profile.params(check_id)} for check_id, spec in REGISTRY.items()}


def choose_profile(facts: Facts) -> str:
    """gpu-inference when an NVIDIA GPU or driver is present, else cpu-inference."""
    if facts.get("pci.nvidia_devices") or facts.get("nvidia.driver_version") or facts.get("gpu.count"):
        return "gpu-inference"
    return "cpu-inference"
