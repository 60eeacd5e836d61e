"""Every action a transaction: journaled before it runs, with its undo; crash-safe; undone by id.

An action is written to the history as `pending`, in the same durable commit
as the decision that asks for it, before the actuator is called; then marked
`done` or `failed` with the actuator's answer. A process killed in between
leaves a `pending` row: the next run asks the actuator whether the effect is
already there (marked done, never run twice) and runs it otherwise (never
lost). Rows are trusted as apply trusts its journals: the history is the
running user's own (guard/store.py), and every row is validated whole before
it is used (`check_row`): an undo runs only a verb from the table below, on a
node name that is a host name. `hwtune guard undo ID` reverses one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from hwtune.errors import ConfigError
from hwtune.guard.actuators import NODE_NAME, Actuator, ActuatorError, make
from hwtune.guard.machine import Intent
from hwtune.guard.signals import NODE
from hwtune.guard.store import HOLD, Store

ACTION_ID = re.compile(r"\d{8}-\d{6}-\d{6}-\d{3}")
TARGET = re.compile(r"node|[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]")
VERBS = ("drain", "cordon", "taint", "reset", "reboot", "escalate", "resume", "none")
# what reverses each; the rest has none. An escalation is undone by a person who took the fault in
# hand (replaced the GPU, say): the target is then judged afresh ("none": no scheduler call).
UNDO = {"drain": "resume", "cordon": "resume", "taint": "resume", "escalate": "none"}
ACTUATORS = ("none", "slurm", "kubernetes", "npd")
SHADOW, PENDING, DONE, FAILED, SKIPPED, UNDONE = "shadow", "pending", "done", "failed", "skipped", "undone"
STATUSES = (SHADOW, PENDING, DONE, FAILED, SKIPPED, UNDONE)
MAX_TEXT = 1024
# Test-only: SIGKILL this process at the named step (events, decided, ran, finished), as
# benchmarks/guard_crash.py and tests/test_guard_crash.py do at every step boundary.
KILL_AT_ENV = "HWTUNE_TEST_GUARD_KILL_AT"
_seq = 0


def crash_point(name: str) -> None:
    import os

    if os.environ.get(KILL_AT_ENV) == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Action:
    id: str
    node: str
    t: float
    target: str
    action: str
    actuator: str
    check: str
    reason: str
    evidence: str
    status: str
    result: str
    undo: str  # the verb that reverses it, "" for none

    @property
    def executed(self) -> bool:
        return self.status in (DONE, UNDONE)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "target": self.target, "action": self.action, "check": self.check,
                "reason": self.reason, "evidence": self.evidence, "executed": self.executed, "result": self.result}


def new_id(now: float) -> str:
    global _seq
    _seq = (_seq + 1) % 1000
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{int(now * 1e6) % 1_000_000:06d}-{_seq:03d}"


def plan(intents: Iterable[Intent], actuator: Actuator, node: str, now: float, *, act: bool,
         snapshot: bool) -> list[Action]:
    """The actions the intents ask for, in this actuator's verbs; pending when they are to run."""
    out = []
    for intent in intents:
        if intent.action == "hold":
            verbs: tuple[str, ...] = actuator.hold_verbs
        elif intent.action == "release":
            verbs = ("resume",)
        else:
            verbs = (intent.action,)
        for verb in verbs:
            status, result = PENDING, ""
            if not act:
                status, result = SHADOW, "shadow: decided, not executed (--act executes)"
            elif verb == "escalate":
                status, result = DONE, "escalated: the GPU or node needs a person (replace); it stays out"
            elif verb in ("reset", "reboot") and snapshot:
                status, result = SKIPPED, "not executed: a snapshot is judged (reset and reboot run on the host)"
            elif actuator.name in ("none", "npd") and verb not in ("reset", "reboot"):
                status, result = SKIPPED, f"not executed: --actuator {actuator.name} reports only"
            out.append(Action(new_id(now), node, now, intent.target, verb, actuator.name, intent.check,
                              intent.reason[:MAX_TEXT], intent.evidence[:MAX_TEXT], status, result,
                              UNDO.get(verb, "")))
    return out


def journal(db: Any, actions: Iterable[Action], store: Store | None = None) -> None:
    """Inside the caller's transaction: the decision and its actions become durable together."""
    actions = list(actions)
    if store is not None:
        _count(store, db, [a for a in actions if a.status != PENDING])
    Store.add_actions(db, [(a.id, a.node, a.t, a.target, a.action, a.actuator, a.check, a.reason, a.evidence,
                            a.status, a.result, a.undo, None if a.status == PENDING else a.t) for a in actions])


def finish(store: Store, action: Action, status: str, result: str, extra=None) -> Action:
    """Mark an action's outcome durably; `extra(db)` writes what goes with it in the same commit."""
    done = replace(action, status=status, result=result[:MAX_TEXT])
    with store.transaction() as db:
        Store.set_action(db, done.id, done.status, done.result, time.time())
        _count(store, db, [done])
        if extra is not None:
            extra(db)
    return done


def _count(store: Store, db: Any, actions: list[Action]) -> None:
    """actions_total by action and status: a counter that only grows (for the metrics)."""
    counts: dict[str, int] = {}
    for a in actions:
        counts[f"{a.node}|{a.action}|{a.status}"] = counts.get(f"{a.node}|{a.action}|{a.status}", 0) + 1
    if counts:
        store.bump(db, "actions_total", counts)


def check_row(row: tuple) -> Action:
    """A history row as an Action, validated whole (the trust rules of apply's journals)."""
    if len(row) < 12:
        raise ConfigError("an action row of the guard history is not hwtune's: refused")
    a = Action(*row[:12])
    problems = [
        (isinstance(a.id, str) and ACTION_ID.fullmatch(a.id), "id"),
        (isinstance(a.node, str) and NODE_NAME.fullmatch(a.node), "node"),
        (isinstance(a.t, (int, float)), "time"),
        (isinstance(a.target, str) and TARGET.fullmatch(a.target), "target"),
        (a.action in VERBS, "action"), (a.actuator in ACTUATORS, "actuator"), (a.status in STATUSES, "status"),
        (a.undo == UNDO.get(a.action, ""), "undo"),
        (all(isinstance(v, str) and len(v) <= MAX_TEXT for v in (a.check, a.reason, a.evidence, a.result)), "text"),
    ]
    bad = [name for ok, name in problems if not ok]
    if bad:
        raise ConfigError(f"action {str(a.id)[:40]!r} of the guard history: {bad[0]} is not valid; refused, "
                          "nothing was run (hwtune trusts only its own state; see docs/security.md)")
    return a


_COLUMNS = "id,node,t,target,action,actuator,check_id,reason,evidence,status,result,undo"


def load(store: Store, action_id: str) -> Action:
    if not ACTION_ID.fullmatch(action_id):
        raise ConfigError(f"'{action_id}' is not a guard action id (see `hwtune guard history`)")
    rows = store.action_rows(_COLUMNS, action_id=action_id)
    if not rows:
        raise ConfigError(f"no guard action '{action_id}' in {store.path}")
    return check_row(rows[0])


def history(store: Store, node: str | None = None, limit: int = 1000) -> list[Action]:
    return [check_row(r) for r in store.action_rows(_COLUMNS, node=node, limit=limit)]


def pending(store: Store, node: str) -> list[Action]:
    return [a for a in history(store, node, 100_000) if a.status == PENDING]


def run_hold(store: Store, actuator: Actuator, action: Action, *, check_first: bool = True,
             on_failure=None) -> Action:
    """A scheduler verb, run once: its effect already in place (a killed run did it) counts as done.
    `on_failure(db)` writes what a failure means in the commit that records it."""
    try:
        if check_first and actuator.in_effect(action.action, action.node):
            return finish(store, action, DONE, "already in effect (a run before this one did it)")
        result = actuator.run(action.action, action.node, action.reason)
        crash_point("ran")
        return finish(store, action, DONE, result)
    except ActuatorError as exc:
        return finish(store, action, FAILED, exc.message, on_failure)


def undo(store: Store, action_id: str, actuator: Actuator | None = None) -> Action:
    """Reverse one executed action with the verb its row names, through the actuator it ran on."""
    action = load(store, action_id)
    if not action.undo:
        raise ConfigError(f"action {action_id} ({action.action}) has nothing to undo")
    if action.status != DONE:
        raise ConfigError(f"action {action_id} is {action.status}, not done: nothing to undo")
    if action.undo == "none":
        result = "escalation cleared: the target is judged afresh from the next judgement on"
    else:
        actuator = actuator or make(action.actuator)
        try:
            result = actuator.run(action.undo, action.node, action.reason)
        except ActuatorError as exc:
            raise ActuatorError(f"undo of {action_id} failed: {exc.message}") from None
    reverse = Action(new_id(time.time()), action.node, time.time(), action.target, action.undo, action.actuator,
                     action.check, f"undo of {action_id}", action.reason, DONE, result, "")
    with store.transaction() as db:
        journal(db, [reverse])
        Store.set_action(db, action_id, UNDONE)
        if action.target == NODE and action.undo != "none":  # the hold is gone: a later quarantine holds again
            Store.drop_target(db, action.node, HOLD)
        if action.undo == "none":
            Store.drop_target(db, action.node, action.target)
    return reverse
