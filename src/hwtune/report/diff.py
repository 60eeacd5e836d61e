"""`hwtune diff A B`: what differs between two hosts, or one host at two times: facts and verdicts.

A side is any of: a `hwtune check --json` report, a `hwtune facts --json`
document, a fleet host folder (check.json and/or facts.json), or a snapshot
folder (probed and checked as `hwtune check --root` would).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwtune import profile as profiles
from hwtune.errors import ConfigError
from hwtune.host import Host
from hwtune.probe import probe_facts
from hwtune.report.fleet import CHECK_FILE, FACTS_FILE
from hwtune.report.inputs import check_report, facts_doc, read_json
from hwtune.verdict import choose_profile, evaluate

SCHEMA = 1


@dataclass(frozen=True)
class Side:
    label: str
    facts: dict[str, Any] | None  # flat: fact id -> value, GPUs as gpu.<index>.<field>
    checks: dict[str, dict[str, Any]] | None  # check id -> result
    profile: str | None = None


def flat_facts(doc: dict[str, Any]) -> dict[str, Any]:
    values = dict(doc.get("facts", {}))
    for g in doc.get("gpus", []) or []:
        for k, v in g.items():
            if k != "index":
                values[f"gpu.{g.get('index')}.{k}"] = v
    return values


def _from_docs(label: str, check: Any, facts: Any) -> Side:
    checks = {str(r.get("id")): r for r in check["results"]} if check else None
    return Side(label, flat_facts(facts) if facts else None, checks, check.get("profile") if check else None)


def _classify(doc: Any, path: Path) -> tuple[Any, Any]:
    if isinstance(doc, dict) and "results" in doc and "status" in doc:
        return check_report(doc, path), None
    if isinstance(doc, dict) and "facts" in doc:
        return None, facts_doc(doc, path)
    raise ConfigError(f"{path}: neither `hwtune check --json` nor `hwtune facts --json` output")


def load_side(path: Path, profile: str | None = None) -> Side:
    if path.is_file():
        return _from_docs(str(path), *_classify(read_json(path), path))
    if not path.is_dir():
        raise ConfigError(f"{path}: no such file or folder")
    check, facts = path / CHECK_FILE, path / FACTS_FILE
    if check.is_file() or facts.is_file():
        return _from_docs(str(path), check_report(read_json(check), check) if check.is_file() else None,
                          facts_doc(read_json(facts), facts) if facts.is_file() else None)
    if (path / "proc").is_dir() or (path / "sys").is_dir():
        return _probe_snapshot(path, profile)
    raise ConfigError(f"{path}: not a snapshot (no proc/ or sys/) and no {CHECK_FILE} or {FACTS_FILE}")


def _probe_snapshot(path: Path, profile: str | None) -> Side:
    facts = probe_facts(Host(path))
    report = evaluate(facts, profiles.load(profile or choose_profile(facts)))
    return _from_docs(str(path), report.to_json(), facts.to_json())


def _facts_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    changed = [{"id": k, "a": a[k], "b": b[k]} for k in sorted(a.keys() & b.keys()) if a[k] != b[k]]
    return {"compared": True, "changed": changed,
            "only_a": [{"id": k, "value": a[k]} for k in sorted(a.keys() - b.keys())],
            "only_b": [{"id": k, "value": b[k]} for k in sorted(b.keys() - a.keys())]}


def _checks_diff(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> dict[str, Any]:
    changed = []
    for cid in [k for k in a if k in b]:
        ra, rb = a[cid], b[cid]
        if ra.get("status") != rb.get("status") or ra.get("observed") != rb.get("observed"):
            changed.append({"id": cid, "title": ra.get("title"),
                            "a": {"status": ra.get("status"), "observed": ra.get("observed")},
                            "b": {"status": rb.get("status"), "observed": rb.get("observed")}})
    return {"compared": True, "changed": changed, "only_a": [k for k in a if k not in b],
            "only_b": [k for k in b if k not in a]}


def diff_sides(a: Side, b: Side) -> dict[str, Any]:
    not_compared = {"compared": False, "changed": [], "only_a": [], "only_b": []}
    facts = _facts_diff(a.facts, b.facts) if a.facts is not None and b.facts is not None else not_compared
    checks = _checks_diff(a.checks, b.checks) if a.checks is not None and b.checks is not None else not_compared
    if not facts["compared"] and not checks["compared"]:
        raise ConfigError(f"nothing to compare: {a.label} and {b.label} hold neither facts on both sides "
                          "nor check reports on both sides")
    same = not any(part[k] for part in (facts, checks) for k in ("changed", "only_a", "only_b"))
    return {"schema": SCHEMA, "a": a.label, "b": b.label, "profile_a": a.profile, "profile_b": b.profile,
            "same": same, "facts": facts, "checks": checks}
