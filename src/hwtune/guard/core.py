"""One judgement of a node: facts -> signals -> history -> state machine -> journaled actions.

`judge` is the whole step, with the clock, the actuator and the remedies
passed in (the service loop, `--once` and the tests call the same function).
The decision and the actions it asks for are committed together, durably,
before any actuator is called; pending actions a killed run left are
finished first (guard/actions.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwtune.errors import ConfigError, HwtuneError
from hwtune.facts import Facts
from hwtune.guard import actions as act_
from hwtune.guard import breaker
from hwtune.guard.actions import DONE, FAILED, PENDING, SKIPPED, Action
from hwtune.guard.actuators import Actuator, ActuatorError, check_node_name
from hwtune.guard.actuators.remedy import Remedies
from hwtune.guard.machine import RANK, REMEDIATING, Memo, findings
from hwtune.guard.machine import judge as judge_targets
from hwtune.guard.rules import Rules
from hwtune.guard.signals import NODE, Signals, collect
from hwtune.guard.store import HOLD, HOLD_SHADOW, Store

SCHEMA = "hwtune.guard/1"
BOOT_ID = "/proc/sys/kernel/random/boot_id"
SLURMD_NODENAME = "SLURMD_NODENAME"
_MEMO_FIELDS = {f.name for f in dataclasses.fields(Memo)}


@dataclass
class GuardResult:
    mode: str
    node: str
    state: str
    gpus: list[tuple[str, str]]
    actions: list[Action]
    reasons: list[str] = field(default_factory=list)  # sources that could not be read
    breaker_open: bool = False

    @property
    def healthy(self) -> bool:
        return self.state == "HEALTHY"

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "mode": self.mode, "node": {"name": self.node, "state": self.state},
                "gpus": [{"bus_id": bus, "state": state} for bus, state in self.gpus],
                "actions": [a.to_json() for a in self.actions], "unreadable": self.reasons}


def node_name(root: Path | None, given: str | None) -> str:
    if given:
        return check_node_name(given)
    if root is not None:
        raise ConfigError("a snapshot is judged for a named node: give the name of the node it stands for "
                          "(--node)")
    # run by slurmd as its HealthCheckProgram: the name Slurm knows this node by (it may differ from the host's)
    slurm = os.environ.get(SLURMD_NODENAME)
    if slurm:
        try:
            return check_node_name(slurm)
        except HwtuneError as exc:
            raise ConfigError(f"{SLURMD_NODENAME}: {exc}") from None
    return check_node_name(socket.gethostname().split(".")[0])


def boot_id(read: Callable[[str], str | None]) -> str:
    """The kernel's boot id ("unknown" where not recorded: every event then shares one boot)."""
    text = (read(BOOT_ID) or "").strip()
    return text[:64] if text and all(c in "0123456789abcdef-" for c in text) else "unknown"


# -- memory between judgements -------------------------------------------------------------

def _check_memo(raw: Any, where: str) -> Memo:
    """A stored memo, validated whole (the history is trusted only as far as it checks out)."""
    if not isinstance(raw, dict) or set(raw) - _MEMO_FIELDS or raw.get("state") not in RANK:
        raise ConfigError(f"{where}: not a guard state hwtune wrote; refused")
    try:
        given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        memo = Memo(**given)
    except TypeError:
        raise ConfigError(f"{where}: not a guard state hwtune wrote; refused") from None
    if memo.remedy not in ("none", "reset", "reboot", "escalate") or not all(
            isinstance(t, (int, float)) for t in memo.remediations + memo.resets):
        raise ConfigError(f"{where}: not a guard state hwtune wrote; refused")
    return memo


def load_memos(store: Store, node: str) -> dict[str, Memo]:
    out = {}
    for target, text in store.target_memos(node):
        try:
            raw = json.loads(text)
        except ValueError:
            raw = None
        out[target] = _check_memo(raw, f"{store.path}: {node} {target}")
    return out


def save_memo(store: Store, db: Any, node: str, target: str, memo: Memo) -> None:
    Store.put_target(db, node, target, memo.state, memo.since, memo.clean, memo.boot,
                     json.dumps(dataclasses.asdict(memo)))


# -- the judgement --------------------------------------------------------------------------

@dataclass
class Context:
    store: Store
    rules: Rules
    actuator: Actuator
    node: str
    act: bool
    snapshot: bool
    remedies: Remedies | None = None
    sleep: Callable[[float], None] = time.sleep
    now: float = 0.0  # the judgement's clock: remedies are timed on it, as the evidence is


def judge(ctx: Context, facts: Facts, *, boot: str, now: float | None = None) -> GuardResult:
    now = time.time() if now is None else now
    return judge_signals(ctx, collect(facts, boot, now), boot=boot, now=now)


def judge_signals(ctx: Context, signals: Signals, *, boot: str, now: float) -> GuardResult:
    """Finish what a killed run left, store the new evidence, decide and act."""
    ctx.now = now
    finished = finish_pending(ctx) if ctx.act else []
    ctx.store.add_events(ctx.node, signals.events)
    ctx.store.add_samples(ctx.node, now, [s for s in signals.samples if s[2] is not None])
    act_.crash_point("events")
    return decide(ctx, signals, boot=boot, now=now, finished=finished)


def decide(ctx: Context, signals: Signals, *, boot: str, now: float, finished: Sequence[Action] = ()) -> GuardResult:
    """The state machine over this boot's stored events and the current readings, then the actions."""
    memos = load_memos(ctx.store, ctx.node)
    hold_key = HOLD if ctx.act else HOLD_SHADOW
    hold = memos.pop(hold_key, Memo())
    memos = {t: m for t, m in memos.items() if not t.startswith("@")}
    events = ctx.store.events(ctx.node, boot)
    lost = {r.target for r in signals.readings if r.kind in ("gpu_lost", "reset_required")}
    answers = {g: signals.gpus_readable and g not in lost for g in signals.gpus}
    found = findings(ctx.rules, events, signals.readings, now, {t: m.resets for t, m in memos.items()}, answers)
    readable = {NODE: signals.log_readable}  # the node's own evidence is the kernel's log
    readable |= dict.fromkeys(signals.gpus, signals.gpus_readable or signals.log_readable)
    j = judge_targets(ctx.rules, memos, hold, found, gpus=signals.gpus, readable=readable, boot=boot, now=now)
    planned = act_.plan(j.intents, ctx.actuator, ctx.node, now, act=ctx.act, snapshot=ctx.snapshot)
    with ctx.store.transaction() as db:
        for target, memo in j.memos.items():
            before = memos.get(target)
            if before is None or before.state != memo.state:
                Store.add_verdict(db, ctx.node, now, target, memo.state, memo.reason)
            save_memo(ctx.store, db, ctx.node, target, memo)
        save_memo(ctx.store, db, ctx.node, hold_key, j.node)
        act_.journal(db, planned, ctx.store)
    act_.crash_point("decided")
    done = list(finished) + [execute(ctx, a) if a.status == PENDING else a for a in planned]
    act_.crash_point("finished")
    gpus = [(g, j.memos[g].state) for g in signals.gpus if g in j.memos]
    state = max((m.state for m in j.memos.values()), key=lambda s: RANK[s])
    return GuardResult("act" if ctx.act else "shadow", ctx.node, state, gpus, done, list(signals.reasons),
                       any(a.status == SKIPPED and "circuit breaker" in a.result for a in done))


# -- execution ------------------------------------------------------------------------------

def execute(ctx: Context, action: Action) -> Action:
    if action.action in ctx.actuator.hold_verbs:
        return _hold(ctx, action)
    if action.action == "resume":
        return act_.run_hold(ctx.store, ctx.actuator, action, on_failure=_still_held(ctx))
    if action.action == "reset":
        return _reset(ctx, action)
    if action.action == "reboot":
        return _reboot(ctx, action)
    return act_.finish(ctx.store, action, SKIPPED, f"nothing to run for {action.action}")


def _hold(ctx: Context, action: Action) -> Action:
    """A hold, under the circuit breaker: checked before (a random wait, a fresh count) and after (a host
    that finds the limit passed once its hold is in lets go again). One that does not stand is
    forgotten, so the next judgement asks again."""
    try:
        if ctx.actuator.in_effect(action.action, action.node):  # this node is already counted as held
            return act_.run_hold(ctx.store, ctx.actuator, action)
    except ActuatorError as exc:
        return _forget_hold(ctx, act_.finish(ctx.store, action, FAILED, exc.message))
    ok, why = breaker.allows(ctx.actuator, ctx.rules.policy, sleep=ctx.sleep)
    if not ok:
        return _forget_hold(ctx, act_.finish(ctx.store, action, SKIPPED, why))
    done = act_.run_hold(ctx.store, ctx.actuator, action, check_first=False)
    if done.status != DONE:
        return _forget_hold(ctx, done)
    if action.action != ctx.actuator.hold_verbs[-1]:
        return done
    over, why = breaker.over_limit(ctx.actuator, ctx.rules.policy)
    if not over:
        return done
    try:
        result = ctx.actuator.run("resume", action.node, action.reason)
    except ActuatorError as exc:
        result = f"could not let go: {exc.message}"
    back = act_.Action(act_.new_id(ctx.now), action.node, ctx.now, action.target, "resume", action.actuator,
                       action.check, action.reason, f"circuit breaker, after the hold: {why}", SKIPPED,
                       f"backed off: {result}", "")
    with ctx.store.transaction() as db:
        act_.journal(db, [back], ctx.store)
    _forget_hold(ctx, done)
    return back


def _still_held(ctx: Context) -> Callable[[Any], None]:
    """A resume the scheduler did not take: the node is still out, so the next judgement asks again
    (else a refused resume would leave the node drained for good)."""
    def write(db: Any) -> None:
        hold = load_memos(ctx.store, ctx.node).get(HOLD, Memo())
        save_memo(ctx.store, db, ctx.node, HOLD, dataclasses.replace(hold, held=True))
    return write


def _forget_hold(ctx: Context, action: Action) -> Action:
    with ctx.store.transaction() as db:
        Store.drop_target(db, ctx.node, HOLD)
    return action


def _remediated(ctx: Context, target: str, now: float, *, reset: bool) -> Callable[[Any], None]:
    """In the commit that marks the remedy done: the target is REMEDIATING, the remedy counted."""
    def write(db: Any) -> None:
        memo = load_memos(ctx.store, ctx.node).get(target, Memo())
        memo = dataclasses.replace(memo, state=REMEDIATING, since=now, remediations=memo.remediations + (now,),
                                   resets=memo.resets + ((now,) if reset else ()))
        save_memo(ctx.store, db, ctx.node, target, memo)
    return write


def _reset(ctx: Context, action: Action) -> Action:
    remedies = ctx.remedies
    if remedies is None:
        return act_.finish(ctx.store, action, SKIPPED, "not executed: no GPU reset here")
    try:
        held = any(ctx.actuator.in_effect(v, ctx.node) for v in ctx.actuator.hold_verbs)
    except ActuatorError as exc:
        return act_.finish(ctx.store, action, FAILED, exc.message)
    if not held:
        return act_.finish(ctx.store, action, SKIPPED, "not executed: the node is not held out by the scheduler")
    busy = remedies.busy(action.target)
    if busy is not False:
        why = "a process holds the GPU" if busy else "cannot tell whether a process holds the GPU"
        return act_.finish(ctx.store, action, SKIPPED, f"not executed: {why}")
    try:
        result = remedies.reset(action.target)
    except ActuatorError as exc:
        return act_.finish(ctx.store, action, FAILED, exc.message)
    now = ctx.now
    if not remedies.verify(action.target):
        return act_.finish(ctx.store, action, FAILED, f"{result}; not verified: the GPU does not answer or asks "
                           "for another reset", _remediated(ctx, action.target, now, reset=False))
    return act_.finish(ctx.store, action, DONE, f"{result}; verified: the GPU answers, no reset pending",
                       _remediated(ctx, action.target, now, reset=True))


def _reboot(ctx: Context, action: Action) -> Action:
    policy = ctx.rules.policy
    if ctx.remedies is None:
        return act_.finish(ctx.store, action, SKIPPED, "not executed: no reboot here")
    if not policy.allow_reboot:
        return act_.finish(ctx.store, action, SKIPPED, "not executed: the policy does not allow reboots "
                           "(allow_reboot = false)")
    now = ctx.now
    key = f"reboots:{ctx.node}"
    recent = [t for t in ctx.store.get_meta(key, []) if isinstance(t, (int, float)) and t >= now - 86400]
    if len(recent) >= policy.reboots_per_day:
        return act_.finish(ctx.store, action, SKIPPED, f"not executed: {len(recent)} reboot(s) in the last day, "
                           f"the policy allows {policy.reboots_per_day}")
    remediated = _remediated(ctx, action.target, now, reset=False)

    def count(db: Any) -> None:  # counted before the reboot is asked for: a crash never lets one more through
        ctx.store.set_meta(db, key, recent + [now])
        remediated(db)
    done = act_.finish(ctx.store, action, DONE, "reboot requested", count)
    try:
        ctx.remedies.reboot()
    except ActuatorError as exc:
        return act_.finish(ctx.store, done, FAILED, exc.message)
    return done


def finish_pending(ctx: Context) -> list[Action]:
    """The actions a killed run journaled and did not finish: each runs now, or is found done."""
    out = []
    for a in act_.pending(ctx.store, ctx.node):
        if a.action == "reset" and ctx.remedies is not None and ctx.remedies.verify(a.target):
            out.append(act_.finish(ctx.store, a, DONE, "found done: the GPU answers, no reset pending",
                                   _remediated(ctx, a.target, ctx.now, reset=True)))
        else:
            out.append(execute(ctx, a))
    return out
