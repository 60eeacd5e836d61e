"""evaluate(Facts, Profile) -> Report: every check's verdict, and the overall status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import hwtune.checks  # noqa: F401  (registers every check)
from hwtune.checks.registry import PROBLEM, REGISTRY, CheckSpec, Finding, Status, is_severity_key
from hwtune.checks.text import CheckText, load_texts, text_problem
from hwtune.facts import Facts
from hwtune.profile import Profile
from hwtune.tunables import check_params

SCHEMA = 1
# The report's status is its worst result, in this order.
WORST_FIRST = (("fail", Status.FAIL), ("error", Status.ERROR), ("warn", Status.WARN))
NOTHING_JUDGED = "nothing judged"


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
        """The worst result; "pass" only when some check passed: a report where every check
        SKIPped judged nothing (exit 0 all the same: only findings exit 1)."""
        present = {r.status for r in self.results}
        worst = next((name for name, st in WORST_FIRST if st in present), None)
        return worst or ("pass" if Status.PASS in present else NOTHING_JUDGED)

    def counts(self) -> dict[str, int]:
        return {st.value: sum(1 for r in self.results if r.status is st) for st in Status}

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "profile": self.profile, "status": self.status, "counts": self.counts(),
                "results": [r.to_json() for r in self.results]}


def resolve_params(spec: CheckSpec, text: CheckText | None, profile: Profile,
                   from_tune: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A check's parameters under a profile: what `evaluate` uses and `profiles show` prints.

    A check that verifies a tunable takes its expected value from the profile's [tune] when the
    profile sets it (`from_tune`: tunables.check_params), so a host apply has tuned checks clean.

    Severity: `severity` is the profile's value, else the text's default. A narrower
    `<case>_severity` is the profile's value for it, else the profile's `severity` when the
    profile sets one (it then covers every problem of the check), else the check's default.
    """
    own = dict(profile.params(spec.id))
    params: dict[str, Any] = {"enabled": True, "severity": text.severity if text else "fail", **spec.defaults}
    for key in spec.defaults:
        if is_severity_key(key) and key not in own and "severity" in own:
            params[key] = own["severity"]
    params.update(own)
    params.update(from_tune.get(spec.id, {}))
    return params


def _judge(spec: CheckSpec, text: CheckText | None, facts: Facts, params: dict[str, Any]) -> Finding:
    """Run one check; whatever goes wrong in it or its text is this check's ERROR row, not a crash."""
    broken = text_problem(spec.id, text, spec.fix)
    if broken is not None:
        return Finding(Status.ERROR, None, None, broken)
    try:
        finding = spec.fn(facts, {k: v for k, v in params.items() if k != "enabled"})
    except Exception as exc:  # noqa: BLE001 - one broken check is one ERROR row, not a crash
        return Finding(Status.ERROR, None, None, f"check failed: {type(exc).__name__}: {exc}")
    if finding.status == PROBLEM:
        given = frozenset(finding.fix_args or {})
        if given != spec.fix:
            return Finding(Status.ERROR, finding.observed, finding.expected,
                           f"check {spec.id} filled {sorted(given)} for its remediation, declared {sorted(spec.fix)}")
        if finding.severity_key not in params or not is_severity_key(finding.severity_key):
            return Finding(Status.ERROR, finding.observed, finding.expected,
                           f"check {spec.id} names severity parameter '{finding.severity_key}' it does not declare")
    return finding


def _fix(text: CheckText | None, finding: Finding, profile: Profile) -> str | None:
    if text is None or finding.fix_args is None or finding.status in (Status.PASS, Status.SKIP, Status.ERROR):
        return None
    return text.remediation.format(profile=profile.name, **finding.fix_args)


def evaluate(facts: Facts, profile: Profile) -> Report:
    texts = load_texts()
    from_tune = check_params(profile.tune)
    results = []
    for check_id, spec in REGISTRY.items():
        text = texts.get(check_id)
        params = resolve_params(spec, text, profile, from_tune)
        if params["enabled"] is False:
            continue
        finding = _judge(spec, text, facts, params)
        status = finding.status
        if status == PROBLEM:
            status = Status.FAIL if params[finding.severity_key] == "fail" else Status.WARN
        results.append(Result(check_id, spec.area, text.title if text else check_id, Status(status),
                              finding.observed, finding.expected, finding.message, _fix(text, finding, profile),
                              text.rationale if text else "", text.source if text else ""))
    return Report(profile.name, tuple(results))


def effective_params(profile: Profile) -> dict[str, dict[str, Any]]:
    """Every check's parameters under this profile, as `evaluate` uses them."""
    texts = load_texts()
    from_tune = check_params(profile.tune)
    return {check_id: resolve_params(spec, texts.get(check_id), profile, from_tune)
            for check_id, spec in REGISTRY.items()}


def choose_profile(facts: Facts) -> str:
    """gpu-inference when an NVIDIA GPU or driver is present, else cpu-inference."""
    if facts.get("pci.nvidia_devices") or facts.get("nvidia.driver_version") or facts.get("gpu.count"):
        return "gpu-inference"
    return "cpu-inference"
