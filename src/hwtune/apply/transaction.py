"""Apply a plan as a transaction, and roll a journal back.

Under the lock: re-plan, journal each step (synced) before its write, verify
each write by reading it back. The first failure undoes every step already
made, in reverse (pipx's `commands/transaction.py` is the shape); a failed
undo is reported with exactly what is still changed. Rollback restores old
values from the journal in reverse, whatever state the journal is in.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from hwtune import hints
from hwtune.apply import hardening, irreversible
from hwtune.apply import journal as jr
from hwtune.apply.errors import ApplyFailed, UndoFailed
from hwtune.apply.kinds import needs_nvml, read_step
from hwtune.apply.model import CHANGE, OK, Plan, Step
from hwtune.apply.nvml import Nvml
from hwtune.apply.plan import plan_apply
from hwtune.apply.steps import Executor, StepFailed
from hwtune.errors import EXIT_USAGE, ConfigError, HwtuneError
from hwtune.host import Host
from hwtune.profile import Profile


@dataclass(frozen=True)
class Check:
    """One row of the verification table: the value read back through a fresh Host."""

    step: Step
    expected: str | None
    now: str | None

    @property
    def ok(self) -> bool:
        return self.now == self.expected

    def to_json(self) -> dict:
        return {"key": self.step.key, "where": self.step.where, "kind": self.step.kind,
                "expected": self.expected, "now": self.now, "ok": self.ok}


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    journal_id: str | None  # None: nothing to change, no journal written
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class RollbackResult:
    journal_ids: tuple[str, ...]
    restored: tuple[Check, ...]  # steps written back, with the value read back
    already: int  # steps that already had their old value
    note: str = ""


def root_key(root: Path) -> str:
    return os.path.realpath(root)


def rollback_hint(journal_id: str, root: str | None) -> str:
    """The rollback command for a journal of `root` (a realpath), as a person pastes it."""
    live = root in (None, "/")
    return hints.command("rollback", journal_id, root=None if live else root, live=live)


def store_for(host: Host) -> jr.JournalStore:
    return jr.JournalStore.for_root(host.root, host.fs)


def make_plan(root: Path, profile: Profile, *, profile_ref: str, persist: bool = False,
              boot: bool = False, allow_lower_hardening: bool = False, allow_irreversible: bool = False) -> Plan:
    nvml = Nvml()
    try:
        return plan_apply(Host(root), profile, profile_ref=profile_ref, persist=persist, boot=boot, nvml=nvml,
                          allow_lower_hardening=allow_lower_hardening, allow_irreversible=allow_irreversible)
    finally:
        nvml.close()


def refuse_lowered_hardening(plan: Plan) -> None:
    """A plan that lowers kernel hardening is applied only with --allow-lower-hardening (exit 2 otherwise)."""
    lowered = plan.lowers_hardening
    if lowered:
        raise ConfigError(f"profile {plan.profile} lowers kernel hardening: "
                          + "; ".join(i.hardening for i in lowered)
                          + f". Refused, nothing was changed: pass {hardening.ALLOW_OPTION} to apply it anyway")


def refuse_irreversible(plan: Plan) -> None:
    """A plan with a change rollback cannot undo, or that may panic the host, is applied only
    with --allow-irreversible (exit 2 otherwise)."""
    risky = plan.irreversible
    if risky:
        raise ConfigError(f"profile {plan.profile}: " + "; ".join(r for i in risky for r in i.risks)
                          + f". Refused, nothing was changed: pass {irreversible.ALLOW_OPTION} to apply it anyway")


def refuse_invalid(plan: Plan) -> None:
    """A plan with an item apply cannot do is not applied at all (exit 4, nothing changed)."""
    if plan.invalid:
        first = plan.invalid[0]
        raise ApplyFailed(f"{first.key} ({first.where}): {first.reason}; nothing was changed")


def apply_profile(root: Path, profile: Profile, *, profile_ref: str, persist: bool = False, boot: bool = False,
                  expected: tuple[Step, ...] | None = None, allow_lower_hardening: bool = False,
                  allow_irreversible: bool = False) -> ApplyResult:
    """Apply under the lock. `expected`: the steps a user confirmed; refuse if the host has changed since."""
    host = Host(root)
    store = store_for(host)
    nvml = Nvml()
    try:
        with store.lock():
            plan = plan_apply(host, profile, profile_ref=profile_ref, persist=persist, boot=boot, nvml=nvml,
                              allow_lower_hardening=allow_lower_hardening, allow_irreversible=allow_irreversible)
            if not allow_lower_hardening:
                refuse_lowered_hardening(plan)
            if not allow_irreversible:
                refuse_irreversible(plan)
            refuse_invalid(plan)
            if expected is not None and _changes(plan.steps) != _changes(expected):
                raise HwtuneError("the host changed since the plan was shown; nothing was changed, "
                                  "run hwtune apply again", EXIT_USAGE)
            journal_id = None
            if plan.steps:
                try:
                    journal = store.create(profile=profile.name, profile_ref=profile_ref, root=root_key(root),
                                           live=host.live, boot=boot, persist=persist)
                except OSError as exc:
                    raise ApplyFailed(f"cannot write the journal in {store.dir}: {exc.strerror}; "
                                      "nothing was changed") from None
                run_steps(journal, Executor(host, host.live, nvml), plan.steps)
                journal_id = journal.id
        return ApplyResult(plan, journal_id, verify_plan(Host(root), plan, nvml))
    finally:
        nvml.close()


def _changes(steps: tuple[Step, ...]) -> list[tuple[str, str | None, str | None]]:
    return [(s.path, s.old, s.new) for s in steps]


def run_steps(journal: jr.Journal, executor: Executor, steps: tuple[Step, ...]) -> None:
    done: list[Step] = []
    for step in steps:
        try:
            journal.add_step(step)
        except OSError as exc:
            fail(journal, executor, done, step, f"cannot write the journal {journal.path}: {exc.strerror}")
        try:
            executor.do(step)
        except (StepFailed, KeyboardInterrupt) as exc:
            reason = exc.reason if isinstance(exc, StepFailed) else "interrupted"
            # the failed step is undone too: a write can fail after it changed something
            fail(journal, executor, done + [step], step, reason)
        done.append(step)
    _set_state(journal, jr.APPLIED)


def fail(journal: jr.Journal, executor: Executor, made: list[Step], step: Step, reason: str) -> None:
    what = f"apply failed at {step.label}: writing {_short(step.new)} to {step.path}: {reason}"
    still = undo_steps(executor, made)
    if still:
        _set_state(journal, jr.UNDO_FAILED, error=what)
        raise UndoFailed(f"{what}; undoing failed too, so the host is partly changed. Still changed:\n"
                         + still_changed_text(still)
                         + f"\nTry again with: {rollback_hint(journal.id, journal.data.get('root'))}")
    _set_state(journal, jr.UNDONE, error=what)
    earlier = len([s for s in made if s is not step])
    raise ApplyFailed(f"{what}; the {earlier} change(s) made before it were undone and the host is as it was "
                      f"(journal {journal.id})")


def _set_state(journal: jr.Journal, state: str, **extra) -> None:
    with suppress(OSError):  # the journal's steps are on disk already; only its summary is stale
        journal.set_state(state, finished=jr.now_iso(), **extra)


def undo_steps(executor: Executor, steps: list[Step]) -> list[tuple[Step, str | None, str]]:
    """Undo in reverse, going on past a failure; returns (step, value now, why) for each one still changed."""
    still = []
    for step in reversed(steps):
        try:
            executor.undo(step)
        except StepFailed as exc:
            still.append((step, executor.current(step), exc.reason))
    return still


def still_changed_text(still: list[tuple[Step, str | None, str]]) -> str:
    return "\n".join(f"  {s.label} {s.path}: now {_short(now)}, was {_short(s.old)} (undo failed: {why})"
                     for s, now, why in still)


def _short(value: str | None) -> str:
    if value is None:
        return "absent"
    if "\n" in value.strip():
        return f"<file of {len(value.splitlines())} lines>"
    return repr(value)


def verify_plan(host: Host, plan: Plan, nvml=None) -> tuple[Check, ...]:
    """Re-read every tunable the plan covers (changed or already so) through a fresh Host."""
    checks = []
    for item in plan.items:
        if item.step is not None and item.status in (CHANGE, OK):
            now = read_step(host, item.step, nvml)
            checks.append(Check(item.step, item.step.new, now))
    return tuple(checks)


# -- rollback -----------------------------------------------------------------

def rollback(root: Path, journal_id: str | None = None) -> RollbackResult:
    host = Host(root)
    store = store_for(host)
    with store.lock():
        journals = [j for j in store.all() if j.data.get("root") == root_key(root)]
        targets, note = select(store, journals, journal_id, root)
        if not targets:
            return RollbackResult((), (), 0, note)
        nvml = Nvml() if needs_nvml(s for j in targets for s in j.steps) else None
        try:
            restored: list[Check] = []
            already = 0
            for journal in targets:
                r, a = rollback_one(Executor(host, host.live, nvml), journal)
                restored += r
                already += a
        finally:
            if nvml is not None:
                nvml.close()
    return RollbackResult(tuple(j.id for j in targets), tuple(restored), already, note)


def select(store: jr.JournalStore, journals: list[jr.Journal], journal_id: str | None,
           root: Path) -> tuple[list[jr.Journal], str]:
    """The journals to roll back, newest first.

    Without an id: the last apply still in effect, together with the boot-time
    re-applies that followed it (so the boot unit it installed goes too).
    """
    open_ = [j for j in journals if j.state in jr.OPEN_STATES]
    if journal_id is None:
        if not open_:
            return [], "nothing to roll back: no apply is in effect"
        chosen = []
        for j in reversed(open_):
            chosen.append(j)
            if not j.boot:
                break
        return chosen, ""
    journal = store.load(journal_id)
    if journal.data.get("root") != root_key(root):
        raise ConfigError(f"journal {journal_id} was applied to {journal.data.get('root')}, not {root_key(root)}")
    if journal.state not in jr.OPEN_STATES:
        return [], f"nothing to roll back: {journal_id} is {journal.state}"
    newer = [j for j in open_ if j.id > journal.id]
    if newer:
        raise HwtuneError(f"{newer[-1].id} was applied after {journal_id} and is still in effect: "
                          f"roll it back first ({rollback_hint(newer[-1].id, root_key(root))})", EXIT_USAGE)
    return [journal], ""


def rollback_one(executor: Executor, journal: jr.Journal) -> tuple[list[Check], int]:
    restored, already, still = [], 0, []
    for step in reversed(journal.steps):
        try:
            if executor.undo(step):
                restored.append(Check(step, step.old, executor.current(step)))
            else:
                already += 1
        except StepFailed as exc:
            still.append((step, executor.current(step), exc.reason))
    if still:
        journal.set_state(jr.ROLLBACK_FAILED, error="; ".join(f"{s.label}: {why}" for s, _, why in still))
        raise UndoFailed(f"rollback of {journal.id} is incomplete. Still changed:\n" + still_changed_text(still)
                         + f"\nTry again with: {rollback_hint(journal.id, journal.data.get('root'))}")
    journal.set_state(jr.ROLLED_BACK, rolled_back=jr.now_iso())
    return restored, already


def history(root: Path) -> list[dict]:
    """Every apply recorded for this root, oldest first; a journal left `applying` with the lock free
    belongs to a process that was killed: it shows as interrupted."""
    host = Host(root)
    store = store_for(host)
    rows = []
    locked = store.is_locked()
    for journal in store.all():
        if journal.data.get("root") != root_key(root):
            continue
        row = journal.summary()
        if row["state"] == jr.APPLYING and not locked:
            row["state"] = "interrupted (roll it back)"
        rows.append(row)
    return rows
