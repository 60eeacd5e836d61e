"""guard's rules over time and its policy, read from health/guard_rules.toml (or a file given).

Validated whole at load: an unknown key, a kind no source makes, a wrong type
or value is a ConfigError naming the file, the rule and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from hwtune.errors import ConfigError
from hwtune.files import read_toml
from hwtune.guard.signals import LOG_KINDS
from hwtune.profile import load

RULES = Path(__file__).resolve().parents[1] / "health" / "guard_rules.toml"

EFFECTS = ("suspect", "quarantine")
REMEDIES = ("reset", "reboot", "escalate", "none", "catalogue")
CLEARS = ("reboot", "gpu_reset", "recovery_action_none", "clean_checks")
SOURCES = ("log", "reading")
READING_KINDS = ("gpu_lost", "reset_required", "ecc_uncorrected_volatile", "row_remap_pending", "row_remap_failure",
                 "retired_pages_pending", "retired_pages_limit", "hw_power_brake", "hw_thermal_slowdown",
                 "pcie_replays", "field_unreadable", "edac_ue", "aer_fatal")


@dataclass(frozen=True)
class Policy:
    clean_checks: int = 3
    remediation_limit: int = 5
    remediation_window_s: float = 604800.0
    allow_reboot: bool = False
    reboots_per_day: int = 1
    breaker_fraction: float = 0.2
    breaker_jitter_s: float = 1.0
    power_brake: str = "suspect"


@dataclass(frozen=True)
class Cancel:
    kind: str
    codes: tuple[int, ...] = ()
    detail_contains: str = ""


@dataclass(frozen=True)
class Follows:
    codes: tuple[int, ...]
    causes: tuple[int, ...]
    within_s: float


@dataclass(frozen=True)
class Rule:
    id: str
    check: str
    source: str
    kind: tuple[str, ...]
    scope: str
    effect: str
    remedy: str = "none"
    codes: tuple[int, ...] = ()
    exclude_codes: tuple[int, ...] = ()
    xid_severity: tuple[str, ...] = ()
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    detail_contains: str = ""
    window_s: float = 0.0
    count: int = 1
    merge_s: float = 0.0
    clears_on: tuple[str, ...] = ("clean_checks",)
    cancelled_by: tuple[Cancel, ...] = ()
    follows: Follows | None = None


@dataclass(frozen=True)
class Rules:
    policy: Policy
    remedies: Mapping[str, str]
    rules: tuple[Rule, ...]
    path: str

    def remedy_for(self, rule: Rule, nvidia_action: str) -> str:
        if rule.remedy != "catalogue":
            return rule.remedy
        return self.remedies.get(nvidia_action, "reset")


_RULE_KEYS = {"id", "check", "source", "kind", "scope", "effect", "remedy", "codes", "exclude_codes", "xid_severity",
              "fields", "detail_contains", "window_s", "count", "merge_s", "clears_on", "cancelled_by", "follows"}


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


def _strings(where: str, key: str, value: Any, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise _fail(where, f"'{key}' must be a string or a list of strings")
    bad = [v for v in items if allowed is not None and v not in allowed]
    if bad:
        raise _fail(where, f"'{key}': {bad[0]!r} is not one of {', '.join(allowed or ())}")
    return tuple(items)


def _ints(where: str, key: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _fail(where, f"'{key}' must be a list of whole numbers")
    return tuple(value)


def _number(where: str, key: str, value: Any, *, whole: bool = False, low: float = 0.0) -> Any:
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < low:
        raise _fail(where, f"'{key}' = {value!r}: must be a {'whole ' if whole else ''}number >= {low:g}")
    return value


def _policy(where: str, table: Any) -> Policy:
    if not isinstance(table, Mapping):
        raise _fail(where, "[policy] must be a table")
    defaults = Policy()
    values: dict[str, Any] = {}
    for key, value in table.items():
        if not hasattr(defaults, key):
            raise _fail(where, f"[policy]: unknown key '{key}'")
        default = getattr(defaults, key)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise _fail(where, f"[policy] '{key}' must be true or false")
        elif isinstance(default, str):
            value = _strings(where, key, value, ("suspect", "quarantine"))[0]
        else:
            value = _number(where, f"[policy] {key}", value, whole=isinstance(default, int))
        values[key] = value
    policy = replace(defaults, **values)
    if policy.breaker_fraction > 1 or policy.clean_checks < 1:
        raise _fail(where, "[policy]: breaker_fraction must be within 0..1 and clean_checks at least 1")
    return policy


def _rule(where: str, table: Any) -> Rule:
    if not isinstance(table, dict):
        raise _fail(where, "not a table")
    unknown = sorted(set(table) - _RULE_KEYS)
    if unknown:
        raise _fail(where, f"unknown key '{unknown[0]}'")
    for key in ("id", "check", "source", "kind", "scope", "effect"):
        if key not in table:
            raise _fail(where, f"'{key}' is missing")
    source = _strings(where, "source", table["source"], SOURCES)[0]
    kinds = _strings(where, "kind", table["kind"], LOG_KINDS if source == "log" else READING_KINDS)
    fields = table.get("fields", {})
    if not isinstance(fields, dict):
        raise _fail(where, "'fields' must be a table")
    cancels = table.get("cancelled_by", [])
    if not isinstance(cancels, list) or not all(isinstance(c, dict) and set(c) <= {"kind", "codes", "detail_contains"}
                                                and "kind" in c for c in cancels):
        raise _fail(where, "'cancelled_by' must be a list of { kind, codes, detail_contains }")
    follows = table.get("follows")
    if follows is not None and (not isinstance(follows, dict) or set(follows) != {"codes", "causes", "within_s"}):
        raise _fail(where, "'follows' must be { codes, causes, within_s }")
    return Rule(
        id=_strings(where, "id", table["id"])[0], check=_strings(where, "check", table["check"])[0],
        source=source, kind=kinds, scope=_strings(where, "scope", table["scope"], ("gpu", "node"))[0],
        effect=_strings(where, "effect", table["effect"], EFFECTS)[0],
        remedy=_strings(where, "remedy", table.get("remedy", "none"), REMEDIES)[0],
        codes=_ints(where, "codes", table.get("codes", [])),
        exclude_codes=_ints(where, "exclude_codes", table.get("exclude_codes", [])),
        xid_severity=_strings(where, "xid_severity", table.get("xid_severity", []), ("fail", "warn", "info")),
        fields={k: _strings(where, f"fields.{k}", v) for k, v in fields.items()},
        detail_contains=_strings(where, "detail_contains", table.get("detail_contains", ""))[0],
        window_s=float(_number(where, "window_s", table.get("window_s", 0))),
        count=_number(where, "count", table.get("count", 1), whole=True, low=1),
        merge_s=float(_number(where, "merge_s", table.get("merge_s", 0))),
        clears_on=_strings(where, "clears_on", table.get("clears_on", ["clean_checks"]), CLEARS),
        cancelled_by=tuple(Cancel(_strings(where, "cancelled_by.kind", c["kind"], LOG_KINDS)[0],
                                  _ints(where, "cancelled_by.codes", c.get("codes", [])),
                                  _strings(where, "cancelled_by.detail_contains", c.get("detail_contains", ""))[0])
                           for c in cancels),
        follows=None if follows is None else Follows(
            _ints(where, "follows.codes", follows["codes"]), _ints(where, "follows.causes", follows["causes"]),
            float(_number(where, "follows.within_s", follows["within_s"]))),
    )


def with_profile(rules: Rules, profile_name: str) -> Rules:
    """The rules with a profile's [guard] table over their [policy] (validated the same way)."""

    profile = load(profile_name)
    if not profile.guard:
        return rules
    table = {**{k: getattr(rules.policy, k) for k in Policy.__dataclass_fields__}, **profile.guard}
    return replace(rules, policy=_policy(f"profile {profile.name} [guard]", table))


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES) -> Rules:
    doc = read_toml(path)
    unknown = sorted(set(doc) - {"policy", "remedy", "rule"})
    if unknown:
        raise ConfigError(f"{path}: unknown key '{unknown[0]}'")
    remedies = doc.get("remedy", {})
    if not isinstance(remedies, dict) or not all(v in REMEDIES[:-1] for v in remedies.values()):
        raise ConfigError(f"{path}: [remedy] values must be one of {', '.join(REMEDIES[:-1])}")
    tables = doc.get("rule", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: no [[rule]]")
    rules = tuple(_rule(f"{path}: rule {i + 1}", t) for i, t in enumerate(tables))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path}: a rule id is repeated")
    return Rules(_policy(str(path), doc.get("policy", {})), dict(remedies), rules, str(path))
