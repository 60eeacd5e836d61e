"""The state machine, per GPU and for the node: pure functions of what was seen and what is remembered.

    HEALTHY -> SUSPECT -> QUARANTINED -> REMEDIATING (reset | reboot) -> VERIFYING -> HEALTHY
                                    \\-> ESCALATED (replace) after N remediations in a window
    UNKNOWN: no source could be read; nothing is done on it, and a quarantine stays.

A target is let back only on evidence: the rule that held no longer holds
(its events were cleared by a new boot, a verified GPU reset, a cancelling
record, or fell out of their window; its reading came back clean) and then
`clean_checks` judgements in a row found nothing.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from hwtune.guard.rules import Policy, Rule, Rules
from hwtune.guard.signals import NODE, Reading, fields_of, xid_class
from hwtune.guard.store import Event

HEALTHY, SUSPECT, QUARANTINED, REMEDIATING, VERIFYING, ESCALATED, UNKNOWN = (
    "HEALTHY", "SUSPECT", "QUARANTINED", "REMEDIATING", "VERIFYING", "ESCALATED", "UNKNOWN")
RANK = {HEALTHY: 0, UNKNOWN: 1, SUSPECT: 2, VERIFYING: 3, REMEDIATING: 4, QUARANTINED: 5, ESCALATED: 6}
HOLDING = (QUARANTINED, REMEDIATING, VERIFYING, ESCALATED)  # the node stays out while a target is in one
REMEDY_RANK = {"none": 0, "reset": 1, "reboot": 2, "escalate": 3}


@dataclass(frozen=True)
class Finding:
    """One rule that holds on one target now."""

    rule: str
    check: str
    target: str
    effect: str  # suspect / quarantine
    remedy: str  # reset / reboot / escalate / none
    reason: str  # "gpu.xid 79 GPU 0000:3b:00.0"
    evidence: str


@dataclass(frozen=True)
class Memo:
    """What guard remembers of one target between judgements."""

    state: str = HEALTHY
    since: float = 0.0
    clean: int = 0  # clean judgements in a row while VERIFYING
    boot: str = ""
    remedy: str = "none"  # the remedy the quarantine asks for
    reason: str = ""
    evidence: str = ""
    check: str = ""
    remediations: tuple[float, ...] = ()  # when remedies ran (for the escalation window)
    resets: tuple[float, ...] = ()  # when a reset of this GPU was verified (clears_on gpu_reset)
    held: bool = False  # node only: guard holds the node out (drained / cordoned)


@dataclass(frozen=True)
class Intent:
    """An action the machine asks for; whether it runs is the caller's (shadow or --act)."""

    target: str
    action: str  # hold / release / reset / reboot / escalate
    check: str
    reason: str
    evidence: str


# -- rules over the evidence ------------------------------------------------------------------

def _event_matches(rule: Rule, e: Event) -> bool:
    if e.kind not in rule.kind:
        return False
    if e.kind == "xid":
        if rule.codes and e.code not in rule.codes:
            return False
        if e.code in rule.exclude_codes:
            return False
        if rule.xid_severity and xid_class(e)[0] not in rule.xid_severity:
            return False
    fields = fields_of(e)
    for key, allowed in rule.fields.items():  # a kind that has no such field is not filtered by it
        if key in fields and fields[key] not in allowed:
            return False
    return not rule.detail_contains or rule.detail_contains in fields.get("detail", "")


def _latest_cancel(rule: Rule, events: list[Event]) -> dict[str, int]:
    """For each target, the last record that cancels this rule's earlier events (its order)."""
    out: dict[str, int] = {}
    for c in rule.cancelled_by:
        for x in events:
            if x.kind == c.kind and (not c.codes or x.code in c.codes) and \
                    c.detail_contains in fields_of(x).get("detail", ""):
                out[x.target] = max(out.get(x.target, -1), x.ord)
    return out


def _causes(rule: Rule, events: list[Event]) -> dict[str, list[tuple[int, float]]]:
    """For each GPU, the (order, time) of the records the rule's `follows` counts others under."""
    out: dict[str, list[tuple[int, float]]] = {}
    if rule.follows is not None:
        for x in events:  # in the log's order
            if x.code in rule.follows.causes or x.kind == "gpu_off_bus":
                out.setdefault(x.target, []).append((x.ord, x.t))
    return out


def _follows_cause(rule: Rule, e: Event, causes: dict[str, list[tuple[int, float]]]) -> bool:
    f = rule.follows
    if f is None or e.code not in f.codes:
        return False
    seen = causes.get(e.target, [])
    i = bisect.bisect_left(seen, (e.ord, float("-inf")))  # the last cause before this record
    return i > 0 and e.t - seen[i - 1][1] <= f.within_s


def _count(events: list[Event], merge_s: float) -> int:
    """Events closer than merge_s to the last one counted are one burst."""
    n, last = 0, None
    for e in sorted(events, key=lambda e: (e.t, e.ord)):
        if last is None or e.t - last >= merge_s or merge_s <= 0:
            n += 1
            last = e.t
    return n


def _log_findings(rules: Rules, rule: Rule, events: list[Event], now: float,
                  resets: Mapping[str, tuple[float, ...]], answers: Mapping[str, bool]) -> list[Finding]:
    by_target: dict[str, list[Event]] = {}
    cancels, causes = _latest_cancel(rule, events), _causes(rule, events)  # one pass each: linear in the log
    for e in events:
        if not _event_matches(rule, e) or e.ord < cancels.get(e.target, -1) or _follows_cause(rule, e, causes):
            continue
        if "gpu_reset" in rule.clears_on and any(t >= e.t for t in resets.get(e.target, ())):
            continue
        if "recovery_action_none" in rule.clears_on and answers.get(e.target):
            continue
        if rule.window_s > 0 and e.t < now - rule.window_s:
            continue
        target = e.target if rule.scope == "gpu" else NODE
        by_target.setdefault(target, []).append(e)
    out = []
    for target, seen in by_target.items():
        if _count(seen, rule.merge_s) < rule.count:
            continue
        worst = max(seen, key=lambda e: REMEDY_RANK[rules.remedy_for(rule, xid_class(e)[1])])
        remedy = rules.remedy_for(rule, xid_class(worst)[1])
        what = f"{worst.code}" if worst.code is not None else ("79" if worst.kind == "gpu_off_bus" else worst.kind)
        where = f" GPU {target}" if target != NODE else ""
        more = f" (x{len(seen)})" if len(seen) > 1 else ""
        out.append(Finding(rule.id, rule.check, target, rule.effect, remedy, f"hwtune: {rule.check} {what}{where}",
                           f"{worst.evidence}{more}"))
    return out


def findings(rules: Rules, events: Iterable[Event], readings: Iterable[Reading], now: float,
             resets: Mapping[str, tuple[float, ...]] = {}, answers: Mapping[str, bool] = {}) -> list[Finding]:
    """Every rule that holds now. `events`: this boot's; `resets`: verified GPU resets by target;
    `answers`: GPUs that answer and ask for no reset (recovery action none)."""
    events = sorted(events, key=lambda e: e.ord)
    readings = list(readings)
    out: list[Finding] = []
    for rule in rules.rules:
        if rule.source == "log":
            out += _log_findings(rules, rule, events, now, resets, answers)
            continue
        effect = rule.effect
        for r in readings:
            if r.kind not in rule.kind:
                continue
            if r.kind == "hw_power_brake" and rules.policy.power_brake == "quarantine":
                effect = "quarantine"
            where = f" GPU {r.target}" if r.target != NODE else ""
            out.append(Finding(rule.id, rule.check, r.target if rule.scope == "gpu" else NODE, effect,
                               rule.remedy if rule.remedy != "catalogue" else "reset",
                               f"hwtune: {rule.check} {r.kind}{where}", r.evidence))
    return out


# -- one target's step -------------------------------------------------------------------------

def step(memo: Memo, found: list[Finding], *, readable: bool, boot: str, now: float,
         policy: Policy) -> tuple[Memo, list[Intent]]:
    """The target's next state and the remedy it asks for (the node's hold is `node_step`'s)."""
    prev = memo.state
    if memo.boot and memo.boot != boot and prev == REMEDIATING and memo.remedy == "reboot":
        prev = VERIFYING  # the reboot it asked for happened: now the evidence must stay clean
    quarantine = [f for f in found if f.effect == "quarantine"]
    suspect = [f for f in found if f.effect == "suspect"]
    base = replace(memo, boot=boot)
    if prev == ESCALATED:
        return base, []
    if quarantine:
        worst = max(quarantine, key=lambda f: REMEDY_RANK[f.remedy])
        recent = tuple(t for t in memo.remediations if t >= now - policy.remediation_window_s)
        held = replace(base, since=now if prev not in HOLDING else memo.since, clean=0, remedy=worst.remedy,
                       reason=worst.reason, evidence=worst.evidence, check=worst.check, remediations=recent)
        if worst.remedy == "escalate" or len(recent) >= policy.remediation_limit:
            why = worst.reason if worst.remedy == "escalate" else (
                f"{worst.reason}: {len(recent)} remediations within {policy.remediation_window_s:g} s")
            return replace(held, state=ESCALATED, since=now), [Intent(worst.target, "escalate", worst.check, why,
                                                                      worst.evidence)]
        intents = [] if worst.remedy == "none" else [Intent(worst.target, worst.remedy, worst.check, worst.reason,
                                                            worst.evidence)]
        return replace(held, state=QUARANTINED), intents
    if prev in (QUARANTINED, REMEDIATING, VERIFYING):
        if not readable:
            return base, []  # UNKNOWN: nothing is done, the quarantine stays
        clean = memo.clean + 1 if prev == VERIFYING else 1
        if clean >= policy.clean_checks:
            state = SUSPECT if suspect else HEALTHY
            return replace(base, state=state, since=now, clean=0, remedy="none", reason="", evidence=""), []
        return replace(base, state=VERIFYING, since=now if prev != VERIFYING else memo.since, clean=clean), []
    if suspect:
        worst = suspect[0]
        return replace(base, state=SUSPECT, since=memo.since if prev == SUSPECT else now, reason=worst.reason,
                       evidence=worst.evidence, check=worst.check), []
    state = HEALTHY if readable else UNKNOWN
    return replace(base, state=state, since=memo.since if prev == state else now, reason="", evidence=""), []


def node_step(node: Memo, targets: Mapping[str, Memo], *, boot: str, now: float) -> tuple[Memo, list[Intent]]:
    """The node's hold: taken when a target enters a holding state, given back when none is left in one."""
    holding = sorted(((t, m) for t, m in targets.items() if m.state in HOLDING), key=lambda tm: -RANK[tm[1].state])
    node = replace(node, boot=boot)
    if holding and not node.held:
        _, m = holding[0]
        return replace(node, held=True, since=now, reason=m.reason, evidence=m.evidence, check=m.check), [
            Intent(NODE, "hold", m.check, m.reason, m.evidence)]
    if not holding and node.held:
        return replace(node, held=False, since=now), [Intent(NODE, "release", node.check, node.reason,
                                                             "every target passed its clean checks")]
    return node, []


@dataclass
class Judgement:
    """One judgement of a node: every target's memo and the intents, in order."""

    memos: dict[str, Memo] = field(default_factory=dict)
    node: Memo = field(default_factory=Memo)
    intents: list[Intent] = field(default_factory=list)
    found: list[Finding] = field(default_factory=list)


def judge(rules: Rules, memos: Mapping[str, Memo], node: Memo, found: list[Finding], *, gpus: Iterable[str],
          readable: Mapping[str, bool], boot: str, now: float) -> Judgement:
    """Every target's step (each GPU seen, the node itself, and any remembered), then the node's hold."""
    targets = set(gpus) | {NODE} | set(memos) | {f.target for f in found}
    out = Judgement(found=found)
    for target in sorted(targets, key=lambda t: (t != NODE, t)):
        memo = memos.get(target, Memo(boot=boot, since=now))
        mine = [f for f in found if f.target == target]
        new, intents = step(memo, mine, readable=readable.get(target, readable.get(NODE, False)), boot=boot,
                            now=now, policy=rules.policy)
        out.memos[target] = new
        out.intents += intents
    out.node, holds = node_step(node, out.memos, boot=boot, now=now)
    out.intents = holds + out.intents  # the node is held before any remedy runs
    return out
